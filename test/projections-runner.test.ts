// The projection runner end to end: a real SQLite event store in a temp dir, the memory read
// model, and the Redis read model where a restart or a stored generation matters.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import type { DomainEvent } from '../src/events/catalogue.ts';
import { streamName } from '../src/events/streams.ts';
import { allProjectors, projectionFilter } from '../src/projections/all-projections.ts';
import { findProject, isProjectAdmin } from '../src/projections/project-projection.ts';
import type { Projector } from '../src/projections/projector.ts';
import { ProjectionRunner } from '../src/projections/runner.ts';
import { createMemoryReadModel } from '../src/readmodel/memory-read-model.ts';
import type { ReadModel } from '../src/readmodel/read-model.ts';
import { createRedisReadModel, type RedisReadModel } from '../src/readmodel/redis-read-model.ts';
import { ANY, type EventStore } from '../src/store/event-store.ts';
import { openSqliteEventStore, type SqliteEventStore } from '../src/store/sqlite-event-store.ts';
import { checkRedisOrExplain, testRedisUrl } from './support/redis-check.ts';
import { openEsdbEventStore } from '../src/store/esdb-event-store.ts';
import { startEsdbDouble } from './support/esdb-double.ts';

const unavailable = await checkRedisOrExplain();
if (unavailable !== undefined) {
  console.error(unavailable);
  process.exit(1);
}

const redisPrefix = `authlog-test-runner-${randomUUID()}`;
const admin = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
admin.on('error', () => {});

const dir = mkdtempSync(join(tmpdir(), 'authlog-runner-'));
const opened: { close(): Promise<void> }[] = [];

function openStore(path = join(dir, `${randomUUID()}.db`)): SqliteEventStore {
  const store = openSqliteEventStore(path, { pollIntervalMs: 50 });
  opened.push(store);
  return store;
}

function openRedis(prefix: string): RedisReadModel {
  const rm = createRedisReadModel({ url: testRedisUrl(), prefix, now: Date.now });
  opened.push(rm);
  return rm;
}

function runner(store: EventStore, readModel: ReadModel, projector: Projector = allProjectors, batchSize?: number): ProjectionRunner {
  const r = new ProjectionRunner({ store, readModel, projector, filter: projectionFilter, batchSize });
  opened.push({ close: () => r.stop() });
  return r;
}

/** A projector that counts what it is given, then projects as the service does. */
function counting(): { projector: Projector; positions: bigint[] } {
  const positions: bigint[] = [];
  return { positions, projector: (event, recorded) => (positions.push(recorded.position), allProjectors(event, recorded)) };
}

const keyRecord = () => ({ id: randomUUID(), digest: randomUUID() });
const metadata = () => ({ occurredAt: new Date().toISOString(), actor: { kind: 'system' as const, id: 'runner-test' } });

async function append(store: EventStore, stream: string, ...events: DomainEvent[]): Promise<bigint> {
  const result = await store.append(stream, events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata: metadata() })), ANY);
  return result.position;
}

/** Appends a ProjectCreated on a fresh project stream. */
async function createProject(store: EventStore, name = 'Demo'): Promise<{ projectId: string; position: bigint }> {
  const projectId = randomUUID();
  const data = { projectId, name, trustedDomains: ['https://app.example.com'], keys: { publishableClientKey: keyRecord(), secretServerKey: keyRecord(), superSecretAdminKey: keyRecord() } };
  return { projectId, position: await append(store, streamName('project', projectId), { type: 'ProjectCreated', data }) };
}

/** A log with creations, domain changes and admins added and removed (sets that empty out). */
async function seedVariedLog(store: EventStore, projects = 3): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < projects; i++) {
    const { projectId } = await createProject(store, `Project ${i}`);
    const stream = streamName('project', projectId);
    const [a, b] = [randomUUID(), randomUUID()];
    await append(store, stream, { type: 'ProjectAdminAdded', data: { projectId, userId: a } }, { type: 'ProjectAdminAdded', data: { projectId, userId: b } });
    await append(store, stream, { type: 'ProjectAdminRemoved', data: { projectId, userId: i % 2 ? a : b } });
    await append(store, stream, { type: 'ProjectTrustedDomainsChanged', data: { projectId, trustedDomains: [`https://p${i}.example.com`] } });
    ids.push(projectId);
  }
  return ids;
}

/** The digest a fresh memory read model reaches by projecting the whole log from scratch. */
async function freshDigest(store: EventStore): Promise<string> {
  const rm = createMemoryReadModel({ now: Date.now });
  const r = new ProjectionRunner({ store, readModel: rm, projector: allProjectors, filter: projectionFilter });
  await r.start();
  await r.stop();
  return rm.digest();
}

test('start() resolves only once every existing event is applied, across several batches', async () => {
  const store = openStore();
  const projects: string[] = [];
  for (let i = 0; i < 25; i++) projects.push((await createProject(store, `P${i}`)).projectId);
  await append(store, 'foreign-stream', { type: 'UserDeleted', data: { userId: randomUUID(), projectId: randomUUID() } });
  const rm = createMemoryReadModel({ now: Date.now });
  const { projector, positions } = counting();
  const r = runner(store, rm, projector, 4);
  assert.is(r.appliedPosition, -1n);
  await r.start();
  // The foreign event after the last project was looked at too: the checkpoint is past it.
  assert.ok((await store.headPosition()) > (await store.headPosition(projectionFilter)));
  assert.is(r.appliedPosition, await store.headPosition());
  assert.is(await rm.checkpoint(), r.appliedPosition);
  assert.is(positions.length, 25, 'each event projected once; the foreign stream is filtered out');
  for (const projectId of projects) assert.ok(await findProject(rm, projectId), `project ${projectId} visible after start`);
});

test('on EventStoreDB, a long stretch of other categories moves the read model checkpoint by the server\'s checkpoints, live and without an event', async () => {
  const double = await startEsdbDouble();
  const store = openEsdbEventStore(double.url);
  try {
    const { position: projectAt } = await createProject(store, 'Before');
    const rm = createMemoryReadModel({ now: Date.now });
    const r = runner(store, rm);
    await r.start();
    assert.is(await rm.checkpoint(), projectAt);
    // 1000 events of a category nobody projects: no onEvent, only checkpoints.
    for (let i = 0; i < 10; i++) {
      await store.append(`foreign-${i}`, Array.from({ length: 100 }, () => ({ id: randomUUID(), type: 'UserDeleted', data: {}, metadata: metadata() })), ANY);
    }
    const foreignHead = await store.headPosition();
    const deadline = Date.now() + 5000;
    while ((await rm.checkpoint()) <= projectAt && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const checkpoint = await rm.checkpoint();
    assert.ok(checkpoint > projectAt, `checkpoint ${checkpoint} moved past ${projectAt}`);
    assert.ok(checkpoint < foreignHead, 'never past what the server looked at');
    // Nothing was skipped: a project created after the stretch is projected.
    const { projectId, position } = await createProject(store, 'After');
    assert.ok(await r.waitFor(position, 5000));
    assert.ok(await findProject(rm, projectId));
    await r.stop();
  } finally {
    await store.close();
    await double.stop();
  }
});

test('catch-up reads and projects the next batch while the read model applies one; batches apply in order, at most two held', async () => {
  const store = openStore();
  for (let i = 0; i < 40; i++) await createProject(store, `P${i}`);
  const rm = createMemoryReadModel({ now: Date.now });
  // The read model takes each batch only when the test lets it, and records what it was given.
  const applied: bigint[][] = [];
  const held: (() => void)[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const gated: ReadModel = Object.assign(Object.create(rm) as ReadModel, {
    applyBatch: async (events: Parameters<ReadModel['applyBatch']>[0], options?: Parameters<ReadModel['applyBatch']>[1]) => {
      // The read model's own bookkeeping (recording the log it belongs to) is not a batch of events.
      if (events.length === 0) return rm.applyBatch(events, options);
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise<void>((release) => held.push(release));
      applied.push(events.map((e) => e.position));
      const checkpoint = await rm.applyBatch(events, options);
      inFlight -= 1;
      return checkpoint;
    },
  });
  const { projector, positions } = counting();
  const r = runner(store, gated, projector, 4);
  const started = r.start();
  const until = async (condition: () => boolean, what: string): Promise<void> => {
    for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
    assert.ok(condition(), what);
  };
  await until(() => held.length === 1, 'the first batch is handed over');
  await until(() => positions.length >= 8, 'the next batch is projected while the first is held');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(positions.length <= 8, `the reader waits with two batches held (projected ${positions.length})`);
  while (applied.flat().length < 40) {
    await until(() => held.length > 0, 'another batch');
    held.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await started;
  assert.is(mostInFlight, 1, 'one batch applies at a time');
  const order = applied.flat();
  assert.equal(order, [...order].sort((a, b) => (a < b ? -1 : 1)), 'in position order');
  assert.is(new Set(order).size, 40, 'each event once');
  assert.is(r.appliedPosition, await store.headPosition(projectionFilter));
});

test('waitFor resolves true once a newly appended event is applied, false after its timeout for a position never reached', async () => {
  const store = openStore();
  const rm = createMemoryReadModel({ now: Date.now });
  const r = runner(store, rm);
  const { position: first } = await createProject(store);
  await r.start();
  assert.is(await r.waitFor(first, 0), true, 'an applied position resolves at once');

  const { projectId, position } = await createProject(store);
  assert.ok(position > r.appliedPosition, 'not applied yet when waitFor is called');
  assert.is(await r.waitFor(position, 2000), true);
  assert.is((await findProject(rm, projectId))?.name, 'Demo', 'visible when waitFor resolves');

  const started = Date.now();
  assert.is(await r.waitFor(position + 1000n, 150), false);
  assert.ok(Date.now() - started >= 140, 'waited for the timeout');
});

test('a restart on Redis resumes from the checkpoint without projecting old events again', async () => {
  const prefix = `${redisPrefix}-restart`;
  const store = openStore();
  for (let i = 0; i < 5; i++) await createProject(store);
  const firstCount = counting();
  const first = runner(store, openRedis(prefix), firstCount.projector);
  await first.start();
  assert.is(firstCount.positions.length, 5);
  const checkpoint = first.appliedPosition;
  await first.stop();

  const later = [await createProject(store), await createProject(store)];
  const rm = openRedis(prefix);
  assert.is(await rm.checkpoint(), checkpoint, 'the checkpoint survived in Redis');
  const secondCount = counting();
  const second = runner(store, rm, secondCount.projector);
  await second.start();
  assert.equal(secondCount.positions, later.map((p) => p.position), 'only the events after the checkpoint');
  assert.is(second.appliedPosition, later[1]!.position);
  for (const { projectId } of later) assert.ok(await findProject(rm, projectId));
  assert.is(await rm.digest(), await freshDigest(store), 'same read model as one projection from scratch');
});

test('rebuild() reproduces the same digest, and events appended during and after it are visible', async () => {
  const store = openStore();
  const projects = await seedVariedLog(store);
  const rm = createMemoryReadModel({ now: Date.now });
  const r = runner(store, rm, allProjectors, 2);
  await r.start();
  const before = await rm.digest();
  assert.is(before, await freshDigest(store));

  let during: Promise<{ projectId: string; position: bigint }> | undefined;
  const result = await r.rebuild(() => {
    during ??= createProject(store, 'during rebuild');
  });
  assert.ok(during, 'rebuild reported progress');
  const duringProject = await during;
  assert.ok(result.events >= 12, `rebuilt ${result.events} events`);
  assert.is(await r.waitFor(duringProject.position, 2000), true);
  assert.is((await findProject(rm, duringProject.projectId))?.name, 'during rebuild');
  assert.is(await rm.digest(), await freshDigest(store), 'rebuilt model equals a fresh projection');

  const after = await createProject(store, 'after rebuild');
  assert.is(await r.waitFor(after.position, 2000), true, 'live projection goes on after the switch');
  assert.ok(await findProject(rm, after.projectId));
  const [p0] = projects as [string];
  assert.equal((await findProject(rm, p0))?.trustedDomains, ['https://p0.example.com']);
});

test('rebuild() on Redis switches to a clean generation with the digest of the log', async () => {
  const prefix = `${redisPrefix}-rebuild`;
  const store = openStore();
  const [projectId] = (await seedVariedLog(store, 2)) as [string];
  const rm = openRedis(prefix);
  const r = runner(store, rm);
  await r.start();
  const clean = await rm.digest();
  assert.is(clean, await freshDigest(store), 'Redis and memory agree on the digest');
  const generation = await rm.liveGeneration();
  // Damage the live generation behind the runner's back: only a real rebuild repairs it.
  await admin.set(`${prefix}:{rm}:g${generation}:stray`, 'x');
  assert.is.not(await rm.digest(), clean);

  await r.rebuild();
  assert.is.not(await rm.liveGeneration(), generation);
  assert.is(await rm.digest(), clean);
  assert.is(await rm.get('stray'), undefined);
  const stream = streamName('project', projectId);
  const userId = randomUUID();
  const position = await append(store, stream, { type: 'ProjectAdminAdded', data: { projectId, userId } });
  assert.is(await r.waitFor(position, 2000), true);
  assert.is(await isProjectAdmin(rm, projectId, userId), true);
});

test('events appended by a second store instance on the same file are projected within 1 s', async () => {
  const path = join(dir, `${randomUUID()}.db`);
  const store = openStore(path);
  const rm = createMemoryReadModel({ now: Date.now });
  const r = runner(store, rm);
  await r.start();
  const other = openStore(path);
  for (let i = 0; i < 3; i++) {
    const { projectId, position } = await createProject(other, `other ${i}`);
    const started = Date.now();
    assert.is(await r.waitFor(position, 1000), true, 'visible within 1 s');
    assert.ok(Date.now() - started < 1000);
    assert.is((await findProject(rm, projectId))?.name, `other ${i}`);
  }
});

test('stop() resolves pending waiters with false at once and no later event is projected', async () => {
  const store = openStore();
  const { projector, positions } = counting();
  const r = runner(store, createMemoryReadModel({ now: Date.now }), projector);
  await createProject(store);
  await r.start();
  const head = r.appliedPosition;
  const pending = [r.waitFor(head + 1n, 10_000), r.waitFor(head + 50n, 10_000)];
  const started = Date.now();
  await r.stop();
  assert.equal(await Promise.all(pending), [false, false]);
  assert.ok(Date.now() - started < 1000, 'not after the waiters’ own timeouts');
  await createProject(store);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.is(positions.length, 1, 'the stopped runner projected nothing more');
  assert.is(r.appliedPosition, head);
});

test('a write that lands while rebuild() has the subscription closed releases its waiter at once', async () => {
  const store = openStore();
  await createProject(store);
  const base = createMemoryReadModel({ now: Date.now });
  let late: { projectId: string; position: bigint } | undefined;
  let waiter: Promise<boolean> | undefined;
  let r!: ProjectionRunner;
  // The rebuild reads the new generation's checkpoint before its second catch-up; a write made
  // then is caught up into the new generation, never seen by the live subscription.
  const readModel: ReadModel = {
    ...base,
    async openNextGeneration() {
      const next = await base.openNextGeneration();
      let reads = 0;
      return {
        id: next.id,
        applyBatch: (events) => next.applyBatch(events),
        provenance: () => next.provenance(),
        activate: () => next.activate(),
        discard: () => next.discard(),
        async checkpoint() {
          if (++reads === 2) {
            late = await createProject(store, 'late');
            waiter = r.waitFor(late.position, 5000);
          }
          return next.checkpoint();
        },
      };
    },
  };
  r = runner(store, readModel);
  await r.start();
  await r.rebuild();
  assert.ok(late && waiter, 'the write happened during the rebuild');
  assert.ok(await findProject(readModel, late.projectId), 'it is visible');
  const started = Date.now();
  assert.is(await waiter, true);
  assert.ok(Date.now() - started < 500, `released at once, not after the timeout (${Date.now() - started} ms)`);
});

test.after(async () => {
  for (const o of opened.reverse()) await o.close().catch(() => undefined);
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.unlink(...keys);
  } while (cursor !== '0');
  admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

test('an event projected right after Redis lost the read model does not land on the empty model: the log is projected again first', async () => {
  const prefix = `${redisPrefix}-lost`;
  const store = openStore();
  const before = await seedVariedLog(store);
  const rm = openRedis(prefix);
  // The watchdog is far off: only the apply precondition can notice the loss here.
  const r = new ProjectionRunner({ store, readModel: rm, projector: allProjectors, filter: projectionFilter, watchIntervalMs: 600_000 });
  opened.push({ close: () => r.stop() });
  await r.start();
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  assert.ok(keys.length > 0);
  await admin.del(...keys); // what FLUSHDB or a replaced Redis does to this read model
  const { projectId, position } = await createProject(store, 'After the loss');
  assert.is(await r.waitFor(position, 5000), true);
  assert.ok(await findProject(rm, projectId));
  for (const id of before) assert.ok(await findProject(rm, id), `project ${id} from before the loss is back`);
  assert.is(await rm.digest(), await freshDigest(store), 'same read model as one projection from scratch');
});

test.run();
