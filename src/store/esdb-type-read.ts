// Reading `$all` for a few event types on EventStoreDB. Client 6.x reads `$all` with no server-side
// filter but subscribes with one, so the narrow read is a catch-up subscription with the server's
// event-type filter, from the read's position to the newest matching event there was when the read
// began, then unsubscribed: the server sends the matching events only, not the whole log. That end
// is known in advance (a backwards read finds it) because the subscription itself never says it
// is done: servers before 23.10 send no caught-up, and filtered checkpoints fall on window bounds.
import { START, eventTypeFilter, type EventStoreDBClient } from '@eventstore/db-client';
import { StoreUnavailableError, type AllFilter, type RecordedEvent } from './event-store.ts';
import { accepts, toRecorded, toStoreError } from './esdb-mapping.ts';

export interface TypeRead {
  client: EventStoreDBClient;
  filter: AllFilter;
  /** Exclusive; undefined = from the start. */
  after: bigint | undefined;
  /** The position of the newest event matching the filter when the read began: the read ends there. */
  last: bigint;
  /** Waits for one step of the subscription under the store's call timeout. */
  step: <T>(what: string, next: Promise<T>) => Promise<T>;
}

export async function* readByTypeOnServer({ client, filter, after, last, step }: TypeRead): AsyncGenerator<RecordedEvent> {
  if (!filter.eventTypes || filter.eventTypes.length === 0) throw new Error('a read by type needs event types');
  if (last < 0n || (after !== undefined && last <= after)) return;
  const what = 'read of $all by type';
  const subscription = client.subscribeToAll({
    fromPosition: after === undefined ? START : { commit: after, prepare: after },
    filter: eventTypeFilter({ prefixes: [...filter.eventTypes] }),
    resolveLinkTos: false,
  });
  const events = subscription[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await step(what, events.next());
      if (next.done) throw new StoreUnavailableError(`EventStoreDB ended the ${what} before position ${last}`);
      const event = next.value.event;
      if (!event) continue;
      const position = event.position.commit;
      if (after !== undefined && position <= after) continue;
      if (position > last) return;
      if (accepts(event, filter)) yield toRecorded(event);
      if (position === last) return;
    }
  } catch (error) {
    throw toStoreError(error, what);
  } finally {
    await subscription.unsubscribe().catch(() => {});
  }
}
