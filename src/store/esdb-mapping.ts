// Translations between the EventStore port and @eventstore/db-client's types and errors.
import {
  ANY as ESDB_ANY,
  CancelledError,
  DeadlineExceededError,
  NO_STREAM as ESDB_NO_STREAM,
  NotLeaderError,
  STREAM_EXISTS as ESDB_STREAM_EXISTS,
  TimeoutError,
  UnavailableError,
  convertToCommandError,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AppendExpectedRevision,
  type Filter,
  type JSONType,
  type Position,
  type RecordedEvent as EsdbRecordedEvent,
} from '@eventstore/db-client';
import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  StoreUnavailableError,
  StreamDeletedError,
  WrongExpectedVersionError,
  matchesFilter,
  type AllFilter,
  type EventMetadata,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
} from './event-store.ts';

/** Positions are u64 on the wire; the server sends u64::MAX (-1 as a long) for "unknown". */
const MAX_KNOWN_POSITION = (1n << 63n) - 1n;

export function toEsdbExpected(expected: ExpectedRevision): AppendExpectedRevision {
  if (expected === NO_STREAM) return ESDB_NO_STREAM;
  if (expected === STREAM_EXISTS) return ESDB_STREAM_EXISTS;
  if (expected === ANY) return ESDB_ANY;
  return expected;
}

export function toEventData(event: NewEvent) {
  return jsonEvent({
    id: event.id,
    type: event.type,
    // The client only JSON.stringifies data; JSONType is narrower than what JSON can hold.
    data: (event.data ?? null) as JSONType,
    metadata: { ...event.metadata },
  });
}

export function toRecorded(event: EsdbRecordedEvent): RecordedEvent {
  return {
    id: event.id,
    type: event.type,
    data: event.data,
    metadata: toMetadata(event.metadata, event.created),
    streamId: event.streamId,
    revision: event.revision,
    // Servers before 22.x may leave stream reads without a position; -1n says "unknown".
    position: knownPosition(event.position?.commit) ?? -1n,
  };
}

/** Metadata this adapter wrote comes back as written; anything else gets at least `occurredAt`. */
export function toMetadata(raw: unknown, created: Date): EventMetadata {
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !(raw instanceof Uint8Array)) {
    const metadata = raw as Partial<EventMetadata>; // a JSON object; written from EventMetadata by append()
    return typeof metadata.occurredAt === 'string' ? (metadata as EventMetadata) : { ...metadata, occurredAt: created.toISOString() };
  }
  return { occurredAt: created.toISOString() };
}

export function knownPosition(commit: bigint | undefined): bigint | undefined {
  return commit === undefined || commit < 0n || commit > MAX_KNOWN_POSITION ? undefined : commit;
}

export function accepts(event: { streamId: string; type: string }, filter: AllFilter | undefined): boolean {
  return !event.type.startsWith('$') && matchesFilter(event.streamId, event.type, filter);
}

/**
 * How often a filtered subscription sends a checkpoint, in search windows (32 events on the
 * server's default window): every 256 events looked at, matching or not.
 */
const CHECKPOINT_INTERVAL = 8;

/**
 * The part of the filter the server can apply (one dimension); `accepts` applies the whole of it
 * again. `checkpointReached` hears the server's checkpoints.
 */
export function serverFilter(filter: AllFilter | undefined, checkpointReached?: (position: Position) => Promise<void>): Filter {
  const checkpoints = checkpointReached ? { checkpointInterval: CHECKPOINT_INTERVAL, checkpointReached: (_: unknown, position: Position) => checkpointReached(position) } : {};
  if (filter?.streamPrefixes && filter.streamPrefixes.length > 0) return streamNameFilter({ prefixes: [...filter.streamPrefixes], ...checkpoints });
  if (filter?.eventTypes && filter.eventTypes.length > 0) return eventTypeFilter({ prefixes: [...filter.eventTypes], ...checkpoints });
  return excludeSystemEvents(checkpoints);
}

export function isAfter(position: Position, after: Position | undefined): boolean {
  if (!after) return true;
  return position.commit > after.commit || (position.commit === after.commit && position.prepare > after.prepare);
}

export function toStoreError(error: unknown, what: string): unknown {
  if (error instanceof StoreUnavailableError || error instanceof WrongExpectedVersionError || error instanceof StreamDeletedError) return error;
  if (!(error instanceof Error)) return error;
  // An HTTP/2 stream or session torn down under a call (gRPC INTERNAL with RST_STREAM or a closed
  // session) is the connection failing, not the request: unavailable, to be retried.
  if ((error as { code?: unknown }).code === 13 && /RST_STREAM|Session closed|Stream removed|Connection dropped/i.test(error.message)) {
    return new StoreUnavailableError(`EventStoreDB ${what} failed: the connection broke (${error.message})`, { cause: error });
  }
  // Classifies raw gRPC errors too (a first call to a refused port fails with a bare code 14).
  const converted = convertToCommandError(error);
  if (
    converted instanceof UnavailableError ||
    converted instanceof DeadlineExceededError ||
    converted instanceof TimeoutError ||
    converted instanceof CancelledError ||
    converted instanceof NotLeaderError
  ) {
    return new StoreUnavailableError(`EventStoreDB ${what} failed: ${converted.message}`, { cause: error });
  }
  return converted;
}

export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
