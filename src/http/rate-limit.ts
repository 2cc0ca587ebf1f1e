// Rate limits kept in the read model's token buckets (gcra.ts; Redis in production, so every
// instance shares them). A unit is taken before the work it guards and given back when the outcome
// is not one the limit counts (e.g. a right guess), so callers that do not fail never use up their
// budget, and concurrent callers cannot overshoot it.
import type { AppContext } from '../app-context.ts';
import { knownError } from '../errors.ts';
import { effectiveRateLimit, type RateLimitName } from '../rate-limit-catalogue.ts';
import type { ProjectView } from '../projections/project-projection.ts';
import type { ReadStep, ReadStepValue } from '../readmodel/read-model.ts';

/** The project's setting of a named limit (its override, or the default), on the given counter. */
export function projectLimit(project: Pick<ProjectView, 'rateLimits'>, name: RateLimitName, key: string): RateLimit {
  return { key, ...effectiveRateLimit(project.rateLimits, name) };
}

export interface RateLimit {
  /** Counter key, naming what is limited and for whom (e.g. `cli-guess-ip:<project>:<address>`). */
  key: string;
  limit: number;
  windowMs: number;
  /** The key is already the bucket's key as stored, made of digests only (not digested again). */
  stored?: boolean;
}

/** The limit's name for metrics: its counter key up to the first `:` (bounded, no ids). */
const limitName = (l: RateLimit): string => l.key.slice(0, Math.max(0, l.key.indexOf(':'))) || l.key;

function rateLimited(app: AppContext, l: RateLimit, retryAfterMs: number): never {
  app.metrics.rateLimitRefusals.inc({ limit: limitName(l) });
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  throw knownError('RATE_LIMITED', `Too many attempts. Try again in ${retryAfterSeconds} s.`, { retry_after_seconds: retryAfterSeconds }, {
    'retry-after': String(retryAfterSeconds),
  });
}

export interface LimitReservation {
  /** Gives the taken units back: the outcome was not one the limits count (e.g. a right guess). */
  release(): Promise<void>;
}

/**
 * The bucket's key as the read model stores it: the limit's name, then a digest of whom it counts
 * (a client address is personal data, and the read model holds none in plain text).
 */
export function bucketKey(app: AppContext, l: Pick<RateLimit, 'key' | 'stored'>): string {
  if (l.stored === true) return l.key;
  const colon = l.key.indexOf(':');
  return colon < 0 ? l.key : `${l.key.slice(0, colon + 1)}${app.hasher.digest('rate-limit-key', l.key.slice(colon + 1))}`;
}

const take = (app: AppContext, l: RateLimit, nowMs: number, add: number) => app.readModel.rateTake(bucketKey(app, l), l.limit, l.windowMs, nowMs, add);

/**
 * Takes one unit of every limit before the work it guards, each atomically, so that concurrent
 * requests (on any instance sharing Redis) cannot all slip under a limit at once; when one is
 * used up, gives back what it took and throws 429. Checking first and counting after the
 * outcome instead would let N concurrent wrong guesses all pass a limit with one unit left.
 */
export async function reserveLimits(app: AppContext, limits: readonly RateLimit[]): Promise<LimitReservation> {
  const now = app.clock();
  const taken: RateLimit[] = [];
  for (const l of limits) {
    const decision = await take(app, l, now, 1);
    if (!decision.allowed) {
      await giveBack(app, taken).catch(() => undefined);
      rateLimited(app, l, decision.retryAfterMs);
    }
    taken.push(l);
  }
  return reservationOf(app, taken);
}

/** Gives the units back two to a step (takeAndRead's take and its second take): one round trip to Redis per pair. */
const giveBack = async (app: AppContext, taken: readonly RateLimit[]): Promise<void> => {
  const at = app.clock();
  const back = (l: RateLimit) => ({ key: bucketKey(app, l), limit: l.limit, windowMs: l.windowMs, nowMs: at, add: -1 });
  const steps: Promise<unknown>[] = [];
  for (let i = 0; i < taken.length; i += 2) {
    const [first, second] = [taken[i] as RateLimit, taken[i + 1]];
    steps.push(app.readModel.takeAndRead(back(first), [], second ? back(second) : undefined));
  }
  await Promise.all(steps);
};

function reservationOf(app: AppContext, taken: readonly RateLimit[]): LimitReservation {
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      // Best effort: if the read model is unreachable now, the unit stays counted, which errs on
      // the side of the limit.
      await giveBack(app, taken).catch((error: unknown) => app.log.warn('could not give back a rate-limit unit', { error: String(error) }));
    },
  };
}

/**
 * reserveLimits for one limit together with the reads the request needs (ReadModel.takeAndRead):
 * one round trip to Redis. Throws 429 when the unit is refused (whatever the reads found).
 */
export async function reserveWithReads(app: AppContext, l: RateLimit, reads: readonly ReadStep[]): Promise<{ values: ReadStepValue[]; reservation: LimitReservation }> {
  const { rate, values } = await app.readModel.takeAndRead({ key: bucketKey(app, l), limit: l.limit, windowMs: l.windowMs, nowMs: app.clock(), add: 1 }, reads);
  if (!rate?.allowed) rateLimited(app, l, rate?.retryAfterMs ?? 0);
  return { values, reservation: reservationOf(app, [l]) };
}

/** A limit whose counter is named by a value the reads find: its stored key up to that value (digests only), then the value. */
export interface LimitByReadValue {
  /** `<limit name>:<digest of whom>:`, the read value follows. */
  keyPrefix: string;
  from: number;
  field: string;
  limit: number;
  windowMs: number;
}

/**
 * reserveWithReads plus a second limit whose counter is named by what the reads found (a sign-in
 * code's email): both units and the reads in one round trip. The second unit is taken only when
 * the value is there; `secondTaken` says whether it was. Throws 429 when either is refused,
 * having given back what was taken.
 */
export async function reserveWithReadsThen(
  app: AppContext,
  l: RateLimit,
  reads: readonly ReadStep[],
  second: LimitByReadValue,
): Promise<{ values: ReadStepValue[]; reservation: LimitReservation; secondTaken: boolean }> {
  const nowMs = app.clock();
  const { rate, values, thenRate, thenKey } = await app.readModel.takeAndRead({ key: bucketKey(app, l), limit: l.limit, windowMs: l.windowMs, nowMs, add: 1 }, reads, {
    prefix: second.keyPrefix,
    from: second.from,
    field: second.field,
    limit: second.limit,
    windowMs: second.windowMs,
    nowMs,
    add: 1,
  });
  if (!rate?.allowed) rateLimited(app, l, rate?.retryAfterMs ?? 0);
  if (thenKey === undefined || thenRate === undefined) return { values, reservation: reservationOf(app, [l]), secondTaken: false };
  const secondLimit: RateLimit = { key: thenKey, stored: true, limit: second.limit, windowMs: second.windowMs };
  if (!thenRate.allowed) {
    await giveBack(app, [l]).catch(() => undefined);
    rateLimited(app, secondLimit, thenRate.retryAfterMs);
  }
  return { values, reservation: reservationOf(app, [l, secondLimit]), secondTaken: true };
}

/**
 * Counts a failure that has already happened (a wrong code) against budgets strangers share (per
 * project, per email). Such a budget is only ever consulted after a code was found wrong, so it
 * can refuse wrong codes (429 instead of the plain answer) but never a right one. Returns without
 * throwing while every budget has room.
 */
export async function countFailure(app: AppContext, limits: readonly RateLimit[]): Promise<void> {
  const now = app.clock();
  const refused = [];
  for (const l of limits) {
    const decision = await take(app, l, now, 1);
    if (!decision.allowed) refused.push({ l, decision });
  }
  const first = refused[0];
  if (first) rateLimited(app, first.l, first.decision.retryAfterMs);
}
