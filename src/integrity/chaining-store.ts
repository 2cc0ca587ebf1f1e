// The event-store port with every appended event linked to its stream's previous event (its hash
// in `metadata.chain`, integrity/event-hash.ts). It sits below the sealing store, so the hash is
// over what is stored: ciphertext, the secret id, everything.
//
// The previous event comes from the appender's hint when it has one (the command handler read the
// stream to decide): no extra read. It is trusted only when its revision is the expected one, and
// then the store's own revision check makes it true: if another writer got in first, the append is
// refused and the handler reloads. Without a hint (NO_STREAM needs none; ANY and STREAM_EXISTS, or
// a caller that read nothing) the stream's last event is read here, and a coarse expectation is
// narrowed to that exact revision, retried a few times if another writer wins meanwhile: a link
// must never point at an event that is not the real predecessor.
import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  WrongExpectedVersionError,
  type AppendHints,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
} from '../store/event-store.ts';
import { withAppend, type DecoratedStore } from '../store/decorated-store.ts';
import { eventHash } from './event-hash.ts';

const COARSE_ATTEMPTS = 8;

/** The events, each linked to the one before it (the first to `previous`). */
export function linkEvents(streamId: string, previous: RecordedEvent | undefined, events: readonly NewEvent[]): NewEvent[] {
  let prev = previous ? eventHash(previous) : null;
  return events.map((event) => {
    const { chain: _stale, ...metadata } = event.metadata;
    const linked: NewEvent = { ...event, metadata: { ...metadata, chain: { v: 1, prev } } };
    prev = eventHash({ ...linked, streamId });
    return linked;
  });
}

export function chainingAppends(store: EventStore): DecoratedStore {
  const lastOf = async (streamId: string): Promise<RecordedEvent | undefined> => (await store.readStream(streamId)).at(-1);
  return withAppend(store, async (streamId: string, events: readonly NewEvent[], expected: ExpectedRevision, hints?: AppendHints) => {
    if (events.length === 0) return store.append(streamId, events, expected);
    if (expected === NO_STREAM) return store.append(streamId, linkEvents(streamId, undefined, events), NO_STREAM);
    if (typeof expected === 'bigint') {
      const hinted = hints?.lastEvent;
      const previous = hinted && hinted.streamId === streamId && hinted.revision === expected ? hinted : await lastOf(streamId);
      return store.append(streamId, linkEvents(streamId, previous, events), expected);
    }
    for (let attempt = 1; ; attempt++) {
      const previous = await lastOf(streamId);
      const exact: ExpectedRevision = previous ? previous.revision : expected === ANY ? NO_STREAM : STREAM_EXISTS;
      try {
        return await store.append(streamId, linkEvents(streamId, previous, events), exact);
      } catch (error) {
        // STREAM_EXISTS on a missing stream is the caller's conflict, not a race of ours.
        if (!(error instanceof WrongExpectedVersionError) || exact === STREAM_EXISTS || attempt >= COARSE_ATTEMPTS) throw error;
      }
    }
  });
}
