// Retention on EventStoreDB: an ephemeral stream (events/ephemeral-streams.ts) gets, when it is
// created, the stream metadata `$maxAge` = its lifetime + the grace, so that the server stops
// returning its events after that and a scavenge removes them. The domain never sees this: it
// wraps the store's append, and only for the ephemeral categories (never a session, user,
// project or the log's identity stream).
//
// Why `$maxAge` counts from each event's creation and that is enough: every later event of such a
// stream (a completion, a claim, a wrong guess) is appended before its expiry, since the deciders
// refuse anything after; so the whole stream has aged out at most one lifetime after its first
// event, and any part still readable then carries an expiry two days past, which every decider
// refuses.
//
// A stream whose events have all aged out still exists on the server, at its last revision: a
// login code drawn again (reservation streams are per code digest) reads as empty, so the handler
// appends expecting no stream and the server refuses. That is translated here: when the stream
// still reads as empty, the append is made again at the revision the server reported, and `$tb`
// set past the aged-out events so that the new `$maxAge` does not bring them back.
import { NO_STREAM, WrongExpectedVersionError, type AppendHints, type EventStore, type ExpectedRevision, type NewEvent } from './event-store.ts';
import type { StreamRetention } from './stream-retention.ts';
import { expiryOf, isEphemeralStream } from '../events/ephemeral-streams.ts';
import { withAppend } from './decorated-store.ts';

export interface EsdbRetentionOptions {
  graceMs: number;
  now?: () => number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export function retainingEphemeralStreams<S extends EventStore & StreamRetention>(store: S, options: EsdbRetentionOptions): EventStore {
  const now = options.now ?? Date.now;
  const maxAgeOf = (events: readonly NewEvent[]): number | undefined => {
    const expiries = events.map((e) => expiryOf(e.data)).filter((e): e is number => e !== undefined);
    if (expiries.length === 0) return undefined;
    return Math.max(1, Math.ceil((Math.max(...expiries) - now() + options.graceMs) / 1000));
  };
  const append = async (streamId: string, events: readonly NewEvent[], expected: ExpectedRevision, hints?: AppendHints) => {
    if (!isEphemeralStream(streamId) || expected !== NO_STREAM || events.length === 0) return store.append(streamId, events, expected, hints);
    let result;
    /** Set when the stream is made again over aged-out events: those must stay unreadable. */
    let truncateBefore: number | undefined;
    try {
      result = await store.append(streamId, events, expected);
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError) || error.actual === NO_STREAM) throw error;
      // Aged out, not taken: it reads as no stream, so to the domain it is none.
      if ((await store.readStream(streamId)).length > 0) throw error;
      result = await store.append(streamId, events, error.actual);
      truncateBefore = Number(error.actual) + 1;
    }
    const maxAge = maxAgeOf(events);
    if (maxAge !== undefined) {
      // The write is done and durable: a failure here costs retention, not the request. A new
      // `$maxAge` alone would bring the aged-out events back into reads: `$tb` keeps them out.
      await store.setStreamMetadata(streamId, { maxAge, ...(truncateBefore !== undefined ? { truncateBefore } : {}) }).catch((error: unknown) =>
        options.log?.('could not set the retention of an ephemeral stream', { streamId, error: error instanceof Error ? error.message : String(error) }),
      );
    }
    return result;
  };
  return withAppend(store, append);
}
