// The projection runner: subscribes to `$all` from the read model's checkpoint (catch-up, then
// live), turns each event into read-model operations with the projector, and applies them in
// batches together with the checkpoint. Writers call waitFor(position) so that a request answers
// only once its own write is visible to the next query (read-your-writes). A read model that
// does not answer for this log (read-model-verdict.ts) is rebuilt from it before it is used.
// This file keeps the subscription's life (open, drop, reopen, project again, switch generations),
// one idea with one shared state; the parts it drives have their own files: live-batches.ts,
// catch-up.ts, position-waiters.ts, projection-lag.ts.
import type { AllFilter, EventStore, Subscription } from '../store/event-store.ts';
import type { ReadModel } from '../readmodel/read-model.ts';
import type { Projector } from './projector.ts';
import type { Verdict } from './read-model-verdict.ts';
import { ensureOwnReadModel } from './read-model-ownership.ts';
import { catchUp, type CatchUpSource } from './catch-up.ts';
import { LiveBatches } from './live-batches.ts';
import { PositionWaiters } from './position-waiters.ts';
import { lagBehind, type ProjectionLag } from './projection-lag.ts';

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

export interface RebuildProgress {
  applied: number;
  total: number;
  position: bigint;
}

const RESUBSCRIBE_INITIAL_MS = 100;
/** How often the runner checks that the read model still holds what it applied. */
const WATCH_INTERVAL_MS = 1000;
const RESUBSCRIBE_MAX_MS = 5000;

export class ProjectionRunner {
  private readonly source: CatchUpSource;
  private readonly live: LiveBatches;
  private readonly waiters: PositionWaiters;
  private subscription: Subscription | undefined;
  private stopped = false;
  private resubscribeBackoffMs = RESUBSCRIBE_INITIAL_MS;
  private watchdog: NodeJS.Timeout | undefined;
  private resetting = false;
  /** The identity of the log, read at every (re)subscription; every write carries it. */
  private logId: string | undefined;
  private rebuilding: Verdict | undefined;

  constructor(private readonly options: ProjectionRunnerOptions) {
    const batchSize = options.batchSize ?? 500;
    const writeOptions = () => (this.logId === undefined ? {} : { logId: this.logId });
    this.source = { store: options.store, filter: options.filter, projector: options.projector, batchSize, writeOptions };
    this.waiters = new PositionWaiters(() => this.live.checkpoint, options.log);
    this.live = new LiveBatches({
      readModel: options.readModel,
      projector: options.projector,
      batchSize,
      writeOptions,
      stopped: () => this.stopped,
      onApplied: () => this.waiters.release(),
      onBehind: () => void this.checkReadModel(),
      onOfAnotherLog: () => void this.projectAgain(),
      ...(options.log ? { log: options.log } : {}),
    });
  }

  /** Position of the last event applied to the read model, or -1n. */
  get appliedPosition(): bigint {
    return this.live.checkpoint;
  }

  /** When the read model last moved (epoch ms). */
  get lastAppliedAt(): number {
    return this.live.lastAppliedAt;
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
    this.live.startFrom(await this.options.readModel.checkpoint());
    // Waiters for positions the read model already holds (e.g. written into a rebuilt generation
    // while the subscription was closed) would otherwise wait for the next event to be applied.
    this.waiters.release();
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
    if (stored >= this.live.checkpoint || this.stopped || this.resetting) return;
    this.options.log?.('warn', 'read model is behind what was applied (flushed or replaced?); projecting again from the log', {
      readModelCheckpoint: String(stored),
      applied: String(this.live.checkpoint),
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
      await this.live.settled();
      this.live.drop(); // a reader held back by the dropped batches goes on
      await this.ensureOwnReadModel();
      this.live.startFrom(await this.options.readModel.checkpoint());
      this.waiters.release();
      await new Promise<void>((resolve, reject) => this.subscribe(resolve, reject));
      this.rebuilding = undefined;
      this.options.log?.('info', 'read model caught up again', { checkpoint: String(this.live.checkpoint), ms: Date.now() - started });
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
      { fromPosition: this.live.enqueuedTo >= 0n ? this.live.enqueuedTo : undefined, filter: this.options.filter },
      {
        onEvent: (recorded) => this.live.enqueue(recorded),
        onCheckpoint: (position) => this.live.advanceTo(position),
        onCaughtUp: () => {
          caughtUp = true;
          this.resubscribeBackoffMs = RESUBSCRIBE_INITIAL_MS;
          this.live.flushNow().then(onCaughtUp, onFailedBeforeCaughtUp);
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
        await this.live.settled();
        this.live.drop();
        this.live.startFrom(await this.options.readModel.checkpoint());
        this.waiters.release();
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
      fill: (next) => catchUp(this.source, next),
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    await this.subscription?.close();
    this.subscription = undefined;
    this.live.release();
    await this.live.flushNow().catch(() => undefined);
    this.waiters.endAll();
  }

  /**
   * Resolves true once the event at `position` is visible in the read model, false after
   * `timeoutMs` (the write is durable either way; only its visibility is late).
   */
  waitFor(position: bigint, timeoutMs: number): Promise<boolean> {
    return this.waiters.waitFor(position, timeoutMs);
  }

  /**
   * How many events the read model is behind the log (counted up to 1M), and how long ago the
   * oldest of them was written (ms; 0 when caught up).
   */
  async lag(): Promise<ProjectionLag> {
    return this.lagFrom(this.live.checkpoint);
  }

  /** The same, from a given checkpoint (a read model this runner has not started on). */
  async lagFrom(checkpoint: bigint): Promise<ProjectionLag> {
    return lagBehind(this.options.store, this.options.filter, checkpoint);
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
      applied += await catchUp(this.source, next, (n, position) => onProgress?.({ applied: applied + n, total, position }));
      await this.subscription?.close();
      this.subscription = undefined;
      await this.live.flushNow();
      applied += await catchUp(this.source, next);
      await next.activate();
    } catch (error) {
      await next.discard().catch(() => undefined);
      if (!this.stopped && !this.subscription) await this.resume();
      throw error;
    }
    this.live.drop(); // a reader held back by the dropped batches goes on
    await this.resume();
    onProgress?.({ applied, total: Math.max(total, applied), position: this.live.checkpoint });
    return { events: applied, ms: Date.now() - started };
  }
}
