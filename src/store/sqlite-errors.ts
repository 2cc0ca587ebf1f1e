// How SQLite's errors reach the callers of the event store: "the file cannot take this request
// right now" becomes StoreUnavailableError (HTTP 503, retry), anything else stays what it is.
import Database from 'better-sqlite3';
import { StoreUnavailableError } from './event-store.ts';

// SQLite error codes meaning "the file cannot take this request right now", as opposed to a bug
// in the request. Extended codes (SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT...) share the prefix.
const UNAVAILABLE_CODES = [
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_READONLY',
  'SQLITE_CANTOPEN',
  'SQLITE_PROTOCOL',
  'SQLITE_NOMEM',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_NOLFS',
];

export function sqliteCode(error: unknown): string | undefined {
  if (error instanceof Database.SqliteError) return error.code;
  return undefined;
}

/** Another connection (usually another process) holds the write lock: worth waiting for. */
export function isBusy(error: unknown): boolean {
  const code = sqliteCode(error);
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

export function toStoreError(error: unknown, doing: string): unknown {
  const code = sqliteCode(error);
  if (code && UNAVAILABLE_CODES.some((c) => code.startsWith(c))) {
    return new StoreUnavailableError(`SQLite event store: ${doing} failed (${code})`, { cause: error });
  }
  if (code === 'SQLITE_CONSTRAINT_UNIQUE') {
    // Only event_id can clash here (revisions are computed under the write lock): an append
    // repeating an id, or reusing one already recorded. Retrying cannot help, so not a conflict.
    return new Error(`SQLite event store: ${doing} failed: an event id is repeated or already recorded`, { cause: error });
  }
  return error;
}
