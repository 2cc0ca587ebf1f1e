// The embedded event store: one SQLite file (WAL) holding `$all` as a single table. Several
// processes may open the same file (the server and the `authlog` command); SQLite's locks
// serialize their writes, and live subscriptions poll to see what the other processes wrote.
import Database from 'better-sqlite3';
import {
  NO_STREAM,
  StoreUnavailableError,
  WrongExpectedVersionError,
  revisionMatches,
  type AllFilter,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type RecordedEvent,
  type Subscription,
  type SubscriptionHandler,
} from './event-store.ts';
import { toStoreError } from './sqlite-errors.ts';
import { GroupCommit, type GroupCommitStats } from './sqlite-group-commit.ts';
import { PAGE_SIZE, SqliteSubscription, type Page } from './sqlite-subscription.ts';
import { newLogIdentity } from './log-identity.ts';

export interface SqliteEventStoreOptions {
  /** How often live subscriptions look for events appended by other processes. Default 200 ms. */
  pollIntervalMs?: number;
  /**
   * How long an append waits for another process's write lock before failing with
   * StoreUnavailableError. The wait is asynchronous (retries with backoff): the event loop goes
   * on serving meanwhile. Default 2500 ms (the service passes EVENTSTORE_TIMEOUT_MS).
   */
  busyTimeoutMs?: number;
  /** Open an existing file for reading only (inspection tools); appends fail with StoreUnavailableError. */
  readOnly?: boolean;
  /** Caps the file at this many pages (PRAGMA max_page_count): a size quota, and how tests simulate a full disk. */
  maxPageCount?: number;
}

/**
 * How long SQLite itself may spin on a busy lock (sqlite3_busy_timeout), blocking the event loop:
 * just enough to ride over another process's commit; longer waits are GroupCommit's, async.
 */
const SYNC_BUSY_MS = 5;
/** Opening may create the schema, which needs the write lock: a one-off wait at start-up. */
const OPEN_BUSY_MS = 5000;
const SCHEMA_VERSION = 1n;

/** A row of the events table, read with safe integers. */
export interface EventRow {
  position: bigint;
  stream_id: string;
  revision: bigint;
  event_id: string;
  type: string;
  data: string;
  metadata: string;
}

/**
 * Builds the WHERE fragment for a filter. Prefixes are compared on the UTF-8 bytes so the test is
 * exact for any string; the substr() form also keeps SQLite off the (stream_id, revision) index,
 * which would make it sort a whole category to return one page in position order.
 */
function filterSql(filter: AllFilter | undefined): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const prefixClause = (column: string, prefixes: readonly string[]): string => {
    if (prefixes.length === 0) return '0';
    const one = `substr(CAST(${column} AS BLOB), 1, ?) = ?`;
    for (const prefix of prefixes) {
      const bytes = Buffer.from(prefix, 'utf8');
      params.push(bytes.length, bytes);
    }
    return '(' + prefixes.map(() => one).join(' OR ') + ')';
  };
  if (filter?.streamPrefixes) clauses.push(prefixClause('stream_id', filter.streamPrefixes));
  if (filter?.eventTypes) clauses.push(prefixClause('type', filter.eventTypes));
  return { sql: clauses.length ? clauses.join(' AND ') : '1', params };
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.type,
    data: JSON.parse(row.data) as unknown,
    metadata: JSON.parse(row.metadata) as EventMetadata,
    streamId: row.stream_id,
    revision: row.revision,
    position: row.position,
  };
}

export class SqliteEventStore implements EventStore {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly subscriptions = new Set<SqliteSubscription>();
  private readonly pollIntervalMs: number;
  private pollTimer: NodeJS.Timeout | undefined;
  private lastSeenHead = -1n;
  private closed = false;
  private readonly committer: GroupCommit;

  constructor(
    readonly path: string,
    options: SqliteEventStoreOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
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
      // FULL, not NORMAL: in WAL mode NORMAL skips the fsync at commit, so a commit survives a
      // process crash but may vanish on power loss or OS crash. An append that returned has been
      // reported to the client as done (2xx), so the WAL is synced before we return.
      db.pragma('synchronous = FULL');
      if (options.maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.floor(options.maxPageCount)}`);
      if (!readOnly) createSchema(db);
      db.pragma(`busy_timeout = ${Math.min(SYNC_BUSY_MS, options.busyTimeoutMs ?? SYNC_BUSY_MS)}`);
    } catch (error) {
      db?.close();
      throw toStoreError(error, `opening ${path}`);
    }
    this.db = db;
    this.committer = new GroupCommit({
      db,
      appendOne: (streamId, events, expected) => this.appendLocked(streamId, events, expected),
      lockWaitMs: options.busyTimeoutMs ?? 2500,
      onCommitted: (position) => {
        if (position > this.lastSeenHead) this.lastSeenHead = position;
        for (const subscription of this.subscriptions) subscription.wake();
      },
    });
  }

  /**
   * Durable when it resolves. Appends of the same turn of the event loop share one transaction
   * and one fsync (see GroupCommit); each keeps its own revision check, and anything it throws
   * rolls back only its own events: nothing is half written.
   */
  async append(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    this.assertOpen();
    return this.committer.append(streamId, events, expected);
  }

  /** How many appends shared how many commits since the store was opened. */
  get groupCommitStats(): Readonly<GroupCommitStats> {
    return this.committer.stats;
  }

  private appendLocked(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): AppendResult {
    const currentRow = this.statement('SELECT max(revision) AS revision FROM events WHERE stream_id = ?').get(streamId) as
      | { revision: bigint | null }
      | undefined;
    const current = currentRow?.revision ?? -1n;

    const first = events[0];
    if (first) {
      const earlier = this.statement('SELECT stream_id, revision FROM events WHERE event_id = ?').get(first.id) as
        | { stream_id: string; revision: bigint }
        | undefined;
      if (earlier) return this.recognizeRetry(streamId, events, expected, earlier, current);
    }

    if (!revisionMatches(expected, current)) {
      throw new WrongExpectedVersionError(streamId, expected, current < 0n ? NO_STREAM : current);
    }
    if (!first) {
      // EventStoreDB answers an empty append with the stream's state after checking the revision.
      return { nextExpectedRevision: current, position: this.streamLastPosition(streamId) };
    }

    const insert = this.statement(
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
  private recognizeRetry(
    streamId: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
    earlier: { stream_id: string; revision: bigint },
    current: bigint,
  ): AppendResult {
    if (earlier.stream_id !== streamId) {
      throw new Error(`SQLite event store: event id ${events[0]?.id} is already recorded in stream ${earlier.stream_id}`);
    }
    const recorded = this.statement(
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

  private streamLastPosition(streamId: string): bigint {
    const row = this.statement('SELECT max(position) AS position FROM events WHERE stream_id = ?').get(streamId) as
      | { position: bigint | null }
      | undefined;
    return row?.position ?? -1n;
  }

  async readStream(streamId: string): Promise<RecordedEvent[]> {
    this.assertOpen();
    try {
      const rows = this.statement('SELECT * FROM events WHERE stream_id = ? ORDER BY revision').all(streamId) as EventRow[];
      return rows.map(toRecorded);
    } catch (error) {
      throw toStoreError(error, `read of ${streamId}`);
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    let cursor = options.fromPosition ?? -1n;
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (remaining > 0) {
      const limit = Math.min(PAGE_SIZE, remaining);
      const page = this.readPage(cursor, options.filter, limit);
      for (const event of page.events) {
        yield event;
        remaining -= 1;
      }
      cursor = page.scannedTo;
      if (page.events.length < limit) return;
    }
  }

  async headPosition(filter?: AllFilter): Promise<bigint> {
    this.assertOpen();
    try {
      return filter ? this.filteredHead(filter) : this.head();
    } catch (error) {
      throw toStoreError(error, 'head position');
    }
  }

  subscribeToAll(options: { fromPosition?: bigint; filter?: AllFilter }, handler: SubscriptionHandler): Subscription {
    this.assertOpen();
    const subscription = new SqliteSubscription(
      (after, limit) => this.readPage(after, options.filter, limit),
      options.fromPosition ?? -1n,
      handler,
      (stopped) => this.forget(stopped),
    );
    this.subscriptions.add(subscription);
    this.startPolling();
    // Started on a microtask so that the caller holds the Subscription before the first onEvent.
    queueMicrotask(() => void subscription.run());
    return subscription;
  }

  /** From the meta table, written with the schema (a file from before it gets one on its first writable open). */
  async logIdentity(): Promise<string> {
    this.assertOpen();
    try {
      const hasMeta = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
      const row = hasMeta ? (this.statement("SELECT value FROM meta WHERE key = 'log_id'").get() as { value: string } | undefined) : undefined;
      if (!row) throw new StoreUnavailableError(`SQLite event store ${this.path} has no log identity yet (opened read-only before any writable start)`);
      return row.value;
    } catch (error) {
      throw toStoreError(error, 'log identity');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const subscription of this.subscriptions) subscription.stop();
    this.subscriptions.clear();
    this.stopPolling();
    this.committer.close();
    this.statements.clear();
    this.db.close();
  }

  /**
   * One page of `$all` after `after`. The head is read first, then events up to it: a later read
   * sees at least what an earlier one saw, so when the page is short every position up to that
   * head has been looked at, and a sparse filter does not rescan the same rows on every wake-up.
   *
   * Why this has no gap: positions are AUTOINCREMENT rowids assigned inside the write transaction,
   * and writes are serialized by the database write lock (BEGIN IMMEDIATE, across processes too).
   * So position N+1 is only assigned after the transaction holding N has committed, and a reader
   * can never see N+1 without N. (A Postgres sequence hands out numbers outside the commit order,
   * which is why it needs extra care; this does not.)
   */
  private readPage(after: bigint, filter: AllFilter | undefined, limit: number): Page {
    this.assertOpen();
    try {
      const head = this.head();
      if (head <= after) return { events: [], scannedTo: after };
      const where = filterSql(filter);
      const rows = this.statement(
        `SELECT * FROM events WHERE position > ? AND position <= ? AND ${where.sql} ORDER BY position LIMIT ?`,
      ).all(after, head, ...where.params, limit) as EventRow[];
      const events = rows.map(toRecorded);
      const last = events[events.length - 1];
      return { events, scannedTo: events.length < limit ? head : (last?.position ?? head) };
    } catch (error) {
      throw toStoreError(error, 'read of $all');
    }
  }

  private head(): bigint {
    const row = this.statement('SELECT max(position) AS position FROM events').get() as { position: bigint | null } | undefined;
    return row?.position ?? -1n;
  }

  private filteredHead(filter: AllFilter): bigint {
    const where = filterSql(filter);
    const row = this.statement(`SELECT position FROM events WHERE ${where.sql} ORDER BY position DESC LIMIT 1`).get(
      ...where.params,
    ) as { position: bigint } | undefined;
    return row?.position ?? -1n;
  }

  /** Prepared statements are cached by their text; filters produce a handful of distinct shapes. */
  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError(`SQLite event store ${this.path} is closed`);
  }

  /**
   * Appends by this store wake subscriptions directly; appends by other connections (another
   * process on the same file) are only visible in the file, so a timer looks at the head while
   * any subscription is live, and stops when none is, so that it never keeps the process alive.
   */
  private startPolling(): void {
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => this.poll(), this.pollIntervalMs);
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  private poll(): void {
    if (this.closed) return;
    let head: bigint;
    try {
      head = this.head();
    } catch {
      // Let every subscription read, meet the error itself and report it through onError.
      for (const subscription of this.subscriptions) subscription.wake();
      return;
    }
    if (head === this.lastSeenHead) return;
    this.lastSeenHead = head;
    for (const subscription of this.subscriptions) subscription.wake();
  }

  private forget(subscription: SqliteSubscription): void {
    this.subscriptions.delete(subscription);
    if (this.subscriptions.size === 0) this.stopPolling();
  }
}

function createSchema(db: Database.Database): void {
  // IMMEDIATE so that two processes opening a new file at once do not both try to create it.
  db.transaction(() => {
    const version = BigInt(db.pragma('user_version', { simple: true }) as number | bigint);
    if (version > SCHEMA_VERSION) {
      throw new Error(`SQLite event store: file schema version ${version} is newer than this code (${SCHEMA_VERSION})`);
    }
    // No index on type: event-type filters are prefixes applied while walking positions in order,
    // which the primary key serves; an index on type would tempt the planner into sorting.
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
    // The log's identity, in the same transaction as the schema: a new file is never without
    // one, and a file from before identities gets its own on the first writable open. (The
    // schema version stays: older code reads the events table as before and ignores this one.)
    db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('log_id', ?)").run(newLogIdentity());
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

export function openSqliteEventStore(path: string, options?: SqliteEventStoreOptions): SqliteEventStore {
  return new SqliteEventStore(path, options);
}
