// Group commit for the SQLite event store. better-sqlite3 is synchronous, so every COMMIT runs on
// the event loop. Appends that arrive in the same turn of the loop are committed together: one
// BEGIN IMMEDIATE, each append in its own SAVEPOINT with its own expected-revision check (a
// conflicting or refused append is rolled back alone, the others go on), then one COMMIT and one
// sync of the WAL, which runs off the loop (sqlite-wal-sync.ts) while the next batch gathers.
// Every caller is answered only after that sync has returned, so an append that resolved is on
// disk; until then its events are not shown (unsyncedAbove).
//
// Another process (the `authlog` command) may hold the write lock. Waiting for it inside SQLite
// (busy_timeout) would block the event loop, so SQLite only spins briefly and the wait goes on
// here, asynchronously, with backoff, until each append's own deadline; past it the append fails
// with StoreUnavailableError (HTTP 503) having written nothing.
import type Database from 'better-sqlite3';
import { StoreUnavailableError, type AppendResult, type ExpectedRevision, type NewEvent } from './event-store.ts';
import { isBusy, toStoreError } from './sqlite-errors.ts';
import type { DurabilitySync } from './sqlite-wal-sync.ts';

export type AppendOne = (streamId: string, events: readonly NewEvent[], expected: ExpectedRevision) => AppendResult;

export interface GroupCommitOptions {
  db: Database.Database;
  /** Runs one append inside the open transaction; throws to refuse it. */
  appendOne: AppendOne;
  /** How long an append may wait for another connection's write lock before failing. */
  lockWaitMs: number;
  /** Called once each committed batch is durable, with the highest position it made durable. */
  onCommitted: (position: bigint) => void;
  /** Syncs the WAL after a COMMIT; without it, SQLite synced inside COMMIT (synchronous = FULL). */
  durability?: DurabilitySync;
}

interface Pending {
  streamId: string;
  events: readonly NewEvent[];
  expected: ExpectedRevision;
  deadline: number;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

type Outcome = { pending: Pending; result: AppendResult } | { pending: Pending; error: unknown };

const FIRST_RETRY_MS = 2;
const MAX_RETRY_MS = 50;

/** Counters for the bench and the tests: how many appends shared how many commits. */
export interface GroupCommitStats {
  commits: number;
  appends: number;
  largestBatch: number;
  busyRetries: number;
  /** Time spent committing batches, during which the event loop is blocked (ms). */
  commitMs: number;
  /** Batches answered after a WAL sync (off the loop); batches committed while one ran share the next. */
  syncs: number;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  private retryMs = FIRST_RETRY_MS;
  private closed = false;
  /** Set once a sync failed: what was committed since may not be on disk, so nothing more is taken. */
  private syncFailure: unknown;
  /** The highest position committed by this connection, and the highest known to be on disk. */
  private committedHead = -1n;
  private syncedHead = -1n;
  readonly stats: GroupCommitStats = { commits: 0, appends: 0, largestBatch: 0, busyRetries: 0, commitMs: 0, syncs: 0 };
  private readonly statements: Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', Database.Statement>;

  constructor(private readonly options: GroupCommitOptions) {
    const { db } = options;
    this.statements = {
      // IMMEDIATE takes the write lock before any revision is read, so no other writer (in this
      // or another process) can slip an event in between a check and its insert.
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT one_append'),
      release: db.prepare('RELEASE one_append'),
      rollbackTo: db.prepare('ROLLBACK TO one_append'),
    };
  }

  /**
   * Positions above this were committed here but are not on disk yet: readers must not see them
   * (undefined: everything committed is on disk). Rows other connections wrote are theirs to sync.
   */
  get unsyncedAbove(): bigint | undefined {
    return this.committedHead > this.syncedHead ? this.syncedHead : undefined;
  }

  /** Resolves once everything committed so far is on disk. */
  async durable(): Promise<void> {
    if (this.syncFailure !== undefined) throw this.syncFailed();
    if (this.unsyncedAbove === undefined) return;
    await this.options.durability?.sync();
  }

  append(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('SQLite event store is closed'));
    if (this.syncFailure !== undefined) return Promise.reject(this.syncFailed());
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, events, expected, deadline: Date.now() + this.options.lockWaitMs, resolve, reject });
      // setImmediate runs after every I/O callback of this turn: requests read in the same turn
      // share the commit. A retry after a busy lock is already scheduled and takes them along.
      this.scheduled ??= setImmediate(() => this.run());
    });
  }

  /** Commits what is queued now (without waiting for a lock), then refuses anything later. */
  close(): void {
    if (this.scheduled) {
      clearTimeout(this.scheduled as NodeJS.Timeout);
      clearImmediate(this.scheduled as NodeJS.Immediate);
      this.scheduled = undefined;
    }
    if (this.queue.length) this.commitBatch(this.queue.splice(0), true);
    this.closed = true;
  }

  private run(): void {
    this.scheduled = undefined;
    const batch = this.queue.splice(0);
    const started = performance.now();
    if (batch.length) this.commitBatch(batch, false);
    this.stats.commitMs += performance.now() - started;
    if (this.queue.length && !this.scheduled) this.scheduled = setImmediate(() => this.run());
  }

  private commitBatch(batch: Pending[], final: boolean): void {
    try {
      this.statements.begin.run();
    } catch (error) {
      if (isBusy(error) && !final) return this.waitForLock(batch, error);
      for (const pending of batch) pending.reject(toStoreError(error, `append to ${pending.streamId}`));
      return;
    }
    this.retryMs = FIRST_RETRY_MS;
    const outcomes: Outcome[] = [];
    for (const pending of batch) {
      const outcome = this.appendInSavepoint(pending);
      if ('lost' in outcome) return this.failAll(batch, pending, outcome.lost);
      outcomes.push(outcome);
    }
    try {
      this.statements.commit.run();
    } catch (error) {
      // Nothing of this batch is on disk: everyone who would have succeeded learns it.
      this.rollbackQuietly();
      for (const outcome of outcomes) {
        outcome.pending.reject('error' in outcome ? outcome.error : toStoreError(error, `append to ${outcome.pending.streamId}`));
      }
      return;
    }
    this.stats.commits += 1;
    this.stats.appends += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    let head = -1n;
    const written: { pending: Pending; result: AppendResult }[] = [];
    for (const outcome of outcomes) {
      if ('error' in outcome) outcome.pending.reject(outcome.error);
      else {
        if (outcome.result.position > head) head = outcome.result.position;
        written.push(outcome);
      }
    }
    if (head < 0n) return;
    if (head > this.committedHead) this.committedHead = head;
    const answer = () => {
      if (head > this.syncedHead) this.syncedHead = head;
      for (const { pending, result } of written) pending.resolve(result);
      this.options.onCommitted(head);
    };
    const durability = this.options.durability;
    if (!durability) return answer();
    if (final) {
      try {
        durability.syncNow();
      } catch (error) {
        return this.failSync(written, error);
      }
      return answer();
    }
    this.stats.syncs += 1;
    durability.sync().then(answer, (error: unknown) => this.failSync(written, error));
  }

  /**
   * A sync failed: those appends are committed in the file but maybe not on disk, and after a
   * failed fsync the kernel may have dropped the pages it could not write, so a later sync
   * proves nothing either. Their callers learn the outcome is unknown (503, as a timeout), and
   * this connection takes no more appends: a restart opens the file afresh.
   */
  private failSync(written: readonly { pending: Pending }[], error: unknown): void {
    this.syncFailure ??= error;
    for (const { pending } of written) pending.reject(this.syncFailed());
  }

  private syncFailed(): StoreUnavailableError {
    return new StoreUnavailableError(`SQLite event store: syncing the WAL to disk failed (${String(this.syncFailure)}); what was appended since may be lost, restart the service`);
  }

  /** One append, alone in a savepoint: its failure undoes only its own inserts. */
  private appendInSavepoint(pending: Pending): Outcome | { lost: unknown } {
    const { db } = this.options;
    try {
      this.statements.savepoint.run();
      const result = this.options.appendOne(pending.streamId, pending.events, pending.expected);
      this.statements.release.run();
      return { pending, result };
    } catch (error) {
      // Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM) may make SQLite roll back the whole
      // transaction by itself; then the appends before this one are gone too.
      if (!db.inTransaction) return { lost: error };
      try {
        this.statements.rollbackTo.run();
        this.statements.release.run();
      } catch {
        return { lost: error };
      }
      return { pending, error: toStoreError(error, `append to ${pending.streamId}`) };
    }
  }

  /**
   * The transaction is gone with everything of the batch. The append that failed is refused; the
   * others are tried again in the next transaction (their outcomes, conflicts included, may have
   * depended on appends that are now undone). Each pass removes one append, so this ends.
   */
  private failAll(batch: Pending[], failing: Pending, cause: unknown): void {
    this.rollbackQuietly();
    failing.reject(toStoreError(cause, `append to ${failing.streamId}`));
    this.queue = [...batch.filter((p) => p !== failing), ...this.queue];
  }

  private rollbackQuietly(): void {
    try {
      if (this.options.db.inTransaction) this.statements.rollback.run();
    } catch {
      // The connection rolls back by itself when it cannot; nothing was committed either way.
    }
  }

  /** The write lock is held elsewhere: fail what is past its deadline, retry the rest later. */
  private waitForLock(batch: Pending[], busy: unknown): void {
    const now = Date.now();
    const waiting: Pending[] = [];
    for (const pending of batch) {
      if (now >= pending.deadline) pending.reject(toStoreError(busy, `append to ${pending.streamId} (write lock held elsewhere)`));
      else waiting.push(pending);
    }
    this.queue = [...waiting, ...this.queue];
    if (!this.queue.length) return;
    this.stats.busyRetries += 1;
    const untilDeadline = Math.max(0, Math.min(...this.queue.map((p) => p.deadline)) - now);
    const delayMs = Math.min(this.retryMs, untilDeadline);
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.scheduled = setTimeout(() => this.run(), delayMs);
  }
}
