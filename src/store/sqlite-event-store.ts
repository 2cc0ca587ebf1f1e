// The embedded event store: one SQLite file (WAL) holding `$all` as a single table. Several
// processes may open the same file (the server and the `authlog` command); SQLite's locks
// serialize their writes, and live subscriptions poll to see what the other processes wrote.
// Opening and the schema are sqlite-schema.ts, one append sqlite-append.ts, rows and filters
// sqlite-rows.ts, subscriptions sqlite-subscription.ts; this file holds the store's state.
import type Database from 'better-sqlite3';
import {
  StoreUnavailableError,
  type AllFilter,
  type AppendResult,
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
import { openDatabase } from './sqlite-schema.ts';
import { appendLocked } from './sqlite-append.ts';
import { filterSql, toRecorded, type EventRow } from './sqlite-rows.ts';
import { hasTypeIndex, readByType } from './sqlite-type-read.ts';
import { WalFileSync, type DurabilitySync } from './sqlite-wal-sync.ts';

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
  /** What makes commits durable; by default the WAL file's fdatasync (sqlite-wal-sync.ts). Tests hold it to see what readers see meanwhile. */
  durability?: DurabilitySync;
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
  private readonly walSync: DurabilitySync | undefined;

  constructor(
    readonly path: string,
    options: SqliteEventStoreOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    const db = openDatabase(path, { ...options, syncedByCaller: options.readOnly !== true });
    this.db = db;
    this.walSync = options.readOnly === true ? undefined : (options.durability ?? new WalFileSync(path));
    this.committer = new GroupCommit({
      db,
      ...(this.walSync ? { durability: this.walSync } : {}),
      appendOne: (streamId, events, expected) => appendLocked((sql) => this.statement(sql), streamId, events, expected),
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

  async readStream(streamId: string): Promise<RecordedEvent[]> {
    this.assertOpen();
    try {
      const rows = this.statement('SELECT * FROM events WHERE stream_id = ? ORDER BY revision').all(streamId) as EventRow[];
      const events = rows.map(toRecorded);
      // A command must not decide on an event whose append is not durable yet: it waits for it.
      const unsyncedAbove = this.committer.unsyncedAbove;
      const last = events[events.length - 1];
      if (unsyncedAbove !== undefined && last !== undefined && last.position > unsyncedAbove) await this.committer.durable();
      return events;
    } catch (error) {
      throw toStoreError(error, `read of ${streamId}`);
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    const byType = options.byType && options.filter?.eventTypes ? this.readByType(options.filter, options.fromPosition ?? -1n) : undefined;
    if (byType) {
      const events = byType[Symbol.iterator]();
      for (let remaining = options.maxCount ?? Number.POSITIVE_INFINITY; remaining > 0; remaining--) {
        let next: IteratorResult<RecordedEvent>;
        try {
          this.assertOpen();
          next = events.next();
        } catch (error) {
          throw toStoreError(error, 'read of $all by type');
        }
        if (next.done) return;
        yield next.value;
      }
      return;
    }
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
    this.walSync?.close();
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

  /** Through the type index, up to the head as it is now; undefined when the file has no such index (opened read-only before any writable open created it) or the filter's types make no index range. */
  private readByType(filter: AllFilter, after: bigint): Iterable<RecordedEvent> | undefined {
    this.assertOpen();
    try {
      const prepare = (sql: string) => this.statement(sql);
      return hasTypeIndex(prepare) ? readByType(prepare, filter, after, this.head()) : undefined;
    } catch (error) {
      throw toStoreError(error, 'read of $all by type');
    }
  }

  /** The newest position readers may see: the file's, short of what this connection has not synced yet. */
  private head(): bigint {
    const row = this.statement('SELECT max(position) AS position FROM events').get() as { position: bigint | null } | undefined;
    const head = row?.position ?? -1n;
    const unsyncedAbove = this.committer.unsyncedAbove;
    return unsyncedAbove !== undefined && head > unsyncedAbove ? unsyncedAbove : head;
  }

  private filteredHead(filter: AllFilter): bigint {
    const where = filterSql(filter);
    const row = this.statement(`SELECT position FROM events WHERE position <= ? AND ${where.sql} ORDER BY position DESC LIMIT 1`).get(
      this.head(),
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

export function openSqliteEventStore(path: string, options?: SqliteEventStoreOptions): SqliteEventStore {
  return new SqliteEventStore(path, options);
}
