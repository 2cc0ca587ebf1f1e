// The event-store port with every successful append reported (metrics), so that counting does
// not depend on which adapter is behind it nor on who appends (command handler or not).
import type { EventStore, NewEvent } from './event-store.ts';
import { withAppend, type DecoratedStore } from './decorated-store.ts';

export function countingAppends(store: EventStore, onAppended: (events: readonly NewEvent[]) => void): DecoratedStore {
  return withAppend(store, async (streamId, events, expected, hints) => {
    const result = await store.append(streamId, events, expected, hints);
    onAppended(events);
    return result;
  });
}
