// The identity of a log: a random id written once, when the log is created, so that a read
// model can tell the log it was built from (a fresh data dir, or another server, is another log
// even where its positions look alike). SQLite keeps it in a meta table of its file; a store
// without one (EventStoreDB) keeps it in a stream of its own, outside every projection's filter.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { NO_STREAM, WrongExpectedVersionError, type EventStore, type RecordedEvent } from './event-store.ts';

/** Not a `<category>-<id>` of ours (events/streams.ts), so projections and the events API never see it. */
export const LOG_IDENTITY_STREAM = 'authlogLog-identity';
export const LOG_IDENTITY_EVENT = 'LogIdentityCreated';

const logIdentityData = z.strictObject({ logId: z.string().min(1).max(200) });

function identityOf(events: readonly RecordedEvent[]): string | undefined {
  const first = events[0];
  if (!first) return undefined;
  const parsed = logIdentityData.safeParse(first.data);
  // Only we write this stream; anything else there is a log we must not guess about.
  if (first.type !== LOG_IDENTITY_EVENT || !parsed.success) throw new Error(`${LOG_IDENTITY_STREAM} holds ${first.type}, not a log identity`);
  return parsed.data.logId;
}

/**
 * The identity kept in the log's identity stream, written by the first caller. Concurrent first
 * starts agree: the append expects NO_STREAM, so one wins and the others read the winner's back.
 */
export async function logIdentityInStream(store: Pick<EventStore, 'append' | 'readStream'>): Promise<string> {
  const existing = identityOf(await store.readStream(LOG_IDENTITY_STREAM));
  if (existing !== undefined) return existing;
  const logId = randomUUID();
  try {
    await store.append(
      LOG_IDENTITY_STREAM,
      [{ id: randomUUID(), type: LOG_IDENTITY_EVENT, data: { logId }, metadata: { occurredAt: new Date().toISOString(), actor: { kind: 'system', id: 'log-identity' } } }],
      NO_STREAM,
    );
    return logId;
  } catch (error) {
    if (!(error instanceof WrongExpectedVersionError)) throw error;
    const winner = identityOf(await store.readStream(LOG_IDENTITY_STREAM));
    if (winner === undefined) throw new Error(`${LOG_IDENTITY_STREAM} exists but could not be read back`, { cause: error });
    return winner;
  }
}

/** A new log's identity (SQLite writes it into its meta table). */
export const newLogIdentity = (): string => randomUUID();
