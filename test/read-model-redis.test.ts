// The Redis read model against a real Redis. Every read model here gets its own random
// prefix and its keys are deleted afterwards: other test runs share the server.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { createMemoryReadModel } from '../src/readmodel/memory-read-model.ts';
import { createRedisReadModel, type RedisReadModel } from '../src/readmodel/redis-read-model.ts';
import { ReadModelUnavailableError, type ProjectedEvent, type ReadModel, type ReadModelOp } from '../src/readmodel/read-model.ts';
import { readModelConformance, ev } from './support/read-model-conformance.ts';
import { checkRedisOrExplain, testRedisUrl } from './support/redis-check.ts';

const unavailable = await checkRedisOrExplain();
if (unavailable !== undefined) {
  console.error(unavailable);
  process.exit(1);
}

const admin = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
admin.on('error', () => {});

const newPrefix = (): string => `authlog-test-${randomUUID()}`;

async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
}

async function countKeys(client: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

/** Opens read models on one prefix; `done()` closes them all and deletes the prefix's keys. */
function onPrefix(prefix = newPrefix()) {
  const opened: RedisReadModel[] = [];
  return {
    prefix,
    open(now: () => number, extra: { url?: string; commandTimeoutMs?: number } = {}): RedisReadModel {
      const rm = createRedisReadModel({ url: extra.url ?? testRedisUrl(), prefix, now, commandTimeoutMs: extra.commandTimeoutMs });
      opened.push(rm);
      return rm;
    },
    async done(): Promise<void> {
      for (const rm of opened) await rm.close();
      await deleteKeys(admin, prefix);
    },
  };
}

async function rejectsUnavailable(what: string, fn: () => Promise<unknown>, withinMs: number): Promise<void> {
  const started = Date.now();
  let error: unknown;
  try {
    await fn();
  } catch (err) {
    error = err;
  }
  const elapsed = Date.now() - started;
  assert.instance(error, ReadModelUnavailableError, `${what} rejects with ReadModelUnavailableError`);
  assert.ok(elapsed < withinMs, `${what} rejected after ${elapsed} ms, limit ${withinMs} ms`);
}

readModelConformance('redis', async (now) => {
  const p = onPrefix();
  return { readModel: p.open(now), cleanup: () => p.done() };
});

/** A deterministic, varied event stream: every op kind, type changes, past and future expiries. */
function eventStream(count: number, clockStart: number, seed = 1): ProjectedEvent[] {
  let x = seed;
  const rnd = (n: number): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % n;
  };
  const events: ProjectedEvent[] = [];
  for (let i = 1; i <= count; i++) {
    const ops: ReadModelOp[] = [];
    for (let j = rnd(4); j >= 0; j--) {
      const key = `k${rnd(40)}`;
      const exp = [undefined, undefined, clockStart - 1000 + rnd(3000), clockStart + 3_600_000][rnd(4)];
      switch (rnd(5)) {
        case 0:
          ops.push(exp === undefined ? { op: 'set', key, value: `v${i}` } : { op: 'set', key, value: `v${i}`, expireAtMs: exp });
          break;
        case 1:
          ops.push({ op: 'del', key });
          break;
        case 2: {
          const fields = { [`f${rnd(5)}`]: `${i}`, [`f${rnd(5)}`]: 'é\n"' };
          ops.push(exp === undefined ? { op: 'hset', key, fields } : { op: 'hset', key, fields, expireAtMs: exp });
          break;
        }
        case 3:
          ops.push({ op: 'sadd', key, member: `m${rnd(6)}` });
          break;
        default:
          ops.push({ op: 'srem', key, member: `m${rnd(6)}` });
      }
    }
    events.push(ev(i, ...ops));
  }
  return events;
}

async function sameContent(a: ReadModel, b: ReadModel, keys: string[]): Promise<void> {
  for (const key of keys) {
    assert.is(await a.get(key), await b.get(key), `get ${key}`);
    assert.equal(await a.hgetall(key), await b.hgetall(key), `hgetall ${key}`);
    assert.equal(await a.smembers(key), await b.smembers(key), `smembers ${key}`);
  }
}

const allKeys = Array.from({ length: 40 }, (_, i) => `k${i}`);

test('redis: the same events give the same content and digest as memory', async () => {
  const start = Date.now();
  let t = start;
  const now = (): number => t;
  const p = onPrefix();
  try {
    const redis = p.open(now);
    const memory = createMemoryReadModel({ now });
    const events = eventStream(3000, start);
    // Different batch sizes on purpose: grouping must not matter.
    for (let i = 0; i < events.length; i += 700) await redis.applyBatch(events.slice(i, i + 700));
    for (let i = 0; i < events.length; i += 13) await memory.applyBatch(events.slice(i, i + 13));
    assert.is(await redis.checkpoint(), 3000n);
    assert.is(await redis.digest(), await memory.digest());
    await sameContent(redis, memory, allKeys);
    t += 2500; // past every short expiry
    assert.is(await redis.digest(), await memory.digest());
    await sameContent(redis, memory, allKeys);
    await memory.close();
  } finally {
    await p.done();
  }
});

test('redis: two instances applying interleaved, overlapping batches end as one would', async () => {
  const start = Date.now();
  const now = (): number => start;
  const p = onPrefix();
  try {
    const a = p.open(now);
    const b = p.open(now);
    const events = eventStream(2000, start, 7);
    // Each instance follows the log in order, as a projection runner does, with its own
    // batch boundaries; both run at once against the same keys.
    const run = async (rm: ReadModel, cuts: number[]): Promise<void> => {
      let from = 0;
      for (const to of [...cuts, events.length]) {
        // Each instance re-applies a little of what it already sent, as after a retry.
        await rm.applyBatch(events.slice(Math.max(0, from - 25), to));
        from = to;
      }
    };
    await Promise.all([run(a, [50, 400, 410, 1500]), run(b, [3, 300, 900, 901, 1999])]);
    const memory = createMemoryReadModel({ now });
    await memory.applyBatch(events);
    assert.is(await a.checkpoint(), 2000n);
    assert.is(await b.checkpoint(), 2000n);
    assert.is(await a.digest(), await memory.digest());
    await sameContent(b, memory, allKeys);
    await memory.close();
  } finally {
    await p.done();
  }
});

test('redis: after activate in one instance, another reads and writes the new generation at once', async () => {
  const now = (): number => Date.now();
  const p = onPrefix();
  try {
    const a = p.open(now);
    const b = p.open(now);
    await a.applyBatch([ev(1, { op: 'set', key: 'x', value: 'old' }, { op: 'set', key: 'stale', value: '1' })]);
    assert.is(await b.get('x'), 'old');
    const next = await a.openNextGeneration();
    await next.applyBatch([ev(1, { op: 'set', key: 'x', value: 'new' })]);
    const oldGen = await a.liveGeneration();
    await next.activate();
    assert.is(await b.liveGeneration(), next.id);
    assert.is(await b.get('x'), 'new');
    assert.is(await b.get('stale'), undefined);
    await b.applyBatch([ev(2, { op: 'set', key: 'y', value: 'via b' })]);
    assert.is(await next.checkpoint(), 2n);
    assert.is(await a.get('y'), 'via b');
    // Activating again is harmless; a generation discarded elsewhere takes no more writes.
    await next.activate();
    const other = await a.openNextGeneration();
    const otherSeenByB = await b.openNextGeneration();
    assert.is.not(otherSeenByB.id, other.id);
    await otherSeenByB.discard();
    await a.close(); // waits for the old generation's background deletion
    assert.is(await countKeys(admin, `${p.prefix}:{rm}:g${oldGen}:*`), 0, 'the dropped generation is deleted');
    let error: unknown;
    try {
      await other.activate();
    } catch (err) {
      error = err;
    }
    assert.ok(error, 'a closed read model refuses work');
  } finally {
    await p.done();
  }
});

test('redis: after FLUSHDB the checkpoint is -1n and the read model starts over', async () => {
  // FLUSHDB on the shared database would wipe other people's test keys, so it runs on an
  // empty spare database; where there is none, deleting every key of the prefix is the same
  // event as far as this read model can tell.
  const url = new URL(testRedisUrl());
  let db: number | undefined;
  for (let i = 15; i >= 1 && db === undefined; i--) {
    try {
      const probe = new Redis({ host: url.hostname, port: Number(url.port || 6379), username: url.username || undefined, password: url.password || undefined, db: i, maxRetriesPerRequest: 0, lazyConnect: true });
      probe.on('error', () => {});
      await probe.connect();
      if ((await probe.dbsize()) === 0) db = i;
      probe.disconnect();
    } catch {
      // no such database on this server
    }
  }
  const spare = new URL(url);
  if (db !== undefined) spare.pathname = `/${db}`;
  const client = new Redis(spare.toString(), { maxRetriesPerRequest: 0 });
  client.on('error', () => {});
  const prefix = newPrefix();
  const rm = createRedisReadModel({ url: spare.toString(), prefix, now: () => Date.now() });
  try {
    await rm.applyBatch([ev(1, { op: 'set', key: 'a', value: '1' })]);
    const next = await rm.openNextGeneration();
    await next.applyBatch([ev(5, { op: 'set', key: 'a', value: '5' })]);
    await next.activate();
    assert.is(await rm.checkpoint(), 5n);
    if (db !== undefined) await client.flushdb();
    else await deleteKeys(client, prefix);
    assert.is(await rm.checkpoint(), -1n);
    assert.is(await rm.get('a'), undefined);
    assert.is(await rm.liveGeneration(), '0', 'a missing pointer means generation 0');
    // The service rebuilds: straight into the live generation, or through a new one.
    assert.is(await rm.applyBatch([ev(1, { op: 'set', key: 'a', value: 'again' })]), 1n);
    assert.is(await rm.get('a'), 'again');
    const rebuild = await rm.openNextGeneration();
    assert.is.not(rebuild.id, '0');
    await rebuild.applyBatch([ev(9, { op: 'set', key: 'a', value: 'rebuilt' })]);
    await rebuild.activate();
    assert.is(await rm.get('a'), 'rebuilt');
    assert.is(await rm.checkpoint(), 9n);
  } finally {
    await rm.close();
    if (db !== undefined) await client.flushdb();
    else await deleteKeys(client, prefix);
    client.disconnect();
  }
});

test('redis: no Redis there -> ReadModelUnavailableError within 3 s', async () => {
  const rm = createRedisReadModel({ url: 'redis://127.0.0.1:1', prefix: newPrefix(), now: () => Date.now() });
  try {
    await rejectsUnavailable('ping', () => rm.ping(), 3000);
    await rejectsUnavailable('get', () => rm.get('a'), 3000);
    await rejectsUnavailable('applyBatch', () => rm.applyBatch([ev(1)]), 3000);
    await rejectsUnavailable('rateTake', () => rm.rateTake('k', 1, 1000, Date.now(), 1), 3000);
  } finally {
    await rm.close();
  }
});

/** A TCP proxy to the test Redis that can stall (hold requests back), drop its connections, and come back. */
async function startProxy(): Promise<{ port: number; stall(on: boolean): void; down(): Promise<void>; up(): Promise<void> }> {
  const target = new URL(testRedisUrl());
  const sockets = new Set<net.Socket>();
  const held: Array<() => void> = [];
  let stalled = false;
  const makeServer = (): net.Server =>
    net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 6379), target.hostname);
      sockets.add(client).add(upstream);
      client.on('data', (chunk) => {
        // Held, not dropped: a stalled server answers late, in order, like a real one.
        if (stalled) held.push(() => upstream.write(chunk));
        else upstream.write(chunk);
      });
      upstream.on('data', (chunk) => client.write(chunk));
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
  let server = makeServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    stall(on) {
      stalled = on;
      if (!on) for (const release of held.splice(0)) release();
    },
    async down() {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async up() {
      server = makeServer();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
  };
}

test('redis: a stalled server -> ReadModelUnavailableError after commandTimeoutMs; a lost one -> promptly; then recovery', async () => {
  const proxy = await startProxy();
  const p = onPrefix();
  try {
    const rm = p.open(() => Date.now(), { url: `redis://127.0.0.1:${proxy.port}`, commandTimeoutMs: 500 });
    await rm.applyBatch([ev(1, { op: 'set', key: 'a', value: '1' })]);
    proxy.stall(true);
    await rejectsUnavailable('get on a stalled server', () => rm.get('a'), 1500);
    proxy.stall(false);
    assert.is(await rm.get('a'), '1', 'the late answer to the timed-out command is not mistaken for this one');
    await proxy.down();
    await rejectsUnavailable('ping with the server gone', () => rm.ping(), 1500);
    await rejectsUnavailable('applyBatch with the server gone', () => rm.applyBatch([ev(2)]), 1500);
    await proxy.up();
    // ioredis reconnects by itself (backoff capped at 2 s).
    const deadline = Date.now() + 5000;
    let value: string | undefined;
    while (Date.now() < deadline) {
      try {
        value = await rm.get('a');
        break;
      } catch (err) {
        assert.instance(err, ReadModelUnavailableError);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.is(value, '1', 'back after Redis returned');
    assert.is(await rm.applyBatch([ev(2, { op: 'set', key: 'b', value: '2' })]), 2n);
  } finally {
    await p.done();
    await proxy.down();
  }
});

// Speed is measured by `npm run bench`, never asserted here (CI machines are noisy): this test
// proves a large replay lands whole, and prints its rate for the log.
test('redis: a 30k-event replay in large batches lands whole, every key with its expiry', async () => {
  const start = Date.now();
  const p = onPrefix();
  try {
    const rm = p.open(() => start);
    // Shaped like real projections: a login code hash with an expiry, a lookup key, a set.
    const total = 30_000;
    const events: ProjectedEvent[] = Array.from({ length: total }, (_, i) =>
      ev(i + 1,
        { op: 'hset', key: `cliAuth:${i}`, fields: { status: 'pending', pollingCode: `p${i}`, loginCode: `l${i}` }, expireAtMs: start + 600_000 },
        { op: 'set', key: `cliAuthByPolling:p${i}`, value: `${i}`, expireAtMs: start + 600_000 },
        { op: 'sadd', key: `project:${i % 50}:cliAuths`, member: `${i}` },
      ),
    );
    await rm.applyBatch(events.slice(0, 500)); // warm up: connection, script load
    const t0 = performance.now();
    for (let i = 500; i < total; i += 5000) await rm.applyBatch(events.slice(i, i + 5000));
    const seconds = (performance.now() - t0) / 1000;
    const rate = Math.round((total - 500) / seconds);
    console.log(`  # redis applyBatch: ${rate} events/s`);
    assert.is(await rm.checkpoint(), BigInt(total));
    assert.equal(await rm.hgetall(`cliAuth:${total - 1}`), { status: 'pending', pollingCode: `p${total - 1}`, loginCode: `l${total - 1}` });
    assert.is(await rm.get('cliAuthByPolling:p12345'), '12345');
    assert.is((await rm.smembers('project:7:cliAuths')).length, total / 50);
  } finally {
    await p.done();
  }
});

test.after(async () => {
  await admin.quit();
});

test.run();
