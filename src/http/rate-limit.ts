// Fixed-window rate limits kept in the read model's counters (Redis in production, so every
// instance shares them). A limit is checked before the work it guards and counted after the
// outcome it limits (e.g. a failed guess), so callers that do not fail never use up their budget.
import type { AppContext } from '../app-context.ts';
import { knownError } from '../errors.ts';
import { effectiveRateLimit, type RateLimitName } from '../rate-limit-catalogue.ts';
import type { ProjectView } from '../projections/project-projection.ts';

/** The project's setting of a named limit (its override, or the default), on the given counter. */
export function projectLimit(project: Pick<ProjectView, 'rateLimits'>, name: RateLimitName, key: string): RateLimit {
  return { key, ...effectiveRateLimit(project.rateLimits, name) };
}

export interface RateLimit {
  /** Counter key, naming what is limited and for whom (e.g. `cli-guess-ip:<project>:<address>`). */
  key: string;
  limit: number;
  windowMs: number;
}

/** The limit's name for metrics: its counter key up to the first `:` (bounded, no ids). */
const limitName = (l: RateLimit): string => l.key.slice(0, Math.max(0, l.key.indexOf(':'))) || l.key;

function rateLimited(app: AppContext, l: RateLimit, resetAtMs: number, now: number): never {
  app.metrics.rateLimitRefusals.inc({ limit: limitName(l) });
  const retryAfterSeconds = Math.max(1, Math.ceil((resetAtMs - now) / 1000));
  throw knownError('RATE_LIMITED', `Too many attempts. Try again in ${retryAfterSeconds} s.`, { retry_after_seconds: retryAfterSeconds }, {
    'retry-after': String(retryAfterSeconds),
  });
}

/** Throws 429 RATE_LIMITED with retry-after when any of the limits is used up. */
export async function assertWithinLimits(app: AppContext, limits: readonly RateLimit[]): Promise<void> {
  const now = app.clock();
  for (const l of limits) {
    const window = await app.readModel.rateWindow(l.key, l.windowMs, now, 0);
    if (window.count >= l.limit) rateLimited(app, l, window.resetAtMs, now);
  }
}

/**
 * Counts this request and throws 429 when it is over a limit: one atomic increment per counter,
 * so concurrent requests (on any instance sharing Redis) cannot all slip under it at once.
 */
export async function consumeLimits(app: AppContext, limits: readonly RateLimit[]): Promise<void> {
  const now = app.clock();
  for (const l of limits) {
    const window = await app.readModel.rateWindow(l.key, l.windowMs, now, 1);
    if (window.count > l.limit) rateLimited(app, l, window.resetAtMs, now);
  }
}

export async function countAgainstLimits(app: AppContext, limits: readonly RateLimit[]): Promise<void> {
  const now = app.clock();
  for (const l of limits) await app.readModel.rateWindow(l.key, l.windowMs, now, 1);
}
