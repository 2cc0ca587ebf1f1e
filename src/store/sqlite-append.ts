// One append, inside the write transaction GroupCommit holds: the stream's revision checked, a
// retried append recognised by its first event's id (EventStoreDB's idempotent append), the
// events inserted with their revisions; positions are the rowids SQLite assigns in commit order.
import type Database from 'better-sqlite3';
import { NO_STREAM, WrongExpectedVersionError, revisionMatches, type AppendResult, type ExpectedRevision, type NewEvent } from './event-store.ts';

/** The store's cache of prepared statements, by their text. */
export type StatementOf = (sql: string) => Database.Statement;

/** Appends `events` to `streamId` if it stands at `expected`; throws WrongExpectedVersionError otherwise. */
export function appendLocked(statement: StatementOf, streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): AppendResult {
  const currentRow = statement('SELECT max(revision) AS revision FROM events WHERE stream_id = ?').get(streamId) as
    | { revision: bigint | null }
    | undefined;
  const current = currentRow?.revision ?? -1n;

  const first = events[0];
  if (first) {
    const earlier = statement('SELECT stream_id, revision FROM events WHERE event_id = ?').get(first.id) as
      | { stream_id: string; revision: bigint }
      | undefined;
    if (earlier) return recognizeRetry(statement, streamId, events, expected, earlier, current);
  }

  if (!revisionMatches(expected, current)) {
    throw new WrongExpectedVersionError(streamId, expected, current < 0n ? NO_STREAM : current);
  }
  if (!first) {
    // EventStoreDB answers an empty append with the stream's state after checking the revision.
    return { nextExpectedRevision: current, position: streamLastPosition(statement, streamId) };
  }

  const insert = statement(
    'INSERT INTO events (stream_id, revision, event_id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)',
  );
  let revision = current;
  let position = -1n;
  for (const event of events) {
    revision += 1n;
    const run = insert.run(
      streamId,
      revision,
      event.id,
      event.type,
      JSON.stringify(event.data ?? null),
      JSON.stringify(event.metadata),
    );
    position = BigInt(run.lastInsertRowid);
  }
  return { nextExpectedRevision: revision, position };
}

/**
 * The first event's id is already recorded: a retry of an append that did commit (the caller
 * timed out, or crashed before seeing the answer) gets the original result, as EventStoreDB's
 * idempotent append does. Anything else reusing the id is refused.
 */
function recognizeRetry(
  statement: StatementOf,
  streamId: string,
  events: readonly NewEvent[],
  expected: ExpectedRevision,
  earlier: { stream_id: string; revision: bigint },
  current: bigint,
): AppendResult {
  if (earlier.stream_id !== streamId) {
    throw new Error(`SQLite event store: event id ${events[0]?.id} is already recorded in stream ${earlier.stream_id}`);
  }
  const recorded = statement(
    'SELECT event_id, revision, position FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?',
  ).all(streamId, earlier.revision, events.length) as { event_id: string; revision: bigint; position: bigint }[];
  const sameEvents = recorded.length === events.length && recorded.every((row, i) => row.event_id === events[i]?.id);
  const last = recorded[recorded.length - 1];
  if (sameEvents && last && revisionMatches(expected, earlier.revision - 1n)) {
    return { nextExpectedRevision: last.revision, position: last.position };
  }
  if (!revisionMatches(expected, current)) {
    throw new WrongExpectedVersionError(streamId, expected, current < 0n ? NO_STREAM : current);
  }
  // The stream is where the caller expects it, so reloading would not help: the id is reused.
  throw new Error(`SQLite event store: event id ${events[0]?.id} is already recorded in stream ${streamId}`);
}

function streamLastPosition(statement: StatementOf, streamId: string): bigint {
  const row = statement('SELECT max(position) AS position FROM events WHERE stream_id = ?').get(streamId) as
    | { position: bigint | null }
    | undefined;
  return row?.position ?? -1n;
}
