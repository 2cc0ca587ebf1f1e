// How far a read model is behind the log: for /metrics, /ready and `authlog projections status`.
import type { AllFilter, EventStore } from '../store/event-store.ts';

export interface ProjectionLag {
  events: bigint;
  checkpoint: bigint;
  head: bigint;
  /** Age of the oldest event not applied yet (ms), by the clock of this process; 0 when caught up. */
  ms: number;
}

/**
 * How many events of `filter` lie after `checkpoint` (counted up to 1M), and how long ago the
 * oldest of them was written (ms; 0 when caught up).
 */
export async function lagBehind(store: EventStore, filter: AllFilter, checkpoint: bigint): Promise<ProjectionLag> {
  const head = await store.headPosition(filter);
  // Positions are not dense (other streams, EventStoreDB's byte positions): count what is behind.
  let events = 0n;
  let oldestAt: string | undefined;
  if (head > checkpoint) {
    for await (const e of store.readAll({ ...(checkpoint >= 0n ? { fromPosition: checkpoint } : {}), filter })) {
      oldestAt ??= e.metadata.occurredAt;
      events++;
      if (events >= 1_000_000n) break;
    }
  }
  const writtenAt = oldestAt === undefined ? NaN : Date.parse(oldestAt);
  return { events, checkpoint, head, ms: Number.isNaN(writtenAt) ? 0 : Math.max(0, Date.now() - writtenAt) };
}
