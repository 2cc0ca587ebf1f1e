// The live side of a projection: events the subscription delivers are projected and queued, and
// applied to the read model in batches, one at a time and in order, each with its checkpoint. A
// read model that does not answer keeps the queue (retried with backoff) and, once two batches
// are pending, holds the subscription back so that memory stays bounded.
import { setTimeout as delay } from 'node:timers/promises';
import type { RecordedEvent } from '../store/event-store.ts';
import { ReadModelBehindError, ReadModelOfAnotherLogError, type ProjectedEvent, type ReadModel } from '../readmodel/read-model.ts';
import { projectRecorded, type Projector } from './projector.ts';

export interface LiveBatchesOptions {
  readModel: ReadModel;
  projector: Projector;
  batchSize: number;
  /** The log identity every write carries, once known. */
  writeOptions: () => { logId?: string };
  stopped: () => boolean;
  /** After every batch applied (the checkpoint moved). */
  onApplied: () => void;
  /** The read model lost data since the last batch (flushed, replaced): the queue was dropped. */
  onBehind: () => void;
  /** The live generation is of another log: the queue was dropped. */
  onOfAnotherLog: () => void;
  log?: (level: 'warn', msg: string, fields: Record<string, unknown>) => void;
}

export class LiveBatches {
  private checkpointValue = -1n;
  /** Position of the last event taken from the subscription (applied or pending). */
  private enqueuedToValue = -1n;
  private pending: ProjectedEvent[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  /** A flush started by a full batch is applying (it drains whatever arrives meanwhile). */
  private draining = false;
  private appliedListeners: (() => void)[] = [];
  private lastAppliedAtMs = Date.now();

  constructor(private readonly options: LiveBatchesOptions) {}

  /** Position of the last event applied to the read model, or -1n. */
  get checkpoint(): bigint {
    return this.checkpointValue;
  }

  /** Position of the last event taken in (applied or pending): a subscription goes on after it. */
  get enqueuedTo(): bigint {
    return this.enqueuedToValue;
  }

  /** When the read model last moved (epoch ms). */
  get lastAppliedAt(): number {
    return this.lastAppliedAtMs;
  }

  /** Starts again at the read model's `checkpoint`, nothing pending. */
  startFrom(checkpoint: bigint): void {
    this.checkpointValue = checkpoint;
    this.enqueuedToValue = checkpoint;
  }

  /** Resolves once the flush under way, if any, has ended (whichever way). */
  settled(): Promise<void> {
    return this.flushing.catch(() => undefined);
  }

  /** Forgets what is pending; a subscription held back by it goes on. */
  drop(): void {
    this.pending = [];
    this.signalBatchApplied();
  }

  /** Lets a subscription held back go on (the runner stops). */
  release(): void {
    this.signalBatchApplied();
  }

  async enqueue(recorded: RecordedEvent): Promise<void> {
    if (recorded.position <= this.enqueuedToValue) return;
    this.enqueuedToValue = recorded.position;
    this.pending.push(projectRecorded(this.options.projector, recorded));
    if (this.pending.length < this.options.batchSize) return this.scheduleFlush();
    // The read model applies this batch while the subscription reads and projects the next one
    // (batches still apply one at a time, in order, each with its checkpoint). Two batches
    // pending: wait, so that memory stays bounded and a read model that is down holds us back.
    if (!this.draining) {
      this.draining = true;
      this.flushNow()
        .catch(() => undefined)
        .finally(() => (this.draining = false));
    }
    while (this.pending.length >= 2 * this.options.batchSize && !this.options.stopped()) await this.nextBatchApplied();
  }

  /**
   * The store looked at everything up to `position` and none of it is ours: nothing to project,
   * but the checkpoint moves with the next batch, so a restart does not scan that stretch again.
   */
  advanceTo(position: bigint): void {
    if (position <= this.enqueuedToValue) return;
    this.enqueuedToValue = position;
    const last = this.pending.at(-1);
    // Consecutive stretches without ops collapse into one entry: one checkpoint write, not many.
    if (last && last.ops.length === 0) this.pending[this.pending.length - 1] = { position, ops: [] };
    else this.pending.push({ position, ops: [] });
    this.scheduleFlush();
  }

  /** Applies everything pending; on a read-model failure keeps it and retries with backoff. */
  flushNow(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      let backoffMs = 50;
      while (this.pending.length) {
        const batch = this.pending.slice(0, this.options.batchSize);
        try {
          this.checkpointValue = await this.options.readModel.applyBatch(batch, {
            ...this.options.writeOptions(),
            ...(this.checkpointValue >= 0n ? { expectAtLeast: this.checkpointValue } : {}),
          });
          this.pending.splice(0, batch.length);
          this.lastAppliedAtMs = Date.now();
          this.options.onApplied();
          this.signalBatchApplied();
          backoffMs = 50;
        } catch (error) {
          if (this.options.stopped()) throw error;
          if (error instanceof ReadModelBehindError) {
            // The read model lost data since the last batch (flushed, replaced): this batch must
            // not land on it. Project again from where it stands, as the watchdog would.
            this.drop();
            setImmediate(() => this.options.onBehind());
            return;
          }
          if (error instanceof ReadModelOfAnotherLogError) {
            // The live generation was switched to one of another log (an instance of another log
            // shares this Redis): nothing of ours lands in it; judge it and rebuild.
            this.drop();
            setImmediate(() => this.options.onOfAnotherLog());
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

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushNow().catch(() => undefined);
    });
  }

  /** Resolves when the read model has taken one more batch (or the queue is dropped or released). */
  private nextBatchApplied(): Promise<void> {
    return new Promise((resolve) => this.appliedListeners.push(resolve));
  }

  private signalBatchApplied(): void {
    for (const listener of this.appliedListeners.splice(0)) listener();
  }
}
