// Subscriptions to $all on EventStoreDB: catch-up then live, resubscribing after a drop.
import {
  EventStoreDBClient,
  START,
  type AllStreamSubscription,
  type Position,
} from '@eventstore/db-client';
import {
  StoreUnavailableError,
  type AllFilter,
  type Subscription,
  type SubscriptionHandler,
} from './event-store.ts';
import { toRecorded, accepts, serverFilter, isAfter, toStoreError, describe } from './esdb-mapping.ts';

const RESUBSCRIBE_INITIAL_MS = 100;
const RESUBSCRIBE_MAX_MS = 5000;

/** Thrown out of a subscription's loop when the handler failed: that stops it, a server drop does not. */
export class HandlerFailure extends Error {
  constructor(readonly error: unknown) {
    super('subscription handler failed');
  }
}

export interface SubscriptionDeps {
  client: EventStoreDBClient;
  timeoutMs: number;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  headPosition: (filter?: AllFilter) => Promise<bigint>;
  forget: () => void;
}

/**
 * Catch-up then live over `$all`. Delivers each event once, in order, awaiting the handler.
 * When the server drops the subscription (or does not confirm it in time) it resubscribes from the
 * last event it processed, with capped exponential backoff, and says so through the logger; the
 * subscription only stops on close() or when the handler throws (reported through onError).
 */
export class EsdbSubscription implements Subscription {
  private closed = false;
  private current: AllStreamSubscription | undefined;
  private wakeUp: (() => void) | undefined;
  private inFlight: Promise<void> | undefined;
  /** The last event taken off the server, handled or filtered out: where a resubscription starts. */
  private resumeAfter: Position | undefined;
  private resumeCommit: bigint;
  /** The filtered head when the subscription started: reaching it means caught up. */
  private target: bigint | undefined;
  private caughtUp = false;

  constructor(
    private readonly deps: SubscriptionDeps,
    fromPosition: bigint | undefined,
    private readonly filter: AllFilter | undefined,
    private readonly handler: SubscriptionHandler,
  ) {
    const from = fromPosition !== undefined && fromPosition >= 0n ? fromPosition : undefined;
    this.resumeAfter = from === undefined ? undefined : { commit: from, prepare: from };
    this.resumeCommit = from ?? -1n;
    // run() handles its own failures; only a throwing logger or onError could get here.
    this.run().catch((error: unknown) => deps.log('EventStoreDB subscription loop failed', { error: describe(error) }));
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.wakeUp?.();
      const current = this.current;
      if (current) {
        await current.unsubscribe().catch(() => {});
        current.destroy();
      }
    }
    // A handler already running finishes; none starts after this.
    await this.inFlight?.catch(() => {});
    this.deps.forget();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      try {
        await this.subscribeOnce(() => {
          if (attempt > 0) this.deps.log('EventStoreDB subscription resumed', { after: this.resumeCommit.toString(), attempts: attempt });
          attempt = 0;
        });
        if (this.closed) break;
        throw new StoreUnavailableError('EventStoreDB ended the subscription');
      } catch (error) {
        if (this.closed) break;
        if (error instanceof HandlerFailure) {
          this.closed = true;
          this.deps.forget();
          this.deps.log('EventStoreDB subscription stopped: the handler failed', { error: describe(error.error) });
          this.handler.onError?.(error.error instanceof Error ? error.error : new Error(String(error.error)));
          break;
        }
        const delayMs = Math.min(RESUBSCRIBE_MAX_MS, RESUBSCRIBE_INITIAL_MS * 2 ** attempt);
        attempt += 1;
        this.deps.log('EventStoreDB subscription interrupted; resubscribing', {
          error: describe(toStoreError(error, 'subscription')),
          attempt,
          retryInMs: delayMs,
          after: this.resumeCommit.toString(),
        });
        await this.sleep(delayMs);
      }
    }
  }

  private async subscribeOnce(onConfirmed: () => void): Promise<void> {
    // Decided once, before the first subscription: what exists now is what "caught up" means.
    if (this.target === undefined) this.target = await this.deps.headPosition(this.filter);
    let processed = 0;
    let serverCaughtUpAt: number | undefined;
    this.checkCaughtUp(processed, serverCaughtUpAt);
    if (this.closed) return;

    let taken = 0;
    /** A checkpoint heard while events before it were still buffered or being handled. */
    let pendingCheckpoint: { commit: bigint; at: number } | undefined;
    // The client calls this as it parses the checkpoint, maybe before the events ahead of it were
    // handled: it counts only once everything taken or buffered at that moment has been processed.
    const onServerCheckpoint = async (position: Position): Promise<void> => {
      const at = taken + subscription.readableLength;
      if (processed >= at) await this.checkpoint(position.commit, subscription);
      else pendingCheckpoint = { commit: position.commit, at };
    };
    const subscription: AllStreamSubscription = this.deps.client.subscribeToAll({
      fromPosition: this.resumeAfter ?? START,
      filter: serverFilter(this.filter, onServerCheckpoint),
      resolveLinkTos: false,
    });
    this.current = subscription;
    // A hung server never confirms: treat that like a drop, so the backoff loop takes over.
    const confirmTimer = setTimeout(
      () => subscription.destroy(new StoreUnavailableError(`EventStoreDB did not confirm the subscription within ${this.deps.timeoutMs} ms`)),
      this.deps.timeoutMs,
    );
    subscription.once('confirmation', () => {
      clearTimeout(confirmTimer);
      onConfirmed();
    });
    // 23.10+ servers say when they switch to live. The client emits that as soon as it parses the
    // message, while events before it may still sit unhandled in the stream's buffer, so it only
    // counts once everything taken or buffered at that moment has been processed.
    subscription.on('caughtUp', () => {
      serverCaughtUpAt = taken + subscription.readableLength;
      this.checkCaughtUp(processed, serverCaughtUpAt);
    });
    try {
      for await (const resolved of subscription) {
        taken += 1;
        const event = resolved.event;
        if (event && isAfter(event.position, this.resumeAfter)) {
          if (accepts(event, this.filter)) {
            if (this.closed) return;
            const recorded = toRecorded(event);
            const handling = Promise.resolve().then(() => this.handler.onEvent(recorded));
            this.inFlight = handling;
            try {
              await handling;
            } catch (error) {
              throw new HandlerFailure(error);
            } finally {
              this.inFlight = undefined;
            }
          }
          this.resumeAfter = event.position;
          this.resumeCommit = event.position.commit;
        }
        processed += 1;
        if (this.closed) return;
        if (pendingCheckpoint && processed >= pendingCheckpoint.at) {
          const { commit } = pendingCheckpoint;
          pendingCheckpoint = undefined;
          await this.checkpoint(commit, subscription);
        }
        this.checkCaughtUp(processed, serverCaughtUpAt);
      }
    } finally {
      clearTimeout(confirmTimer);
      this.current = undefined;
      await subscription.unsubscribe().catch(() => {});
      subscription.destroy();
    }
  }

  /**
   * The server looked at everything before `commit`. Whether its checkpoint names the last event
   * it looked at or the next one to read is not documented, so the position just before it is
   * what is safe either way: resuming after it can neither skip an event nor repeat a delivered one.
   */
  private async checkpoint(commit: bigint, subscription: AllStreamSubscription): Promise<void> {
    const safe = commit - 1n;
    if (this.closed || safe <= this.resumeCommit) return;
    this.resumeAfter = { commit: safe, prepare: safe };
    this.resumeCommit = safe;
    try {
      await this.handler.onCheckpoint?.(safe);
    } catch (error) {
      // Stops the subscription as a throwing onEvent does (the loop sees the HandlerFailure).
      subscription.destroy(new HandlerFailure(error));
    }
    this.checkCaughtUp(Number.POSITIVE_INFINITY, undefined);
  }

  private checkCaughtUp(processed: number, serverCaughtUpAt: number | undefined): void {
    if (this.caughtUp || this.closed) return;
    const reachedHead = this.target !== undefined && this.resumeCommit >= this.target;
    const serverSaysSo = serverCaughtUpAt !== undefined && processed >= serverCaughtUpAt;
    if (!reachedHead && !serverSaysSo) return;
    this.caughtUp = true;
    try {
      this.handler.onCaughtUp?.();
    } catch (error) {
      this.deps.log('onCaughtUp threw', { error: describe(error) });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakeUp = wake;
    });
  }
}
