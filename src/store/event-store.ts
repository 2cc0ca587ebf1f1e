// The event store port. Shaped like EventStoreDB so that the EventStoreDB adapter is a thin
// translation and the embedded SQLite adapter behaves the same way: streams with 0-based
// revisions, one global position ordering everything, optimistic concurrency on append.

import type { Personal } from '../crypto/sealed.ts';
import type { Actor } from '../events/actor.ts';
import { BackendUnavailableError } from '../backend-unavailable.ts';

/** Metadata every event carries: who caused it, from where, and when. */
export interface EventMetadata {
  projectId?: string;
  actor?: Actor;
  requestId?: string;
  /** The client's address and user agent: plain as a command hands them over, sealed in the log (store/sealing-store.ts). */
  ip?: Personal;
  userAgent?: Personal;
  /** ISO 8601, from the injected clock of the process that decided. */
  occurredAt: string;
  causationId?: string;
  correlationId?: string;
  /**
   * The fingerprint (crypto/secret-id.ts) of the server secret current in the appending process:
   * the secret under which every digest the event introduces was made. Absent on events written
   * before it was recorded.
   */
  secretId?: string;
  /** The tamper-evidence link to the stream's previous event (integrity/event-hash.ts), set by integrity/chaining-store.ts. */
  chain?: { v: 1; prev: string | null };
}

/** An event as the deciding code hands it to the store. */
export interface NewEvent {
  /** uuid; a deterministic id lets a retried append be recognised. */
  id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

/** An event as read back: the new event plus where it landed. */
export interface RecordedEvent extends NewEvent {
  streamId: string;
  /** 0-based revision within the stream. */
  revision: bigint;
  /** Global position in `$all`; strictly increasing in commit order. */
  position: bigint;
}

export const NO_STREAM = 'no_stream' as const;
export const STREAM_EXISTS = 'stream_exists' as const;
export const ANY = 'any' as const;

/** What the appender believes about the stream: its last revision, or a coarse state. */
export type ExpectedRevision = typeof NO_STREAM | typeof STREAM_EXISTS | typeof ANY | bigint;

export interface AppendResult {
  /** Revision of the last event appended. */
  nextExpectedRevision: bigint;
  /** Global position of the last event appended. */
  position: bigint;
}

/** Filter over `$all`: by stream-name prefix and/or event-type prefix (both optional, ANDed). */
export interface AllFilter {
  streamPrefixes?: readonly string[];
  eventTypes?: readonly string[];
}

export interface ReadAllOptions {
  /** Exclusive: events with position > fromPosition. Omitted = from the start. */
  fromPosition?: bigint;
  filter?: AllFilter;
  maxCount?: number;
  /**
   * A hint: the filter's event types are few among many (the impersonation audit's three session
   * types in a log of everything). The store may then read them through an index on type
   * (SQLite) instead of looking at every position. The same events in the same order as without
   * the hint, except that the read may leave out events appended after it began. Meaningless
   * without `filter.eventTypes`; a store is free to ignore it.
   */
  byType?: boolean;
}

export interface SubscriptionHandler {
  /** Called once per event, in position order; the next call waits for the returned promise. */
  onEvent(event: RecordedEvent): Promise<void> | void;
  /** Called once, when the subscription has delivered everything that existed when it started. */
  onCaughtUp?(): void;
  /**
   * Called when the store has looked at every event up to `position` and none after the last one
   * delivered matched the filter: the subscriber may record `position` as its checkpoint, so that
   * a long stretch of other categories does not leave it behind. Awaited like onEvent; positions
   * only grow; a store may never call it.
   */
  onCheckpoint?(position: bigint): Promise<void> | void;
  /** Called when the subscription stops for a reason other than `close()`. */
  onError?(error: Error): void;
}

export interface Subscription {
  close(): Promise<void>;
}

/** What an appender may already know, to spare the store a read. */
export interface AppendHints {
  /**
   * The stream's last event as the appender read it (the command handler has it): the chaining
   * store links the new events to it instead of reading it again. Used only when its revision is
   * the expected one; if it was not really the last, the revision check refuses the append.
   */
  lastEvent?: RecordedEvent;
}

export interface EventStore {
  append(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision, hints?: AppendHints): Promise<AppendResult>;
  /** All events of one stream in revision order; an empty array when the stream does not exist. */
  readStream(streamId: string): Promise<RecordedEvent[]>;
  /** Events of `$all` in position order, lazily, so that 1M events never sit in memory. */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /** The position of the newest event in `$all` (matching the filter), or -1n when there is none. */
  headPosition(filter?: AllFilter): Promise<bigint>;
  /** Catch-up then live. Delivers events with position > fromPosition, with no gap and no duplicate. */
  subscribeToAll(options: { fromPosition?: bigint; filter?: AllFilter }, handler: SubscriptionHandler): Subscription;
  /**
   * The log's identity: a random id written once, when the log was created (log-identity.ts).
   * A copy of the log (a backup) has the same one; a new log has another.
   */
  logIdentity(): Promise<string>;
  close(): Promise<void>;
}

/** The stream was not at the revision the appender expected. Retry after reloading. */
export class WrongExpectedVersionError extends Error {
  override readonly name = 'WrongExpectedVersionError';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual: bigint | typeof NO_STREAM,
  ) {
    super(`Stream ${streamId}: expected revision ${String(expected)}, actual ${String(actual)}`);
  }
}

/**
 * The stream was tombstoned (hard-deleted, EventStoreDB): it can never be appended to again. A
 * tombstoned or soft-deleted stream reads as missing (readStream answers []); after a soft delete
 * an append brings the stream back and its revisions go on.
 */
export class StreamDeletedError extends Error {
  override readonly name = 'StreamDeletedError';
  constructor(readonly streamId: string) {
    super(`Stream ${streamId} is deleted`);
  }
}

/** The store could not be reached or did not answer in time. Nothing was written. */
export class StoreUnavailableError extends BackendUnavailableError {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('event_store', message, options);
  }
}

/** True when the stream, at `actual` (-1n for none), satisfies `expected`. */
export function revisionMatches(expected: ExpectedRevision, actual: bigint): boolean {
  if (expected === ANY) return true;
  if (expected === NO_STREAM) return actual === -1n;
  if (expected === STREAM_EXISTS) return actual >= 0n;
  return expected === actual;
}

export function matchesFilter(streamId: string, type: string, filter: AllFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.streamPrefixes && !filter.streamPrefixes.some((p) => streamId.startsWith(p))) return false;
  if (filter.eventTypes && !filter.eventTypes.some((t) => type.startsWith(t))) return false;
  return true;
}
