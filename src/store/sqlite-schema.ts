// Opening the SQLite file of the log: its pragmas (WAL, a synced commit, the lock waits, an
// optional size cap) and its schema, created or checked in one transaction with the log's identity.
import Database from 'better-sqlite3';
import { toStoreError } from './sqlite-errors.ts';
import { newLogIdentity } from './log-identity.ts';
import { TYPE_INDEX } from './sqlite-type-read.ts';

export interface SqliteOpenOptions {
  busyTimeoutMs?: number;
  readOnly?: boolean;
  maxPageCount?: number;
  /**
   * The caller syncs the WAL itself after each commit (sqlite-wal-sync.ts), off the event loop:
   * synchronous = NORMAL. Without it, FULL: SQLite syncs inside COMMIT.
   */
  syncedByCaller?: boolean;
}

/**
 * How long SQLite itself may spin on a busy lock (sqlite3_busy_timeout), blocking the event loop:
 * just enough to ride over another process's commit; longer waits are GroupCommit's, async.
 */
const SYNC_BUSY_MS = 5;
/** Opening may create the schema, which needs the write lock: a one-off wait at start-up. */
const OPEN_BUSY_MS = 5000;
const SCHEMA_VERSION = 1n;

/** The database of `path`, ready for the store; a failure to open is a store error (sqlite-errors.ts). */
export function openDatabase(path: string, options: SqliteOpenOptions): Database.Database {
  const readOnly = options.readOnly ?? false;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, {
      readonly: readOnly,
      fileMustExist: readOnly,
      timeout: OPEN_BUSY_MS,
    });
    db.defaultSafeIntegers(true);
    if (!readOnly) {
      // WAL: readers (other processes' subscriptions, the CLI) never block the writer and vice versa.
      db.pragma('journal_mode = WAL');
    }
    // In WAL mode NORMAL skips the fsync at commit, so a commit survives a process crash but may
    // vanish on power loss or OS crash. An append that returned has been reported to the client
    // as done (2xx), so the WAL is synced before we return: by SQLite inside COMMIT (FULL), or,
    // for the store's own connection, by the store right after it (NORMAL + sqlite-wal-sync.ts).
    db.pragma(options.syncedByCaller === true && !readOnly ? 'synchronous = NORMAL' : 'synchronous = FULL');
    if (options.maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.floor(options.maxPageCount)}`);
    if (!readOnly) createSchema(db);
    db.pragma(`busy_timeout = ${Math.min(SYNC_BUSY_MS, options.busyTimeoutMs ?? SYNC_BUSY_MS)}`);
  } catch (error) {
    db?.close();
    throw toStoreError(error, `opening ${path}`);
  }
  return db;
}

function createSchema(db: Database.Database): void {
  // IMMEDIATE so that two processes opening a new file at once do not both try to create it.
  db.transaction(() => {
    const version = BigInt(db.pragma('user_version', { simple: true }) as number | bigint);
    if (version > SCHEMA_VERSION) {
      throw new Error(`SQLite event store: file schema version ${version} is newer than this code (${SCHEMA_VERSION})`);
    }
    // Event-type filters are prefixes applied while walking positions in order, which the primary
    // key serves, and the substr() form of filterSql keeps the planner off the type index below:
    // only the narrow read by type (sqlite-type-read.ts) names it, with INDEXED BY.
    db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        stream_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        metadata TEXT NOT NULL,
        UNIQUE (stream_id, revision)
      );
    `);
    // The type index came after the first files: IF NOT EXISTS builds it on a file from before,
    // once, on its first writable open, holding the write lock meanwhile (0.75 s over 1M small
    // events on the bench machine; a log of larger rows takes longer, the table being read whole).
    // The schema version stays 1: older code reads and writes such a file as before.
    db.exec(`CREATE INDEX IF NOT EXISTS ${TYPE_INDEX} ON events (type, position)`);
    // The log's identity, in the same transaction as the schema: a new file is never without
    // one, and a file from before identities gets its own on the first writable open. (The
    // schema version stays: older code reads the events table as before and ignores this one.)
    db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('log_id', ?)").run(newLogIdentity());
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
