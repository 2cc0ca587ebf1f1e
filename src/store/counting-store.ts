// The event-store port with every successful append reported (metrics), so that counting does
// not depend on which adapter is behind it nor on who appends (command handler or not).
import type { EventStore, NewEvent } from './event-store.ts';

export function countingAppends(store: EventStore, onAppended: (events: readonly NewEvent[]) => void): EventStore & { readonly unwrapped: EventStore } {
  return {
    /** The adapter itself, for tools that read its own figures (the benchmark's commit time). */
    unwrapped: store,
    async append(streamId, events, expected) {
      const result = await store.append(streamId, events, expected);
      onAppended(events);
      return result;
    },
    readStream: (streamId) => store.readStream(streamId),
    readAll: (options) => store.readAll(options),
    headPosition: (filter) => store.headPosition(filter),
    subscribeToAll: (options, handler) => store.subscribeToAll(options, handler),
    logIdentity: () => store.logIdentity(),
    close: () => store.close(),
  };
}
