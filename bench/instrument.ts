// Counts and times the event store's appends of the in-process service, by wrapping the
// instance's method at run time (no source file changes). The SQLite store commits the appends
// of one turn together (group commit), synchronously (better-sqlite3): the time the event loop
// is blocked in them is the time it reports spent committing. For a store that does not report
// it, the time until append() returns its promise is taken instead.
import type { EventStore } from '../src/store/event-store.ts';
import { readThroughCacheHits } from '../src/readmodel/cached-read-model.ts';
import type { ReadModel } from '../src/readmodel/read-model.ts';

export interface AppendTally {
  count: number;
  ms: number;
}

export function instrumentAppends(store: EventStore): () => AppendTally {
  const tally: AppendTally = { count: 0, ms: 0 };
  // The service's store is the SQLite adapter behind the metrics wrapper (countingAppends).
  const adapter = (store as { unwrapped?: EventStore }).unwrapped ?? store;
  const committing = (): number | undefined => (adapter as { groupCommitStats?: { commitMs: number } }).groupCommitStats?.commitMs;
  const commitMsAtStart = committing();
  const original = store.append.bind(store);
  store.append = (...args: Parameters<EventStore['append']>) => {
    const t0 = performance.now();
    try {
      return original(...args);
    } finally {
      tally.ms += performance.now() - t0;
      tally.count++;
    }
  };
  return () => {
    const commitMs = committing();
    return { count: tally.count, ms: commitMs !== undefined && commitMsAtStart !== undefined ? commitMs - commitMsAtStart : tally.ms };
  };
}

/**
 * Queries the request paths make of the read model (get, hgetall, smembers, rate counters) that
 * reach its backend (with Redis, each is a round trip); those answered by the in-process cache of
 * project and key records are not counted.
 */
export function instrumentReadModelQueries(readModel: ReadModel): () => number {
  const hitsBefore = readThroughCacheHits(readModel);
  let count = 0;
  for (const name of ['get', 'hgetall', 'smembers', 'rateTake', 'takeAndRead'] as const) {
    const original = readModel[name].bind(readModel) as (...args: unknown[]) => Promise<unknown>;
    (readModel as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[name] = (...args: unknown[]) => {
      count++;
      return original(...args);
    };
  }
  return () => count - (readThroughCacheHits(readModel) - hitsBefore);
}
