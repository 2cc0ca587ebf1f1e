// Counts and times the event store's appends of the in-process service, by wrapping the
// instance's method at run time (no source file changes). The SQLite store appends
// synchronously (better-sqlite3) before its async method returns its promise, so the time until
// that promise is returned is exactly the time the event loop is blocked in the append (timing
// until it resolves would also count whatever other callbacks run before the caller resumes).
import type { EventStore } from '../src/store/event-store.ts';
import { readThroughCacheHits } from '../src/readmodel/cached-read-model.ts';
import type { ReadModel } from '../src/readmodel/read-model.ts';

export interface AppendTally {
  count: number;
  ms: number;
}

export function instrumentAppends(store: EventStore): () => AppendTally {
  const tally: AppendTally = { count: 0, ms: 0 };
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
  return () => ({ ...tally });
}

/**
 * Queries the request paths make of the read model (get, hgetall, smembers, rate counters) that
 * reach its backend (with Redis, each is a round trip); those answered by the in-process cache of
 * project and key records are not counted.
 */
export function instrumentReadModelQueries(readModel: ReadModel): () => number {
  const hitsBefore = readThroughCacheHits(readModel);
  let count = 0;
  for (const name of ['get', 'hgetall', 'smembers', 'rateWindow'] as const) {
    const original = readModel[name].bind(readModel) as (...args: unknown[]) => Promise<unknown>;
    (readModel as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[name] = (...args: unknown[]) => {
      count++;
      return original(...args);
    };
  }
  return () => count - (readThroughCacheHits(readModel) - hitsBefore);
}
