// What only the EventStoreDB adapter offers beside the port: deleting streams and setting their
// retention metadata (esdb-retention.ts, user erasure). The SQLite store has no deletes: its log
// is append-only.
import type { ExpectedRevision } from './event-store.ts';

/** Stream metadata the server applies on read (the rest of EventStoreDB's keys are not used here). */
export interface StreamRetentionMetadata {
  /** Seconds an event stays readable. */
  maxAge?: number;
  maxCount?: number;
  /** Revisions before this one no longer read. */
  truncateBefore?: number;
}

/** The server checks a delete against an exact revision, NO_STREAM or ANY (no STREAM_EXISTS). */
export type DeleteExpectedRevision = Exclude<ExpectedRevision, 'stream_exists'>;

/**
 * What only the EventStoreDB adapter offers, for retention and erasure: not on the port, because
 * the SQLite store has no deletes (its log is append-only).
 */
export interface StreamRetention {
  /** Soft delete: the stream reads as missing until it is appended to again; revisions go on. */
  deleteStream(streamId: string, expected?: DeleteExpectedRevision): Promise<void>;
  /** Hard delete: the stream reads as missing and refuses every append with StreamDeletedError, for good. */
  tombstoneStream(streamId: string, expected?: DeleteExpectedRevision): Promise<void>;
  setStreamMetadata(streamId: string, metadata: StreamRetentionMetadata): Promise<void>;
}
