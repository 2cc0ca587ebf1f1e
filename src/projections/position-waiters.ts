// Read-your-writes: a writer waits until the event it appended at `position` is visible in the
// read model, or gives up after a while (the write is durable either way; only its visibility is late).

interface Waiter {
  position: bigint;
  resolve: (visible: boolean) => void;
}

export class PositionWaiters {
  private waiters: Waiter[] = [];

  /** `visibleTo`: the position of the last event the read model holds. */
  constructor(
    private readonly visibleTo: () => bigint,
    private readonly log?: (level: 'warn', msg: string, fields: Record<string, unknown>) => void,
  ) {}

  /** Resolves true once the event at `position` is visible, false after `timeoutMs`. */
  waitFor(position: bigint, timeoutMs: number): Promise<boolean> {
    if (position <= this.visibleTo()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = { position, resolve: () => {} };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        this.log?.('warn', 'projection did not reach a write in time', { position: String(position), timeoutMs });
        resolve(false);
      }, timeoutMs);
      waiter.resolve = (visible) => {
        clearTimeout(timer);
        resolve(visible);
      };
      this.waiters.push(waiter);
    });
  }

  /** Answers the waiters whose position is visible now. */
  release(): void {
    if (!this.waiters.length) return;
    const visible = this.visibleTo();
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.position <= visible) w.resolve(true);
      else still.push(w);
    }
    this.waiters = still;
  }

  /** Answers every waiter "not visible" (the runner stops). */
  endAll(): void {
    for (const w of this.waiters.splice(0)) w.resolve(false);
  }
}
