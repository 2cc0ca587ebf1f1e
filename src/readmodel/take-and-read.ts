// What a read request needs from the read model before it can answer, asked in one step
// (ReadModel.takeAndRead): the rate unit it spends, and the view it reads, which is often a chain
// (a polling code's digest names an attempt; a refresh token's digest names a session, whose
// record names its user). With Redis that is one Lua script, one round trip, instead of a
// rate-limit script and then one read per link; the memory adapter follows the same rules here.
import { validateRateTake, type RateDecision } from './gcra.ts';

/** A rateTake, as ReadModel.rateTake's arguments. */
export interface RateTake {
  key: string;
  limit: number;
  windowMs: number;
  nowMs: number;
  add: number;
}

/**
 * One read of the chain: a key given outright, or one made of `prefix` and a value an earlier step
 * read (`from`, its index): the string a get read, or the field `field` of the hash an hgetall read.
 * A step whose source is absent (or the field missing or empty) reads as absent, without a read.
 */
export type ReadStep =
  | { op: 'get' | 'hgetall'; key: string }
  | { op: 'get' | 'hgetall'; prefix: string; from: number; field?: string };

export type ReadStepValue = string | Record<string, string> | undefined;

/**
 * A second take, after the reads: on a key given outright, or on `prefix` + a value an earlier
 * step read (as a ReadStep's `from`/`field`), e.g. a budget per (email, address) whose email is
 * only known from the code record just read. Made only when the first take, if any, was allowed
 * and the key is complete; then `thenRate` has its decision and `thenKey` the key it took from.
 */
export type ThenTake = Omit<RateTake, 'key'> & ({ key: string } | { prefix: string; from: number; field?: string });

export interface TakeAndReadResult {
  /** The take's decision; absent when no take was asked. */
  rate: RateDecision | undefined;
  /** The second take's decision; absent when none was asked or it was not made. */
  thenRate?: RateDecision;
  /** The bucket the second take took from (its key complete), when it was made. */
  thenKey?: string;
  /** One value per step, in order: a string for get, the fields for hgetall, undefined for absent. */
  values: ReadStepValue[];
}

/**
 * Refuses, before anything is taken, a take or second take with arguments rateTake would refuse,
 * a step that names a later (or its own) step, and a second take naming no step.
 */
export function validateTakeAndRead(take: RateTake | undefined, steps: readonly ReadStep[], then?: ThenTake): void {
  for (const t of [take, then]) if (t) validateRateTake(t.limit, t.windowMs, t.nowMs, t.add);
  steps.forEach((step, i) => {
    if ('from' in step && (!Number.isSafeInteger(step.from) || step.from < 0 || step.from >= i)) {
      throw new RangeError(`takeAndRead: step ${i} reads from step ${step.from}, which is not an earlier one`);
    }
  });
  if (then && 'from' in then && (!Number.isSafeInteger(then.from) || then.from < 0 || then.from >= steps.length)) {
    throw new RangeError(`takeAndRead: the second take reads from step ${then.from}, which is not a step`);
  }
}

/** The key the second take takes from, from the values read; undefined when its source is absent. */
export const thenTakeKey = (then: ThenTake, values: readonly ReadStepValue[]): string | undefined =>
  'key' in then ? then.key : stepKey({ op: 'get', prefix: then.prefix, from: then.from, ...(then.field !== undefined ? { field: then.field } : {}) }, values);

/** Encodes the second take for the Redis script: mode ('' none, 'key', 'from'), key or prefix (as `rateKey` makes it), 1-based from, field, limit, window, now, add. */
export function encodeThenTake(then: ThenTake | undefined, rateKey: (key: string) => string): (string | number)[] {
  if (!then) return ['', '', 0, '', 0, 0, 0, 0];
  const rate = [then.limit, then.windowMs, then.nowMs, then.add];
  return 'key' in then ? ['key', rateKey(then.key), 0, '', ...rate] : ['from', rateKey(then.prefix), then.from + 1, then.field ?? '', ...rate];
}

/** The key step `i` reads, from the values read before it; undefined when its source is absent. */
export function stepKey(step: ReadStep, values: readonly ReadStepValue[]): string | undefined {
  if ('key' in step) return step.key;
  const source = values[step.from];
  const part = step.field === undefined ? (typeof source === 'string' ? source : undefined) : typeof source === 'object' ? source[step.field] : undefined;
  return part ? step.prefix + part : undefined;
}

/** The steps' reads, one after the other, through `read` (the memory adapter's own reads). */
export async function readSteps(
  steps: readonly ReadStep[],
  read: (op: ReadStep['op'], key: string) => Promise<string | Record<string, string> | undefined>,
): Promise<ReadStepValue[]> {
  const values: ReadStepValue[] = [];
  for (const step of steps) {
    const key = stepKey(step, values);
    values.push(key === undefined ? undefined : await read(step.op, key));
  }
  return values;
}

/** Encodes the steps for the Redis script: per step op, key-or-prefix, from (0 = a literal key, else 1-based), field. */
export function encodeReadSteps(steps: readonly ReadStep[]): string[] {
  const out: string[] = [];
  for (const step of steps) {
    if ('key' in step) out.push(step.op, step.key, '0', '');
    else out.push(step.op, step.prefix, String(step.from + 1), step.field ?? '');
  }
  return out;
}
