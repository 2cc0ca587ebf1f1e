// The rate-limit rule both read models apply (the Redis adapter runs the same steps in one Lua
// script, redis-read-model-scripts.ts LUA_GCRA): a token bucket in its GCRA form. A limit of
// `limit` per `windowMs` lets `limit` through at once, then one every `windowMs / limit`, so no
// instant is special: unlike a fixed window aligned to the clock, spending a budget just before a
// boundary and again just after gets nothing extra. Over any span of t ms at most
// limit + t·limit/windowMs units pass. The state is one number per key, the theoretical arrival
// time (TAT): the time at which the bucket would be full again.

export interface RateDecision {
  /** Whether the units were taken (always true for a peek that would pass, and for a give-back). */
  allowed: boolean;
  /** When refused: how long until the units would be allowed (ms); 0 when allowed. */
  retryAfterMs: number;
  /** Units still available right after this call. */
  remaining: number;
}

export interface GcraStep extends RateDecision {
  /** The TAT to store, or undefined to delete the key (the bucket is full). Unchanged when refused or peeked. */
  tat: number | undefined;
  /** Whether the stored state changes. */
  write: boolean;
}

/**
 * Float slack: TATs are epoch-ms sums of windowMs/limit, which need not be whole milliseconds, and
 * at 1.7e12 a double holds only ~0.0002 ms: fifteen steps of 10000/15 already overshoot 10 s by
 * 0.001 ms, which a 1e-6 slack refused (the 15th of 15 was a 429). One millisecond is far below
 * anything a limit means and far above any rounding.
 */
const SLACK_MS = 1;

export function validateRateTake(limit: number, windowMs: number, nowMs: number, add: number): void {
  if (!Number.isSafeInteger(limit) || limit <= 0) throw new RangeError(`rateTake: limit must be a positive integer, got ${limit}`);
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) throw new RangeError(`rateTake: windowMs must be a positive integer, got ${windowMs}`);
  if (!Number.isFinite(nowMs)) throw new RangeError(`rateTake: nowMs must be finite, got ${nowMs}`);
  if (!Number.isSafeInteger(add)) throw new RangeError(`rateTake: add must be an integer, got ${add}`);
}

/**
 * One step on a key whose stored TAT is `stored` (undefined: none). `add` > 0 takes that many
 * units, or none if they do not all fit; 0 only looks (would one unit pass?); < 0 gives back
 * units taken earlier (never more than the bucket holds).
 */
export function gcraStep(stored: number | undefined, limit: number, windowMs: number, nowMs: number, add: number): GcraStep {
  const interval = windowMs / limit;
  const base = Math.max(stored ?? nowMs, nowMs);
  const remainingAt = (tat: number): number => Math.max(0, Math.floor((windowMs - (tat - nowMs) + SLACK_MS) / interval));
  if (add < 0) {
    const tat = Math.max(nowMs, base + add * interval);
    return { allowed: true, retryAfterMs: 0, remaining: remainingAt(tat), tat: tat > nowMs ? tat : undefined, write: stored !== undefined };
  }
  const wanted = base + Math.max(add, 1) * interval;
  const over = wanted - nowMs - windowMs;
  if (over > SLACK_MS) return { allowed: false, retryAfterMs: Math.ceil(over), remaining: remainingAt(base), tat: stored, write: false };
  if (add === 0) return { allowed: true, retryAfterMs: 0, remaining: remainingAt(base), tat: stored, write: false };
  return { allowed: true, retryAfterMs: 0, remaining: remainingAt(wanted), tat: wanted, write: true };
}
