// A read-through cache in front of a read model, for the few keys every request reads and that
// almost never change: the project record and the API-key index (authenticating a request read
// both from Redis, two round trips, before any work). Entries are dropped precisely when the
// projection writes their key, so a cached entry is never older than what this instance's
// projection has applied: a command that waits for its write to be projected reads it back, as
// without the cache. (Another instance's write is seen once this instance's projection applies
// it, a few milliseconds later; it would read the same from a shared Redis only that much sooner.)
//
// Only found values are cached: absent keys are what an attacker sends (random project ids and
// keys), so caching them would let anyone fill memory. Cacheable keys must not expire.
import type { NextGeneration, ProjectedEvent, ReadModel } from './read-model.ts';

export interface ReadThroughCacheOptions {
  /** Which keys may be cached (e.g. `project:` and `apikey:` keys). */
  cacheable(key: string): boolean;
  /** Past this many entries the cache starts over; a bound, not a tuning knob. */
  maxEntries?: number;
}

interface Values {
  get: string;
  hgetall: Record<string, string>;
  smembers: string[];
}
type Cached = { [K in keyof Values]: { kind: K; value: Values[K] } }[keyof Values];

const hitCounts = new WeakMap<ReadModel, { hits: number }>();

/** Reads answered from the cache so far (for the benchmark's round-trip count); 0 for another model. */
export const readThroughCacheHits = (rm: ReadModel): number => hitCounts.get(rm)?.hits ?? 0;

export function withReadThroughCache(inner: ReadModel, options: ReadThroughCacheOptions): ReadModel {
  const maxEntries = options.maxEntries ?? 10_000;
  const cache = new Map<string, Cached>();
  const counts = { hits: 0 };
  // A read that overlapped a write may have read either side of it; it must not be cached. Every
  // write bumps `epoch` when it starts and when it ends, and a read caches only if the epoch it
  // started under is still current and no write is running.
  let epoch = 0;
  let writing = 0;

  async function beginWrite<T>(keys: Iterable<string> | 'all', write: () => Promise<T>): Promise<T> {
    writing++;
    epoch++;
    drop(keys);
    try {
      return await write();
    } finally {
      drop(keys);
      writing--;
      epoch++;
    }
  }

  function drop(keys: Iterable<string> | 'all'): void {
    if (keys === 'all') cache.clear();
    else for (const key of keys) cache.delete(key);
  }

  function touchedKeys(events: readonly ProjectedEvent[]): string[] {
    const keys: string[] = [];
    for (const event of events) for (const op of event.ops) if (options.cacheable(op.key)) keys.push(op.key);
    return keys;
  }

  async function readThrough<K extends keyof Values>(kind: K, key: string, read: () => Promise<Values[K] | undefined>): Promise<Values[K] | undefined> {
    if (!options.cacheable(key)) return read();
    const hit = cache.get(key);
    if (hit?.kind === kind) {
      counts.hits++;
      return copy(hit.value as Values[K]);
    }
    const startedAt = epoch;
    const value = await read();
    const found = value !== undefined && !(Array.isArray(value) && value.length === 0);
    if (found && writing === 0 && epoch === startedAt) {
      if (cache.size >= maxEntries) cache.clear();
      cache.set(key, { kind, value: copy(value) } as Cached);
    }
    return value;
  }

  const cached: ReadModel = {
    get kind() {
      return inner.kind;
    },
    get: (key) => readThrough('get', key, () => inner.get(key)),
    hgetall: (key) => readThrough('hgetall', key, () => inner.hgetall(key)),
    smembers: async (key) => (await readThrough('smembers', key, () => inner.smembers(key))) ?? [],
    applyBatch: (events, applyOptions) => beginWrite(touchedKeys(events), () => inner.applyBatch(events, applyOptions)),
    checkpoint: () => inner.checkpoint(),
    provenance: () => inner.provenance(),
    rateTake: (key, limit, windowMs, nowMs, add) => inner.rateTake(key, limit, windowMs, nowMs, add),
    // The chains read request-specific records (codes, sessions), never the cacheable ones.
    takeAndRead: (take, reads, then) => inner.takeAndRead(take, reads, then),
    async openNextGeneration(): Promise<NextGeneration> {
      const next = await inner.openNextGeneration();
      return {
        id: next.id,
        applyBatch: (events, applyOptions) => next.applyBatch(events, applyOptions),
        checkpoint: () => next.checkpoint(),
        provenance: () => next.provenance(),
        // The live generation is replaced wholesale: nothing cached from the old one may stay.
        activate: (activateOptions) => beginWrite('all', () => next.activate(activateOptions)),
        discard: () => next.discard(),
      };
    },
    digest: () => inner.digest(),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  hitCounts.set(cached, counts);
  return cached;
}

/** Callers get their own copy: a caller changing a returned object must not change the cache. */
function copy<T>(value: T): T {
  if (Array.isArray(value)) return [...value] as T;
  if (typeof value === 'object' && value !== null) return { ...value };
  return value;
}
