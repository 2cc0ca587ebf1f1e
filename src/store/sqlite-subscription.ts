// A live subscription to `$all` in the SQLite event store: catch-up by pages, then woken by this
// process's commits or by the store's poll of the file for other processes' appends.
import type { RecordedEvent, Subscription, SubscriptionHandler } from './event-store.ts';

export const PAGE_SIZE = 1000;

export interface Page {
  events: RecordedEvent[];
  /** Every position up to here has been looked at; the next page starts after it. */
  scannedTo: bigint;
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** Catch-up then live over `$all`, delivering one event at a time, in position order. */
export class SqliteSubscription implements Subscription {
  private stopped = false;
  /** Something may have been appended since the last read. Starts true: catch-up is a read. */
  private dirty = true;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly readPage: (after: bigint, limit: number) => Page,
    private cursor: bigint,
    private readonly handler: SubscriptionHandler,
    private readonly onStopped: (subscription: SqliteSubscription) => void,
  ) {}

  wake(): void {
    this.dirty = true;
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  /** No onEvent starts after this; one already running is not interrupted. */
  stop(): void {
    this.stopped = true;
    this.wake();
  }

  async close(): Promise<void> {
    this.stop();
    this.onStopped(this);
  }

  async run(): Promise<void> {
    try {
      await this.deliverAvailable();
      if (this.stopped) return;
      this.handler.onCaughtUp?.();
      while (!this.stopped) {
        if (!this.dirty) await new Promise<void>((resolve) => (this.wakeUp = resolve));
        await this.deliverAvailable();
      }
    } catch (error) {
      if (this.stopped) return;
      this.stopped = true;
      this.onStopped(this);
      this.handler.onError?.(asError(error));
    }
  }

  private async deliverAvailable(): Promise<void> {
    while (!this.stopped) {
      // Cleared before the read: an append committed after it sets it again, so it is not missed.
      this.dirty = false;
      const page = this.readPage(this.cursor, PAGE_SIZE);
      for (const event of page.events) {
        if (this.stopped) return;
        await this.handler.onEvent(event);
      }
      if (this.stopped) return;
      // Scanned past the last match: the subscriber's checkpoint may move without an event.
      const lastDelivered = page.events.at(-1)?.position ?? this.cursor;
      if (page.scannedTo > lastDelivered) await this.handler.onCheckpoint?.(page.scannedTo);
      if (this.stopped) return;
      this.cursor = page.scannedTo;
      if (page.events.length < PAGE_SIZE) return;
    }
  }
}
