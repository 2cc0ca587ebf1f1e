// The behaviour every ReadModel adapter must share, run against each of them. The clock is
// injected and moved by hand; it starts at the real time because the Redis adapter also
// hands absolute expiries to Redis (PXAT) for garbage collection, which uses Redis's clock.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ReadModelBehindError,
  ReadModelOfAnotherLogError,
  type EventRef,
  type ProjectedEvent,
  type ReadModel,
  type ReadModelOp,
} from '../../src/readmodel/read-model.ts';

export type OpenReadModel = (now: () => number) => Promise<{ readModel: ReadModel; cleanup(): Promise<void> }>;

export interface TestClock {
  now: () => number;
  /** Moves the clock by `ms`. */
  advance(ms: number): void;
  /** Where the clock started. */
  readonly start: number;
}

function makeClock(): TestClock {
  const start = Date.now();
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), start };
}

export const ev = (position: number | bigint, ...ops: ReadModelOp[]): ProjectedEvent => ({ position: BigInt(position), ops });
const set = (key: string, value: string, expireAtMs?: number): ReadModelOp =>
  expireAtMs === undefined ? { op: 'set', key, value } : { op: 'set', key, value, expireAtMs };
const hset = (key: string, fields: Record<string, string>, expireAtMs?: number): ReadModelOp =>
  expireAtMs === undefined ? { op: 'hset', key, fields } : { op: 'hset', key, fields, expireAtMs };
const del = (key: string): ReadModelOp => ({ op: 'del', key });
const sadd = (key: string, member: string): ReadModelOp => ({ op: 'sadd', key, member });
const srem = (key: string, member: string): ReadModelOp => ({ op: 'srem', key, member });

export function readModelConformance(name: string, open: OpenReadModel): void {
  const s = suite(`read model conformance: ${name}`);

  /** Opens `count` independent read models on one clock, runs `fn`, always cleans up. */
  async function withModels(count: number, fn: (models: ReadModel[], clock: TestClock) => Promise<void>): Promise<void> {
    const clock = makeClock();
    const opened: { readModel: ReadModel; cleanup(): Promise<void> }[] = [];
    try {
      for (let i = 0; i < count; i++) opened.push(await open(clock.now));
      await fn(
        opened.map((o) => o.readModel),
        clock,
      );
    } finally {
      for (const o of opened) await o.cleanup();
    }
  }
  const withModel = (fn: (rm: ReadModel, clock: TestClock) => Promise<void>): Promise<void> =>
    withModels(1, ([rm], clock) => fn(rm as ReadModel, clock));

  s('a fresh store is empty, with checkpoint -1n', () =>
    withModels(2, async ([a, b]) => {
      assert.is(await a!.checkpoint(), -1n);
      assert.is(await a!.get('nothing'), undefined);
      assert.is(await a!.hgetall('nothing'), undefined);
      assert.equal(await a!.smembers('nothing'), []);
      assert.is(await a!.digest(), await b!.digest());
      await a!.ping();
    }));

  s('set then get; a later set replaces the value', () =>
    withModel(async (rm) => {
      await rm.applyBatch([ev(1, set('k', 'v1'))]);
      assert.is(await rm.get('k'), 'v1');
      await rm.applyBatch([ev(2, set('k', 'v2'), set('other', ''))]);
      assert.is(await rm.get('k'), 'v2');
      assert.is(await rm.get('other'), '', 'an empty string is a value, not absence');
    }));

  s('hset merges fields into the hash', () =>
    withModel(async (rm) => {
      await rm.applyBatch([ev(1, hset('h', { a: '1', b: '2' })), ev(2, hset('h', { b: '3', c: '4' }))]);
      assert.equal(await rm.hgetall('h'), { a: '1', b: '3', c: '4' });
    }));

  s('a hash written with many fields at once', () =>
    withModel(async (rm) => {
      const fields = Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`f${i}`, String(i)]));
      await rm.applyBatch([ev(1, hset('big', fields))]);
      assert.equal(await rm.hgetall('big'), fields);
    }));

  s('del removes a key of any type', () =>
    withModel(async (rm) => {
      await rm.applyBatch([ev(1, set('s', 'v'), hset('h', { a: '1' }), sadd('m', 'x'))]);
      await rm.applyBatch([ev(2, del('s'), del('h'), del('m'), del('never-existed'))]);
      assert.is(await rm.get('s'), undefined);
      assert.is(await rm.hgetall('h'), undefined);
      assert.equal(await rm.smembers('m'), []);
    }));

  s('sadd / srem / smembers', () =>
    withModel(async (rm) => {
      await rm.applyBatch([ev(1, sadd('m', 'y'), sadd('m', 'x'), sadd('m', 'y'))]);
      assert.equal((await rm.smembers('m')).sort(), ['x', 'y']);
      await rm.applyBatch([ev(2, srem('m', 'x'), srem('m', 'absent'), srem('no-such-set', 'x'))]);
      assert.equal(await rm.smembers('m'), ['y']);
      await rm.applyBatch([ev(3, srem('m', 'y'))]);
      assert.equal(await rm.smembers('m'), []);
    }));

  s('a write replaces a key of another type', () =>
    withModel(async (rm) => {
      await rm.applyBatch([ev(1, set('k', 'v')), ev(2, hset('k', { a: '1' }))]);
      assert.is(await rm.get('k'), undefined);
      assert.equal(await rm.hgetall('k'), { a: '1' });
      await rm.applyBatch([ev(3, sadd('k', 'm'))]);
      assert.is(await rm.hgetall('k'), undefined);
      assert.equal(await rm.smembers('k'), ['m']);
      await rm.applyBatch([ev(4, srem('k', 'm'), set('k', 'back'))]);
      assert.is(await rm.get('k'), 'back');
    }));

  s('absolute expiry follows the injected clock', () =>
    withModel(async (rm, clock) => {
      // Expiries a minute out: Redis also drops keys by its own clock, which runs on meanwhile.
      const t0 = clock.start;
      await rm.applyBatch([
        ev(1, set('s', 'v', t0 + 60_000), hset('h', { a: '1' }, t0 + 60_000), sadd('m', 'x')),
        // hset without expireAtMs keeps the hash's expiry; set without one clears it.
        ev(2, hset('h2', { a: '1' }, t0 + 60_000), hset('h2', { b: '2' }), set('s2', 'v', t0 + 60_000), set('s2', 'forever')),
      ]);
      clock.advance(59_999);
      assert.is(await rm.get('s'), 'v');
      assert.equal(await rm.hgetall('h'), { a: '1' });
      assert.equal(await rm.hgetall('h2'), { a: '1', b: '2' });
      clock.advance(1);
      assert.is(await rm.get('s'), undefined, 'gone at its expiry instant');
      assert.is(await rm.hgetall('h'), undefined);
      assert.is(await rm.hgetall('h2'), undefined);
      assert.is(await rm.get('s2'), 'forever');
      assert.equal(await rm.smembers('m'), ['x']);
      // An expired hash does not lend its old fields to a later hset.
      await rm.applyBatch([ev(3, hset('h', { z: '9' }, t0 + 120_000))]);
      assert.equal(await rm.hgetall('h'), { z: '9' });
    }));

  s('a write already expired is skipped, drops the old value, and still moves the checkpoint', () =>
    withModel(async (rm, clock) => {
      const t0 = clock.start;
      await rm.applyBatch([ev(1, set('s', 'old'), hset('h', { a: '1' }))]);
      const after = await rm.applyBatch([ev(2, set('s', 'new', t0 - 1), hset('h', { b: '2' }, t0), hset('fresh', { a: '1' }, t0 - 5))]);
      assert.is(after, 2n);
      assert.is(await rm.checkpoint(), 2n);
      assert.is(await rm.get('s'), undefined);
      assert.is(await rm.hgetall('h'), undefined);
      assert.is(await rm.hgetall('fresh'), undefined);
    }));

  s('a batch skips events at or below the checkpoint', () =>
    withModel(async (rm) => {
      assert.is(await rm.applyBatch([ev(1, set('a', '1')), ev(2, set('b', '2'))]), 2n);
      assert.is(await rm.applyBatch([ev(2, set('b', 'again')), ev(3, set('c', '3'))]), 3n);
      assert.is(await rm.applyBatch([ev(1, set('a', 'again'))]), 3n);
      assert.is(await rm.get('a'), '1');
      assert.is(await rm.get('b'), '2');
      assert.is(await rm.get('c'), '3');
      // Within one batch too: an event below one already applied is skipped.
      assert.is(await rm.applyBatch([ev(10, set('d', '10')), ev(7, set('d', '7'))]), 10n);
      assert.is(await rm.get('d'), '10');
    }));

  s('applying the same batch twice changes nothing', () =>
    withModel(async (rm, clock) => {
      const batch = [
        ev(1, sadd('m', 'x'), sadd('m', 'y'), hset('h', { a: '1' }, clock.start + 60_000)),
        ev(2, srem('m', 'x'), set('s', 'v'), hset('h', { b: '2' })),
        ev(3, del('s'), sadd('m', 'x'), set('t', 'w')),
        ev(4, srem('m', 'x')),
      ];
      assert.is(await rm.applyBatch(batch), 4n);
      const digest = await rm.digest();
      assert.is(await rm.applyBatch(batch), 4n);
      assert.is(await rm.digest(), digest);
      assert.equal(await rm.smembers('m'), ['y']);
      assert.is(await rm.get('s'), undefined);
      assert.equal(await rm.hgetall('h'), { a: '1', b: '2' });
    }));

  s('the checkpoint moves with the change, also for events without ops', () =>
    withModel(async (rm) => {
      assert.is(await rm.applyBatch([ev(5, set('a', '5'))]), 5n);
      assert.is(await rm.checkpoint(), 5n);
      assert.is(await rm.applyBatch([ev(6)]), 6n);
      assert.is(await rm.checkpoint(), 6n);
      assert.is(await rm.applyBatch([]), 6n, 'an empty batch returns the checkpoint');
    }));

  s('positions beyond 2^53 compare exactly', () =>
    withModel(async (rm) => {
      const p = 2n ** 63n + 1n; // 2^63 and 2^63+1 are the same double
      assert.is(await rm.applyBatch([ev(p, set('a', 'high'))]), p);
      assert.is(await rm.applyBatch([ev(p - 1n, set('a', 'low'))]), p);
      assert.is(await rm.get('a'), 'high');
      const max = 2n ** 64n - 1n;
      assert.is(await rm.applyBatch([ev(max, set('a', 'max'))]), max);
      assert.is(await rm.checkpoint(), max);
      assert.is(await rm.get('a'), 'max');
    }));

  s('a large batch is applied whole', () =>
    withModel(async (rm) => {
      const events = Array.from({ length: 1234 }, (_, i) => ev(i + 1, set(`k${i}`, String(i)), sadd('all', String(i))));
      assert.is(await rm.applyBatch(events), 1234n);
      assert.is(await rm.get('k0'), '0');
      assert.is(await rm.get('k1233'), '1233');
      assert.is((await rm.smembers('all')).length, 1234);
    }));

  s('rejects bad input before applying anything', () =>
    withModel(async (rm) => {
      for (const bad of [[ev(1, set('a', '1')), ev(-1n)], [ev(2n ** 64n)], [ev(1, set('a', '1', 1.5))], [ev(1, set('__checkpoint', 'x'))]]) {
        let threw = false;
        try {
          await rm.applyBatch(bad);
        } catch {
          threw = true;
        }
        assert.ok(threw);
      }
      assert.is(await rm.checkpoint(), -1n);
      assert.is(await rm.get('a'), undefined);
    }));

  s('rateTake at a real epoch time lets exactly the limit through, whatever the float rounding of window/limit', () =>
    withModel(async (rm) => {
      // 10000/15 is no whole millisecond: summed at 1.7e12 it overshot the window by 0.001 ms and
      // refused the 15th of 15 (the poll limit's default).
      for (const [limit, windowMs] of [[15, 10_000], [7, 1_000], [1000, 600_000], [30, 900_000]] as const) {
        const key = `real:${limit}:${Math.random()}`;
        const now = 1_764_621_234_567;
        let allowed = 0;
        for (let i = 0; i <= limit; i++) if ((await rm.rateTake(key, limit, windowMs, now, 1)).allowed) allowed++;
        assert.is(allowed, limit, `${limit} per ${windowMs} ms`);
      }
    }));

  s('rateTake lets the limit through at once, then one unit per window/limit, and says when to retry', () =>
    withModel(async (rm) => {
      const windowMs = 60_000;
      const n = 1_800_000_000_000;
      const key = `ip:${Math.random()}`;
      assert.equal(await rm.rateTake(key, 3, windowMs, n, 0), { allowed: true, retryAfterMs: 0, remaining: 3 });
      for (let i = 2; i >= 0; i--) assert.equal(await rm.rateTake(key, 3, windowMs, n + 10, 1), { allowed: true, retryAfterMs: 0, remaining: i });
      assert.equal(await rm.rateTake(key, 3, windowMs, n + 10, 1), { allowed: false, retryAfterMs: 20_000, remaining: 0 });
      assert.equal(await rm.rateTake(key, 3, windowMs, n + 10, 0), { allowed: false, retryAfterMs: 20_000, remaining: 0 }, 'a refusal takes nothing');
      // One unit comes back every 20 s, not the whole budget at a boundary.
      assert.equal(await rm.rateTake(key, 3, windowMs, n + 20_010, 1), { allowed: true, retryAfterMs: 0, remaining: 0 });
      assert.equal((await rm.rateTake(key, 3, windowMs, n + 20_011, 1)).allowed, false);
      assert.equal(await rm.rateTake(`${key}:other`, 3, windowMs, n + 30, 1), { allowed: true, retryAfterMs: 0, remaining: 2 });
      // A whole window later the bucket is full again.
      assert.equal(await rm.rateTake(key, 3, windowMs, n + 80_010, 0), { allowed: true, retryAfterMs: 0, remaining: 3 });
      // Rate buckets are not part of the read model's content.
      assert.is(await rm.checkpoint(), -1n);
    }));

  s('rateTake holds at every instant: a budget spent just before a clock-aligned boundary is not refilled just after it', () =>
    withModel(async (rm) => {
      const windowMs = 600_000;
      const boundary = Math.ceil(1_800_000_000_000 / windowMs) * windowMs;
      const key = `edge:${Math.random()}`;
      let passed = 0;
      for (let i = 0; i < 10; i++) if ((await rm.rateTake(key, 10, windowMs, boundary - 1, 1)).allowed) passed++;
      for (let i = 0; i < 10; i++) if ((await rm.rateTake(key, 10, windowMs, boundary + 1, 1)).allowed) passed++;
      assert.is(passed, 10, 'the limit, not twice the limit, across the boundary');
    }));

  s('a negative rateTake gives units back, never more than the bucket holds; a peek changes nothing', () =>
    withModel(async (rm) => {
      const windowMs = 60_000;
      const n = 1_800_000_000_000;
      const key = `refund:${Math.random()}`;
      await rm.rateTake(key, 3, windowMs, n, 3);
      assert.equal(await rm.rateTake(key, 3, windowMs, n + 5, -1), { allowed: true, retryAfterMs: 0, remaining: 1 });
      assert.equal(await rm.rateTake(key, 3, windowMs, n + 5, 0), { allowed: true, retryAfterMs: 0, remaining: 1 });
      assert.equal(await rm.rateTake(key, 3, windowMs, n + 5, -5), { allowed: true, retryAfterMs: 0, remaining: 3 });
      assert.equal(await rm.rateTake(key, 3, windowMs, n + 5, 3), { allowed: true, retryAfterMs: 0, remaining: 0 }, 'given back, never beyond full');
      assert.equal((await rm.rateTake(key, 3, windowMs, n + 5, 1)).allowed, false);
      assert.equal(await rm.rateTake(`${key}:never`, 3, windowMs, n, -1), { allowed: true, retryAfterMs: 0, remaining: 3 });
      // Taking more than fits takes nothing.
      assert.equal((await rm.rateTake(`${key}:big`, 3, windowMs, n, 4)).allowed, false);
      assert.equal(await rm.rateTake(`${key}:big`, 3, windowMs, n, 0), { allowed: true, retryAfterMs: 0, remaining: 3 });
    }));

  s('rateTake is atomic: of 3× the limit taken at once, exactly the limit pass', () =>
    withModel(async (rm) => {
      const key = `burst:${Math.random()}`;
      const n = 1_800_000_000_000;
      const answers = await Promise.all(Array.from({ length: 90 }, () => rm.rateTake(key, 30, 600_000, n, 1)));
      assert.is(answers.filter((a) => a.allowed).length, 30);
    }));

  s('applyBatch with expectAtLeast above the checkpoint applies nothing and throws ReadModelBehindError', () =>
    withModel(async (rm) => {
      const op = (key: string) => [{ op: 'set' as const, key, value: 'v' }];
      assert.is(await rm.applyBatch([{ position: 5n, ops: op('a') }], { expectAtLeast: -1n }), 5n);
      assert.is(await rm.applyBatch([{ position: 7n, ops: op('b') }], { expectAtLeast: 5n }), 7n, 'at the checkpoint: applied');
      assert.is(await rm.applyBatch([{ position: 8n, ops: op('c') }], { expectAtLeast: 6n }), 8n, 'above what was expected (another writer): applied');
      try {
        await rm.applyBatch([{ position: 9n, ops: op('d') }], { expectAtLeast: 20n });
        assert.unreachable('a checkpoint below what the caller applied is refused');
      } catch (error) {
        assert.instance(error, ReadModelBehindError);
        assert.is((error as ReadModelBehindError).checkpoint, 8n);
      }
      assert.is(await rm.get('d'), undefined);
      assert.is(await rm.checkpoint(), 8n);
    }));

  s('the next generation is invisible until activate, then replaces everything', () =>
    withModel(async (rm) => {
      await rm.applyBatch([ev(10, set('a', 'live'), set('only-live', 'x'), sadd('m', 'old'))]);
      const liveDigest = await rm.digest();
      const next = await rm.openNextGeneration();
      assert.type(next.id, 'string');
      assert.is(await next.checkpoint(), -1n);
      assert.is(await next.applyBatch([ev(1, set('a', 'next')), ev(2, set('b', 'new'), sadd('m', 'new'))]), 2n);
      assert.is(await rm.get('a'), 'live');
      assert.is(await rm.get('b'), undefined);
      assert.is(await rm.checkpoint(), 10n);
      assert.is(await rm.digest(), liveDigest);
      // Live writes keep going to the live generation while the next one is built.
      await rm.applyBatch([ev(11, set('c', 'live-only'))]);
      assert.is(await next.checkpoint(), 2n);

      await next.activate();
      assert.is(await rm.get('a'), 'next');
      assert.is(await rm.get('b'), 'new');
      assert.is(await rm.get('only-live'), undefined);
      assert.is(await rm.get('c'), undefined);
      assert.equal(await rm.smembers('m'), ['new']);
      assert.is(await rm.checkpoint(), 2n);
      // Writes now land in the new generation, whichever handle makes them.
      assert.is(await rm.applyBatch([ev(3, set('c', 'after'))]), 3n);
      assert.is(await next.checkpoint(), 3n);
      assert.is(await rm.get('c'), 'after');
    }));

  s('discard leaves the live generation as it was', () =>
    withModel(async (rm) => {
      await rm.applyBatch([ev(1, set('a', 'live'))]);
      const next = await rm.openNextGeneration();
      await next.applyBatch([ev(1, set('a', 'next'), set('b', 'next'))]);
      await next.discard();
      assert.is(await rm.get('a'), 'live');
      assert.is(await rm.get('b'), undefined);
      assert.is(await rm.checkpoint(), 1n);
      let threw = false;
      try {
        await next.applyBatch([ev(2, set('c', 'x'))]);
      } catch {
        threw = true;
      }
      assert.ok(threw, 'a discarded generation takes no writes');
      // A second rebuild after a discard works.
      const again = await rm.openNextGeneration();
      assert.is.not(again.id, next.id);
      await again.applyBatch([ev(1, set('a', 'again'))]);
      await again.activate();
      assert.is(await rm.get('a'), 'again');
    }));

  s('digest is order-independent, ignores checkpoint and expiries, and changes with content', () =>
    withModels(2, async ([a, b], clock) => {
      const far = clock.start + 3_600_000;
      await a!.applyBatch([
        ev(1, set('s', 'v', far), hset('h', { x: '1', y: '2' }), sadd('m', 'p'), sadd('m', 'q')),
        // A minute, not a few ms: Redis also drops the key by its own clock (PXAT), and opening
        // the models may take a while of real time before this write lands.
        ev(2, set('gone-soon', 'z', clock.start + 60_000), set('t', 'line\nbreak')),
      ]);
      await b!.applyBatch([
        ev(100, set('t', 'line\nbreak'), sadd('m', 'q')),
        ev(200, hset('h', { y: '2' }), sadd('m', 'p')),
        ev(300, hset('h', { x: '1' }), set('s', 'v')),
      ]);
      assert.is.not(await a!.digest(), await b!.digest(), 'the expiring entry still counts');
      clock.advance(60_000);
      assert.is(await a!.digest(), await b!.digest());
      assert.match(await a!.digest(), /^[0-9a-f]{64}$/);
      const before = await b!.digest();
      await b!.applyBatch([ev(301, set('s', 'other'))]);
      assert.is.not(await b!.digest(), before);
      await b!.applyBatch([ev(302, set('s', 'v'))]);
      assert.is(await b!.digest(), before);
      await b!.applyBatch([ev(303, sadd('m', 'r'))]);
      assert.is.not(await b!.digest(), before);
      // A value that looks like another type's serialization does not collide.
      await a!.applyBatch([ev(3, set('x', '["a"]'))]);
      await b!.applyBatch([ev(304, srem('m', 'r'), sadd('x', 'a'))]);
      assert.is.not(await a!.digest(), await b!.digest());
    }));

  // --- provenance: the log a generation belongs to (issue 18) ---------------------------------
  const ref = (id: string, revision = 0n): EventRef => ({ id, streamId: `s-${id}`, revision });
  const evFrom = (position: number, event: EventRef, ...ops: ReadModelOp[]): ProjectedEvent => ({ position: BigInt(position), ops, event });

  s('a generation keeps the log it was built from and the event at its checkpoint, moving with the checkpoint', () =>
    withModel(async (rm) => {
      const fresh = await rm.provenance();
      assert.is(fresh.checkpoint, -1n);
      assert.is(fresh.logId, undefined);
      assert.is(fresh.checkpointEvent, undefined);
      await rm.applyBatch([evFrom(1, ref('a'), set('k', '1')), evFrom(2, ref('b', 3n), set('k', '2'))], { logId: 'log-1' });
      let p = await rm.provenance();
      assert.is(p.checkpoint, 2n);
      assert.is(p.logId, 'log-1');
      assert.equal(p.checkpointEvent, { position: 2n, id: 'b', streamId: 's-b', revision: 3n });
      assert.is(p.generation, fresh.generation);
      await rm.applyBatch([evFrom(1, ref('again'))], { logId: 'log-1' });
      assert.equal((await rm.provenance()).checkpointEvent?.id, 'b', 'an event at or below the checkpoint changes nothing');
      await rm.applyBatch([ev(3, set('k', '3'))], { logId: 'log-1' });
      p = await rm.provenance();
      assert.is(p.checkpoint, 3n);
      // An entry without an event (the store's checkpoint past streams it does not project) keeps
      // the last event it saw, under that event's own position: the verdict checks both.
      assert.equal(p.checkpointEvent, { position: 2n, id: 'b', streamId: 's-b', revision: 3n }, 'an entry without an event keeps the last event seen, at its own position');
    }));

  s('the events of another log are refused: nothing applied, the provenance unchanged', () =>
    withModel(async (rm) => {
      await rm.applyBatch([evFrom(1, ref('a'), set('k', 'mine'))], { logId: 'log-1' });
      let failure: unknown;
      try {
        await rm.applyBatch([evFrom(2, ref('b'), set('k', 'theirs'), set('new', 'x'))], { logId: 'log-2' });
      } catch (error) {
        failure = error;
      }
      assert.instance(failure, ReadModelOfAnotherLogError);
      assert.is((failure as ReadModelOfAnotherLogError).readModelLogId, 'log-1');
      assert.is((failure as ReadModelOfAnotherLogError).logId, 'log-2');
      assert.is(await rm.get('k'), 'mine');
      assert.is(await rm.get('new'), undefined);
      const p = await rm.provenance();
      assert.is(p.checkpoint, 1n);
      assert.is(p.logId, 'log-1');
      assert.is(p.checkpointEvent?.id, 'a');
    }));

  s('a generation written before log identities takes the first identity it is given', () =>
    withModel(async (rm) => {
      await rm.applyBatch([ev(5, set('k', 'old'))]);
      assert.is((await rm.provenance()).logId, undefined);
      await rm.applyBatch([evFrom(6, ref('f'), set('k', 'new'))], { logId: 'log-1' });
      assert.is((await rm.provenance()).logId, 'log-1');
      assert.is(await rm.get('k'), 'new');
    }));

  s('each generation has its own provenance; activating one makes it the live one', () =>
    withModel(async (rm) => {
      await rm.applyBatch([evFrom(1, ref('a'))], { logId: 'log-1' });
      const next = await rm.openNextGeneration();
      await next.applyBatch([evFrom(7, ref('z'), set('k', 'next'))], { logId: 'log-2' });
      assert.is((await rm.provenance()).logId, 'log-1', 'the live generation is untouched by the rebuild');
      const built = await next.provenance();
      assert.is(built.generation, next.id);
      assert.is(built.logId, 'log-2');
      assert.is(built.checkpointEvent?.id, 'z');
      assert.is(await next.activate(), true);
      const live = await rm.provenance();
      assert.is(live.generation, next.id);
      assert.is(live.logId, 'log-2');
      assert.is(live.checkpoint, 7n);
    }));

  s('activation with ifLiveIs switches only while the generation judged is still live', () =>
    withModel(async (rm) => {
      const judged = (await rm.provenance()).generation;
      const a = await rm.openNextGeneration();
      const b = await rm.openNextGeneration();
      await a.applyBatch([ev(1, set('k', 'a'))]);
      await b.applyBatch([ev(1, set('k', 'b'))]);
      assert.is(await b.activate({ ifLiveIs: judged }), true);
      assert.is(await a.activate({ ifLiveIs: judged }), false, 'another rebuild switched first');
      assert.is((await rm.provenance()).generation, b.id);
      assert.is(await rm.get('k'), 'b');
      assert.is(await b.activate({ ifLiveIs: judged }), true, 'the live generation activated again is a no-op');
      await a.discard();
      assert.is(await rm.get('k'), 'b');
    }));

  s('the provenance keys are reserved, and the digest leaves them out', () =>
    withModels(2, async ([a, b]) => {
      for (const key of ['__log', '__checkpoint_event']) {
        let threw = false;
        try {
          await a!.applyBatch([ev(1, set(key, 'forged'))]);
        } catch (error) {
          threw = error instanceof RangeError;
        }
        assert.ok(threw, `${key} is refused`);
      }
      await a!.applyBatch([evFrom(1, ref('a'), set('k', 'v'))], { logId: 'log-1' });
      await b!.applyBatch([evFrom(9, ref('b'), set('k', 'v'))], { logId: 'log-2' });
      assert.is(await a!.digest(), await b!.digest());
    }));
  // --- end of provenance ------------------------------------------------------------------------

  // --- takeAndRead: one rate take and a chain of reads in one step ------------------------------
  s('takeAndRead follows a chain (a string naming a hash, a hash field naming another) and takes from the same bucket as rateTake', () =>
    withModel(async (rm, clock) => {
      const key = `tar-${clock.start}`;
      await rm.applyBatch([ev(1, set('poll:d1', 'a1'), hset('attempt:a1', { status: 'pending', userId: 'u1' }), hset('user:u1', { name: 'n' }))]);
      const take = { key, limit: 2, windowMs: 10_000, nowMs: clock.now(), add: 1 };
      const reads = [
        { op: 'get', key: 'poll:d1' },
        { op: 'hgetall', prefix: 'attempt:', from: 0 },
        { op: 'hgetall', prefix: 'user:', from: 1, field: 'userId' },
      ] as const;
      const first = await rm.takeAndRead(take, reads);
      assert.equal(first.rate, { allowed: true, retryAfterMs: 0, remaining: 1 });
      assert.equal(first.values, ['a1', { status: 'pending', userId: 'u1' }, { name: 'n' }]);
      // The separate calls agree with the combined one, bucket and all.
      assert.equal(await rm.rateTake(key, 2, 10_000, clock.now(), 1), { allowed: true, retryAfterMs: 0, remaining: 0 });
      const refused = await rm.takeAndRead(take, reads);
      assert.is(refused.rate?.allowed, false);
      assert.ok((refused.rate?.retryAfterMs ?? 0) > 0);
      assert.equal(refused.values, first.values, 'the reads are made even when the take is refused');
    }));

  s('takeAndRead: a missing link, a missing field, a wrong type or an expired entry reads as absent, and without a take there is no decision', () =>
    withModel(async (rm, clock) => {
      const t = clock.now();
      await rm.applyBatch([ev(1, set('p:gone', 'nobody'), set('p:str', 's1'), set('s:s1', 'not a hash'), hset('h:x', { other: '1' }), hset('h:old', { f: 'v' }, t + 100))]);
      const r = await rm.takeAndRead(undefined, [
        { op: 'get', key: 'p:none' },
        { op: 'hgetall', prefix: 'h:', from: 0 },
        { op: 'get', key: 'p:gone' },
        { op: 'hgetall', prefix: 'h:', from: 2 },
        { op: 'hgetall', key: 'h:x' },
        { op: 'hgetall', prefix: 'h:', from: 4, field: 'userId' },
        { op: 'get', key: 'p:str' },
        { op: 'hgetall', prefix: 's:', from: 6 },
      ]);
      assert.is(r.rate, undefined);
      assert.equal(r.values, [undefined, undefined, 'nobody', undefined, { other: '1' }, undefined, 's1', undefined]);
      clock.advance(100);
      assert.equal((await rm.takeAndRead(undefined, [{ op: 'hgetall', key: 'h:old' }])).values, [undefined], 'expired by the injected clock');
    }));

  s('takeAndRead: a second take on a key made of a value read is made in the same step, on the same bucket rateTake sees', () =>
    withModel(async (rm, clock) => {
      const t = clock.now();
      const first = `tar2-a-${clock.start}`;
      const byEmail = `tar2-e-${clock.start}:`;
      await rm.applyBatch([ev(1, hset('code:n1', { emailDigest: 'e1', status: 'live' }))]);
      const then = { prefix: byEmail, from: 0, field: 'emailDigest', limit: 2, windowMs: 10_000, nowMs: t, add: 1 };
      const r = await rm.takeAndRead({ key: first, limit: 5, windowMs: 10_000, nowMs: t, add: 1 }, [{ op: 'hgetall', key: 'code:n1' }], then);
      assert.equal(r.values, [{ emailDigest: 'e1', status: 'live' }]);
      assert.equal(r.thenRate, { allowed: true, retryAfterMs: 0, remaining: 1 });
      assert.is(r.thenKey, `${byEmail}e1`);
      assert.equal(await rm.rateTake(`${byEmail}e1`, 2, 10_000, t, 0), { allowed: true, retryAfterMs: 0, remaining: 1 }, 'the same bucket, seen by rateTake');
      // Spent: the second take refuses while the first still has room.
      await rm.takeAndRead(undefined, [{ op: 'hgetall', key: 'code:n1' }], then);
      const spent = await rm.takeAndRead({ key: first, limit: 5, windowMs: 10_000, nowMs: t, add: 1 }, [{ op: 'hgetall', key: 'code:n1' }], then);
      assert.is(spent.rate?.allowed, true);
      assert.is(spent.thenRate?.allowed, false);
      assert.ok((spent.thenRate?.retryAfterMs ?? 0) > 0);
      // A give-back of both in one step, the second by its key.
      const back = await rm.takeAndRead({ key: first, limit: 5, windowMs: 10_000, nowMs: t, add: -1 }, [], { key: `${byEmail}e1`, limit: 2, windowMs: 10_000, nowMs: t, add: -1 });
      assert.is(back.thenKey, `${byEmail}e1`);
      assert.is((await rm.rateTake(`${byEmail}e1`, 2, 10_000, t, 0)).remaining, 1, 'one unit given back');
      assert.is((await rm.rateTake(first, 5, 10_000, t, 0)).remaining, 4, 'two taken, one given back');
    }));

  s('takeAndRead: no second take when its value is absent or the first take was refused', () =>
    withModel(async (rm, clock) => {
      const t = clock.now();
      const first = `tar3-a-${clock.start}`;
      const byEmail = `tar3-e-${clock.start}:`;
      await rm.applyBatch([ev(1, hset('code:n2', { status: 'live' }))]);
      const then = { prefix: byEmail, from: 0, field: 'emailDigest', limit: 2, windowMs: 10_000, nowMs: t, add: 1 };
      const noField = await rm.takeAndRead(undefined, [{ op: 'hgetall', key: 'code:n2' }], then);
      assert.is(noField.thenRate, undefined);
      assert.is(noField.thenKey, undefined);
      const noRecord = await rm.takeAndRead(undefined, [{ op: 'hgetall', key: 'code:none' }], then);
      assert.is(noRecord.thenRate, undefined);
      await rm.applyBatch([ev(2, hset('code:n3', { emailDigest: 'e3' }))]);
      await rm.rateTake(first, 1, 10_000, t, 1);
      const refused = await rm.takeAndRead({ key: first, limit: 1, windowMs: 10_000, nowMs: t, add: 1 }, [{ op: 'hgetall', key: 'code:n3' }], then);
      assert.is(refused.rate?.allowed, false);
      assert.is(refused.thenRate, undefined, 'a refused first take makes no second one');
      assert.is((await rm.rateTake(`${byEmail}e3`, 2, 10_000, t, 0)).remaining, 2, 'nothing was taken from it');
    }));

  s('takeAndRead refuses a step that reads from a later one, taking nothing', () =>
    withModel(async (rm, clock) => {
      const key = `tar-bad-${clock.start}`;
      let threw = false;
      try {
        await rm.takeAndRead({ key, limit: 1, windowMs: 1000, nowMs: clock.now(), add: 1 }, [{ op: 'get', prefix: 'x:', from: 0 }]);
      } catch (error) {
        threw = error instanceof RangeError;
      }
      assert.ok(threw);
      assert.is((await rm.rateTake(key, 1, 1000, clock.now(), 0)).remaining, 1);
    }));

  s.run();
}
