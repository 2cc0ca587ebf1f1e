// The projection runner: subscribes to `$all` from the read model's checkpoint (catch-up, then
// live), turns each event into read-model operations with the projector, and applies them in
// batches together with the checkpoint. Writers call waitFor(position) so that a request answers
// only once its own write is visible to the next query (read-your-writes). A read model that
// does not answer for this log (read-model-verdict.ts) is rebuilt from it before it is used.
import { setTimeout as delay } from 'node:timers/promises';
import { asDomainEvent } from '../events/catalogue.ts';
import type { AllFilter, EventStore, RecordedEvent, Subscription } from '../store/event-store.ts';
import {
  ReadModelBehindError,
  ReadModelOfAnotherLogError,
  type ProjectedEvent,
  type ReadModel,
  type ReadModelWriter,
} from '../readmodel/read-model.ts';
import type { Projector } from './projector.ts';
import type { Verdict } from './read-model-verdict.ts';
import { ensureOwnReadModel } from './read-model-ownership.ts';

export interface ProjectionRunnerOptions {
  store: EventStore;
  readModel: ReadModel;
  projector: Projector;
  filter: AllFilter;
  /** Events applied per atomic step during catch-up. */
  batchSize?: number;
  /** How often to check that the read model was not flushed or replaced (ms); default 1000. */
  watchIntervalMs?: number;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export interface ProjectionLag {
  events: bigint;
  checkpoint: bigint;
  head: bigint;
  /** Age of the oldest event not applied yet (ms), by the clock of this process; 0 when caught up. */
  ms: number;
}

export interface RebuildProgress {
  applied: number;
  total: number;
  position: bigint;
}

const RESUBSCRIBE_INITIAL_MS = 100;
/** How often the runner checks that the read model still holds what it applied. */
const WATCH_INTERVAL_MS = 1000;
const RESUBSCRIBE_MAX_MS = 5000;

interface Waiter {
  position: bigint;
  resolve: (visible: boolean) => void;
}

export class ProjectionRunner {
  private checkpoint = -1n;
  private pending: ProjectedEvent[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  /** A flush started by a full batch is applying (it drains whatever arrives meanwhile). */
  private draining = false;
  private appliedListeners: (() => void)[] = [];
  private waiters: Waiter[] = [];
  private subscription: Subscription | undefined;
  private stopped = false;
  private readonly batchSize: number;
  private lastAppliedAtMs = Date.now();
  /** Position of the last event taken from the subscription (applied or pending). */
  private enqueuedTo = -1n;
  private resubscribeBackoffMs = RESUBSCRIBE_INITIAL_MS;
  private watchdog: NodeJS.Timeout | undefined;
  private resetting = false;
  /** The identity of the log, read at every (re)subscription; every write carries it. */
  private logId: string | undefined;
  private rebuilding: Verdict | undefined;

  constructor(private readonly options: ProjectionRunnerOptions) {
    this.batchSize = options.batchSize ?? 500;
  }

  /** Position of the last event applied to the read model, or -1n. */
  get appliedPosition(): bigint {
    return this.checkpoint;
  }

  /**
   * Why the read model is being rebuilt from the log (it was of another log, ahead of it, or of
   * another history), until the rebuilt one has caught up; undefined otherwise. /ready is 503 meanwhile.
   */
  get rebuildingBecause(): Verdict | undefined {
    return this.rebuilding;
  }

  /**
   * Makes sure the read model answers for this log (rebuilding it if not), then subscribes from
   * its checkpoint; resolves once the read model has caught up with the log.
   */
  async start(): Promise<void> {
    this.stopped = false;
    await this.ensureOwnReadModel();
    await this.resume();
    this.rebuilding = undefined;
  }

  /** Subscribes from the read model's checkpoint; resolves once it has caught up with the log. */
  private async resume(): Promise<void> {
    this.checkpoint = await this.options.readModel.checkpoint();
    this.enqueuedTo = this.checkpoint;
    // Waiters for positions the read model already holds (e.g. written into a rebuilt generation
    // while the subscription was closed) would otherwise wait for the next event to be applied.
    this.releaseWaiters();
    await new Promise<void>((resolve, reject) => this.subscribe(resolve, reject));
    this.watchdog ??= setInterval(() => void this.checkReadModel(), this.options.watchIntervalMs ?? WATCH_INTERVAL_MS).unref();
  }

  /**
   * The read model's checkpoint never moves back by itself: when it is behind what this runner
   * applied, the read model lost data (Redis flushed or replaced, or another instance switched
   * to a rebuilt generation that missed a few events). Project again from where it now stands.
   */
  private async checkReadModel(): Promise<void> {
    if (this.stopped || this.resetting) return;
    let stored: bigint;
    try {
      stored = await this.options.readModel.checkpoint();
    } catch {
      return; // unreachable now: the next flush retries, the next check looks again
    }
    if (stored >= this.checkpoint || this.stopped || this.resetting) return;
    this.options.log?.('warn', 'read model is behind what was applied (flushed or replaced?); projecting again from the log', {
      readModelCheckpoint: String(stored),
      applied: String(this.checkpoint),
    });
    await this.projectAgain();
  }

  /**
   * Drops what is pending, makes sure the read model is still this log's (another instance may
   * have switched it, or Redis been replaced), and projects again from where it now stands.
   */
  private async projectAgain(): Promise<void> {
    if (this.stopped || this.resetting) return;
    this.resetting = true;
    const started = Date.now();
    try {
      await this.subscription?.close();
      this.subscription = undefined;
      await this.flushing.catch(() => undefined);
      this.pending = [];
      this.signalBatchApplied(); // a reader held back by the dropped batches goes on
      await this.ensureOwnReadModel();
      this.checkpoint = await this.options.readModel.checkpoint();
      this.enqueuedTo = this.checkpoint;
      this.releaseWaiters();
      await new Promise<void>((resolve, reject) => this.subscribe(resolve, reject));
      this.rebuilding = undefined;
      this.options.log?.('info', 'read model caught up again', { checkpoint: String(this.checkpoint), ms: Date.now() - started });
    } catch (error) {
      this.options.log?.('error', 'projecting again failed; resubscribing', { error: (error as Error).message });
      if (!this.stopped && !this.subscription) setTimeout(() => !this.stopped && !this.subscription && this.subscribe(), RESUBSCRIBE_MAX_MS).unref();
    } finally {
      this.resetting = false;
    }
  }

  /**
   * Subscribes after the last event taken in. Before the first catch-up a failure fails start();
   * after it, a failed subscription (the store went away) is reopened with backoff, so
   * projections recover without a restart once the store answers again.
   */
  private subscribe(onCaughtUp?: () => void, onFailedBeforeCaughtUp?: (error: Error) => void): void {
    let caughtUp = false;
    this.subscription = this.options.store.subscribeToAll(
      { fromPosition: this.enqueuedTo >= 0n ? this.enqueuedTo : undefined, filter: this.options.filter },
      {
        onEvent: (recorded) => this.enqueue(recorded),
        onCheckpoint: (position) => this.advanceTo(position),
        onCaughtUp: () => {
          caughtUp = true;
          this.resubscribeBackoffMs = RESUBSCRIBE_INITIAL_MS;
          this.flushNow().then(onCaughtUp, onFailedBeforeCaughtUp);
        },
        onError: (error) => {
          this.subscription = undefined;
          if (!caughtUp && onFailedBeforeCaughtUp) {
            this.options.log?.('error', 'projection subscription failed', { error: error.message });
            onFailedBeforeCaughtUp(error);
            return;
          }
          if (this.stopped) return;
          const delayMs = this.nextResubscribeDelay();
          this.options.log?.('warn', 'projection subscription dropped; resubscribing', { error: error.message, delayMs });
          setTimeout(() => void this.resubscribe(), delayMs).unref();
        },
      },
    );
  }

  private nextResubscribeDelay(): number {
    const delayMs = this.resubscribeBackoffMs;
    this.resubscribeBackoffMs = Math.min(delayMs * 2, RESUBSCRIBE_MAX_MS);
    return delayMs;
  }

  /**
   * Reopens a dropped subscription after the last event taken in, once the read model is known
   * to be this log's still: the store that came back may be another log, or an older copy.
   */
  private async resubscribe(): Promise<void> {
    if (this.stopped || this.subscription || this.resetting) return;
    this.resetting = true;
    try {
      if (await this.ensureOwnReadModel()) {
        await this.flushing.catch(() => undefined);
        this.pending = [];
        this.signalBatchApplied();
        this.checkpoint = await this.options.readModel.checkpoint();
        this.enqueuedTo = this.checkpoint;
        this.releaseWaiters();
      }
      if (!this.stopped && !this.subscription) this.subscribe(() => (this.rebuilding = undefined));
    } catch (error) {
      const delayMs = this.nextResubscribeDelay();
      this.options.log?.('warn', 'projection subscription could not be reopened; retrying', { error: (error as Error).message, delayMs });
      if (!this.stopped) setTimeout(() => void this.resubscribe(), delayMs).unref();
    } finally {
      this.resetting = false;
    }
  }

  /** See read-model-ownership.ts; returns whether the live generation changed. */
  private async ensureOwnReadModel(): Promise<boolean> {
    const { store, readModel, filter, log } = this.options;
    return ensureOwnReadModel({
      store,
      readModel,
      filter,
      ...(log ? { log } : {}),
      onJudged: (logId) => (this.logId = logId),
      onRebuilding: (verdict) => (this.rebuilding = verdict),
      fill: (next) => this.catchUp(next),
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    await this.subscription?.close();
    this.subscription = undefined;
    this.signalBatchApplied();
    await this.flushNow().catch(() => undefined);
    for (const w of this.waiters.splice(0)) w.resolve(false);
  }

  /**
   * Resolves true once the event at `position` is visible in the read model, false after
   * `timeoutMs` (the write is durable either way; only its visibility is late).
   */
  waitFor(position: bigint, timeoutMs: number): Promise<boolean> {
    if (position <= this.checkpoint) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = { position, resolve: () => {} };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        this.options.log?.('warn', 'projection did not reach a write in time', { position: String(position), timeoutMs });
        resolve(false);
      }, timeoutMs);
      waiter.resolve = (visible) => {
        clearTimeout(timer);
        resolve(visible);
      };
      this.waiters.push(waiter);
    });
  }

  /**
   * How many events the read model is behind the log (counted up to 1M), and how long ago the
   * oldest of them was written (ms; 0 when caught up).
   */
  async lag(): Promise<ProjectionLag> {
    return this.lagFrom(this.checkpoint);
  }

  /** The same, from a given checkpoint (a read model this runner has not started on). */
  async lagFrom(checkpoint: bigint): Promise<ProjectionLag> {
    const head = await this.options.store.headPosition(this.options.filter);
    // Positions are not dense (other streams, EventStoreDB's byte positions): count what is behind.
    let events = 0n;
    let oldestAt: string | undefined;
    if (head > checkpoint) {
      for await (const e of this.options.store.readAll({ ...(checkpoint >= 0n ? { fromPosition: checkpoint } : {}), filter: this.options.filter })) {
        oldestAt ??= e.metadata.occurredAt;
        events++;
        if (events >= 1_000_000n) break;
      }
    }
    const writtenAt = oldestAt === undefined ? NaN : Date.parse(oldestAt);
    return { events, checkpoint, head, ms: Number.isNaN(writtenAt) ? 0 : Math.max(0, Date.now() - writtenAt) };
  }

  /**
   * Rebuilds the read model from the whole log into a new generation next to the live one, then
   * switches atomically. Live projection goes on meanwhile; after the switch a final catch-up
   * applies whatever the live runner wrote into the old generation during the switch.
   */
  async rebuild(onProgress?: (p: RebuildProgress) => void): Promise<{ events: number; ms: number }> {
    const started = Date.now();
    // The watchdog would take the switch of generations for a loss: it waits until this is done.
    this.resetting = true;
    try {
      return await this.rebuildIntoNextGeneration(started, onProgress);
    } finally {
      this.resetting = false;
    }
  }

  private async rebuildIntoNextGeneration(started: number, onProgress?: (p: RebuildProgress) => void): Promise<{ events: number; ms: number }> {
    this.logId ??= await this.options.store.logIdentity();
    const next = await this.options.readModel.openNextGeneration();
    let total = 0;
    for await (const _ of this.options.store.readAll({ filter: this.options.filter })) total++;
    let applied = 0;
    try {
      applied += await this.catchUp(next, (n, position) => onProgress?.({ applied: applied + n, total, position }));
      await this.subscription?.close();
      this.subscription = undefined;
      await this.flushNow();
      applied += await this.catchUp(next);
      await next.activate();
    } catch (error) {
      await next.discard().catch(() => undefined);
      if (!this.stopped && !this.subscription) await this.resume();
      throw error;
    }
    this.pending = [];
    this.signalBatchApplied(); // a reader held back by the dropped batches goes on
    await this.resume();
    onProgress?.({ applied, total: Math.max(total, applied), position: this.checkpoint });
    return { events: applied, ms: Date.now() - started };
  }

  private async catchUp(writer: ReadModelWriter, onBatch?: (applied: number, position: bigint) => void): Promise<number> {
    const from = await writer.checkpoint();
    let batch: ProjectedEvent[] = [];
    let applied = 0;
    // One batch applies while the next is read and projected; they still apply in order.
    let applying: Promise<void> = Promise.resolve();
    const apply = async (full: ProjectedEvent[]): Promise<void> => {
      await applying;
      const step = writer.applyBatch(full, this.writeOptions()).then(() => {
        applied += full.length;
        onBatch?.(applied, full[full.length - 1]!.position);
      });
      step.catch(() => undefined); // awaited by the next apply or at the end; not unhandled meanwhile
      applying = step;
    };
    for await (const recorded of this.options.store.readAll({ fromPosition: from >= 0n ? from : undefined, filter: this.options.filter })) {
      batch.push(this.project(recorded));
      if (batch.length >= this.batchSize) {
        await apply(batch);
        batch = [];
      }
    }
    if (batch.length) await apply(batch);
    await applying;
    return applied;
  }

  private writeOptions(): { logId?: string } {
    return this.logId === undefined ? {} : { logId: this.logId };
  }

  private project(recorded: RecordedEvent): ProjectedEvent {
    const event = asDomainEvent(recorded);
    return {
      position: recorded.position,
      ops: event ? this.options.projector(event, recorded) : [],
      event: { id: recorded.id, streamId: recorded.streamId, revision: recorded.revision },
    };
  }

  private async enqueue(recorded: RecordedEvent): Promise<void> {
    if (recorded.position <= this.enqueuedTo) return;
    this.enqueuedTo = recorded.position;
    this.pending.push(this.project(recorded));
    if (this.pending.length < this.batchSize) return this.scheduleFlush();
    // The read model applies this batch while the subscription reads and projects the next one
    // (batches still apply one at a time, in order, each with its checkpoint). Two batches
    // pending: wait, so that memory stays bounded and a read model that is down holds us back.
    if (!this.draining) {
      this.draining = true;
      this.flushNow()
        .catch(() => undefined)
        .finally(() => (this.draining = false));
    }
    while (this.pending.length >= 2 * this.batchSize && !this.stopped) await this.nextBatchApplied();
  }

  /**
   * The store looked at everything up to `position` and none of it is ours: nothing to project,
   * but the checkpoint moves with the next batch, so a restart does not scan that stretch again.
   */
  private advanceTo(position: bigint): void {
    if (position <= this.enqueuedTo) return;
    this.enqueuedTo = position;
    const last = this.pending.at(-1);
    // Consecutive stretches without ops collapse into one entry: one checkpoint write, not many.
    if (last && last.ops.length === 0) this.pending[this.pending.length - 1] = { position, ops: [] };
    else this.pending.push({ position, ops: [] });
    this.scheduleFlush();
  }

  /** Resolves when the read model has taken one more batch (or the runner stops). */
  private nextBatchApplied(): Promise<void> {
    return new Promise((resolve) => this.appliedListeners.push(resolve));
  }

  private signalBatchApplied(): void {
    for (const listener of this.appliedListeners.splice(0)) listener();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushNow().catch(() => undefined);
    });
  }

  /** Applies everything pending; on a read-model failure keeps it and retries with backoff. */
  private flushNow(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      let backoffMs = 50;
      while (this.pending.length) {
        const batch = this.pending.slice(0, this.batchSize);
        try {
          this.checkpoint = await this.options.readModel.applyBatch(batch, {
            ...this.writeOptions(),
            ...(this.checkpoint >= 0n ? { expectAtLeast: this.checkpoint } : {}),
          });
          this.pending.splice(0, batch.length);
          this.lastAppliedAtMs = Date.now();
          this.releaseWaiters();
          this.signalBatchApplied();
          backoffMs = 50;
        } catch (error) {
          if (this.stopped) throw error;
          if (error instanceof ReadModelBehindError) {
            // The read model lost data since the last batch (flushed, replaced): this batch must
            // not land on it. Project again from where it stands, as the watchdog would.
            this.pending = [];
            this.signalBatchApplied(); // a reader held back by the dropped batches goes on
            setImmediate(() => void this.checkReadModel());
            return;
          }
          if (error instanceof ReadModelOfAnotherLogError) {
            // The live generation was switched to one of another log (an instance of another log
            // shares this Redis): nothing of ours lands in it; judge it and rebuild.
            this.pending = [];
            this.signalBatchApplied();
            setImmediate(() => void this.projectAgain());
            return;
          }
          this.options.log?.('warn', 'read model write failed; retrying', { error: (error as Error).message, backoffMs });
          await delay(backoffMs);
          backoffMs = Math.min(backoffMs * 2, 2000);
        }
      }
    });
    return this.flushing;
  }

  private releaseWaiters(): void {
    if (!this.waiters.length) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.position <= this.checkpoint) w.resolve(true);
      else still.push(w);
    }
    this.waiters = still;
  }

  /** When the read model last moved (epoch ms). */
  get lastAppliedAt(): number {
    return this.lastAppliedAtMs;
  }
}
