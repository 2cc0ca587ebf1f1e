// The projection runner never uses a read model that does not answer for its log (issue 18):
// one of another log, one ahead of its log, one of another history at its checkpoint, and one
// from before log identities that cannot be verified are rebuilt at start, once, with one
// warning; the same log after a restart is not. On the memory and Redis read models, each with
// the SQLite store and with the EventStoreDB adapter against its protocol double.
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import type { DomainEvent } from '../src/events/catalogue.ts';
import { asDomainEvent } from '../src/events/catalogue.ts';
import { streamName } from '../src/events/streams.ts';
import { allProjectors, projectionFilter } from '../src/projections/all-projections.ts';
import { findProject } from '../src/projections/project-projection.ts';
import type { Projector } from '../src/projections/projector.ts';
import { FOREIGN_READ_MODEL_MSG } from '../src/projections/read-model-ownership.ts';
import { ProjectionRunner } from '../src/projections/runner.ts';
import { createMemoryReadModel } from '../src/readmodel/memory-read-model.ts';
import type { ProjectedEvent, ReadModel } from '../src/readmodel/read-model.ts';
import { createRedisReadModel, type RedisReadModel } from '../src/readmodel/redis-read-model.ts';
import { ANY, type EventStore } from '../src/store/event-store.ts';
import { openEsdbEventStore } from '../src/store/esdb-event-store.ts';
import { openSqliteEventStore } from '../src/store/sqlite-event-store.ts';
import { startEsdbDouble } from './support/esdb-double.ts';
import { checkRedisOrExplain, testRedisUrl } from './support/redis-check.ts';

const unavailable = await checkRedisOrExplain();
if (unavailable !== undefined) {
  console.error(unavailable);
  process.exit(1);
}

const admin = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
admin.on('error', () => {});
const dir = mkdtempSync(join(tmpdir(), 'authlog-ownership-'));
const redisPrefixBase = `authlog-test-ownership-${randomUUID()}`;
const cleanups: (() => Promise<void>)[] = [];

type StoreKind = 'sqlite' | 'esdb-double';
type ReadModelKind = 'memory' | 'redis';

/** A new, empty log. */
async function newLog(kind: StoreKind): Promise<EventStore> {
  if (kind === 'sqlite') {
    const store = openSqliteEventStore(join(dir, `${randomUUID()}.db`), { pollIntervalMs: 50 });
    cleanups.push(() => store.close());
    return store;
  }
  const double = await startEsdbDouble();
  const store = openEsdbEventStore(double.url);
  cleanups.push(async () => {
    await store.close();
    await double.stop();
  });
  return store;
}

/**
 * Another log that claims `original`'s identity: what a restored copy of `original` looks like by
 * identity alone (a real copy of a SQLite file is tested below and end to end).
 */
async function impostorOf(kind: StoreKind, original: EventStore): Promise<EventStore> {
  const other = await newLog(kind);
  const logId = await original.logIdentity();
  return {
    append: (s, e, x) => other.append(s, e, x),
    readStream: (s) => other.readStream(s),
    readAll: (o) => other.readAll(o),
    headPosition: (f) => other.headPosition(f),
    subscribeToAll: (o, h) => other.subscribeToAll(o, h),
    logIdentity: async () => logId,
    close: () => other.close(),
  };
}

/** One read model that outlives the runners, as Redis outlives a process; `open` is another client on it. */
function sharedReadModel(kind: ReadModelKind): { readModel: ReadModel; open(): ReadModel; prefix: string } {
  const prefix = `${redisPrefixBase}-${randomUUID()}`;
  if (kind === 'memory') {
    const rm = createMemoryReadModel({ now: Date.now });
    return { readModel: rm, open: () => rm, prefix };
  }
  const open = (): RedisReadModel => {
    const rm = createRedisReadModel({ url: testRedisUrl(), prefix, now: Date.now });
    cleanups.push(() => rm.close());
    return rm;
  };
  return { readModel: open(), open, prefix };
}

interface LogLine {
  level: string;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

function runner(store: EventStore, readModel: ReadModel, projector: Projector = allProjectors): { runner: ProjectionRunner; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const r = new ProjectionRunner({ store, readModel, projector, filter: projectionFilter, log: (level, msg, fields) => lines.push({ level, msg, fields }) });
  cleanups.push(() => r.stop());
  return { runner: r, lines };
}

const rebuildWarnings = (lines: readonly LogLine[]): LogLine[] => lines.filter((l) => l.msg === FOREIGN_READ_MODEL_MSG && l.level === 'warn');

function counting(): { projector: Projector; count: () => number } {
  let n = 0;
  return { count: () => n, projector: (event, recorded) => (n++, allProjectors(event, recorded)) };
}

const keyRecord = () => ({ id: randomUUID(), digest: randomUUID() });

async function createProject(store: EventStore, name: string): Promise<string> {
  const projectId = randomUUID();
  const event: DomainEvent = {
    type: 'ProjectCreated',
    data: { projectId, name, trustedDomains: [], keys: { publishableClientKey: keyRecord(), secretServerKey: keyRecord(), superSecretAdminKey: keyRecord() } },
  };
  await store.append(streamName('project', projectId), [{ id: randomUUID(), type: event.type, data: event.data, metadata: { occurredAt: new Date().toISOString(), actor: { kind: 'system', id: 'ownership-test' } } }], ANY);
  return projectId;
}

async function createProjects(store: EventStore, count: number, name: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await createProject(store, `${name} ${i}`));
  return ids;
}

async function assertFound(rm: ReadModel, ids: readonly string[], what: string): Promise<void> {
  for (const id of ids) assert.ok(await findProject(rm, id), `${what}: project ${id} is found`);
}

async function assertNotFound(rm: ReadModel, ids: readonly string[], what: string): Promise<void> {
  for (const id of ids) assert.is(await findProject(rm, id), undefined, `${what}: project ${id} is not found`);
}

/** The digest of a fresh replay of `store`, to compare a rebuilt read model with. */
async function freshDigest(store: EventStore): Promise<string> {
  const rm = createMemoryReadModel({ now: Date.now });
  const r = new ProjectionRunner({ store, readModel: rm, projector: allProjectors, filter: projectionFilter });
  await r.start();
  await r.stop();
  return rm.digest();
}

/** Projects `store` into `rm` as the code before log identities did: no identity, no checkpoint event. */
async function projectAsBeforeIdentities(store: EventStore, rm: ReadModel): Promise<void> {
  const batch: ProjectedEvent[] = [];
  for await (const recorded of store.readAll({ filter: projectionFilter })) {
    const event = asDomainEvent(recorded);
    batch.push({ position: recorded.position, ops: event ? allProjectors(event, recorded) : [] });
  }
  await rm.applyBatch(batch);
}

for (const storeKind of ['sqlite', 'esdb-double'] as const) {
  for (const rmKind of ['memory', 'redis'] as const) {
    const s = suite(`read model ownership: ${rmKind} read model, ${storeKind} store`);

    s('the same log after a restart is used as it is: no rebuild, nothing projected again', async () => {
      const store = await newLog(storeKind);
      const ids = await createProjects(store, 3, 'Kept');
      const { readModel } = sharedReadModel(rmKind);
      const first = runner(store, readModel);
      await first.runner.start();
      await first.runner.stop();
      const { projector, count } = counting();
      const second = runner(store, readModel, projector);
      await second.runner.start();
      assert.equal(rebuildWarnings([...first.lines, ...second.lines]), [], 'no rebuild warning');
      assert.is(count(), 0, 'no event projected again');
      await assertFound(readModel, ids, 'after the restart');
      assert.is((await readModel.provenance()).logId, await store.logIdentity());
    });

    s('a checkpoint moved past streams it does not project (the store\'s checkpoints) is the same log after a restart', async () => {
      const store = await newLog(storeKind);
      const ids = await createProjects(store, 2, 'Before');
      // Events of a stream no projection reads, after the last projected one.
      for (let i = 0; i < 5; i++) {
        await store.append(`unprojected-${randomUUID()}`, [{ id: randomUUID(), type: 'SomethingElse', data: {}, metadata: { occurredAt: new Date().toISOString() } }], ANY);
      }
      const { readModel } = sharedReadModel(rmKind);
      const first = runner(store, readModel);
      await first.runner.start();
      await first.runner.waitFor(await store.headPosition(), 5000);
      await first.runner.stop();
      const { checkpoint, checkpointEvent } = await readModel.provenance();
      if (storeKind === 'sqlite') assert.is(checkpoint, await store.headPosition(), 'moved past the unprojected events');
      assert.ok(checkpointEvent && checkpointEvent.position <= checkpoint, 'keeps the last event it saw');
      const { projector, count } = counting();
      const second = runner(store, readModel, projector);
      await second.runner.start();
      assert.equal(rebuildWarnings(second.lines), [], 'no rebuild');
      assert.is(count(), 0, 'nothing projected again');
      await assertFound(readModel, ids, 'after the restart');
    });

    s("another log's read model is rebuilt from this log once, with one warning, before start() resolves", async () => {
      const old = await newLog(storeKind);
      const oldIds = await createProjects(old, 4, 'Old');
      const { readModel } = sharedReadModel(rmKind);
      const before = runner(old, readModel);
      await before.runner.start();
      await before.runner.stop();
      const fresh = await newLog(storeKind);
      const newIds = await createProjects(fresh, 2, 'New');
      const after = runner(fresh, readModel);
      await after.runner.start();
      const warnings = rebuildWarnings(after.lines);
      assert.is(warnings.length, 1, 'one warning');
      assert.is(warnings[0]?.fields?.verdict, 'another log');
      await assertFound(readModel, newIds, 'the new log');
      await assertNotFound(readModel, oldIds, 'the old log');
      assert.is(await readModel.digest(), await freshDigest(fresh), 'as a replay of the new log from scratch');
      assert.is((await readModel.provenance()).logId, await fresh.logIdentity());
      assert.is(after.runner.rebuildingBecause, undefined, 'ready again once caught up');
      // A project created on the new log now is projected (the old checkpoint no longer hides it).
      const late = await createProject(fresh, 'Late');
      await after.runner.waitFor(await fresh.headPosition(projectionFilter), 5000);
      await assertFound(readModel, [late], 'written after the rebuild');
      // And the next start on the same log does not rebuild again.
      await after.runner.stop();
      const again = runner(fresh, readModel);
      await again.runner.start();
      assert.is(rebuildWarnings(again.lines).length, 0, 'no second rebuild');
    });

    s('while the rebuild runs the runner says why (what /ready reports with its 503); once caught up, nothing', async () => {
      const old = await newLog(storeKind);
      await createProjects(old, 2, 'Old');
      const { readModel } = sharedReadModel(rmKind);
      const before = runner(old, readModel);
      await before.runner.start();
      await before.runner.stop();
      const fresh = await newLog(storeKind);
      await createProjects(fresh, 2, 'New');
      const seen: (string | undefined)[] = [];
      let r: ProjectionRunner | undefined;
      const after = runner(fresh, readModel, (event, recorded) => (seen.push(r?.rebuildingBecause), allProjectors(event, recorded)));
      r = after.runner;
      await r.start();
      assert.equal(seen, ['another log', 'another log'], 'each event of the rebuild is projected while the runner says why');
      assert.is(r.rebuildingBecause, undefined);
    });

    s('a read model ahead of its log (an older copy of the log) is rebuilt', async () => {
      const original = await newLog(storeKind);
      await createProjects(original, 5, 'Moved on');
      const { readModel } = sharedReadModel(rmKind);
      const before = runner(original, readModel);
      await before.runner.start();
      await before.runner.stop();
      const olderCopy = await impostorOf(storeKind, original);
      const kept = await createProjects(olderCopy, 1, 'In the copy');
      const after = runner(olderCopy, readModel);
      await after.runner.start();
      const warnings = rebuildWarnings(after.lines);
      assert.is(warnings.length, 1);
      assert.is(warnings[0]?.fields?.verdict, 'ahead of its log');
      await assertFound(readModel, kept, 'the copy');
      assert.is(await readModel.digest(), await freshDigest(olderCopy));
    });

    s('a read model whose checkpoint event the log does not hold (another history) is rebuilt', async () => {
      const original = await newLog(storeKind);
      const lost = await createProjects(original, 2, 'Lost');
      const { readModel } = sharedReadModel(rmKind);
      const before = runner(original, readModel);
      await before.runner.start();
      await before.runner.stop();
      const otherHistory = await impostorOf(storeKind, original);
      const kept = await createProjects(otherHistory, 4, 'Written since');
      const after = runner(otherHistory, readModel);
      await after.runner.start();
      const warnings = rebuildWarnings(after.lines);
      assert.is(warnings.length, 1);
      assert.is(warnings[0]?.fields?.verdict, 'other history');
      await assertFound(readModel, kept, 'the history now in the log');
      await assertNotFound(readModel, lost, 'the history the log no longer has');
      assert.is(await readModel.digest(), await freshDigest(otherHistory));
    });

    s('a read model from before log identities is adopted at the log head, and rebuilt when behind it', async () => {
      const store = await newLog(storeKind);
      const ids = await createProjects(store, 3, 'Upgraded');
      const atHead = sharedReadModel(rmKind).readModel;
      await projectAsBeforeIdentities(store, atHead);
      const { projector, count } = counting();
      const adopted = runner(store, atHead, projector);
      await adopted.runner.start();
      assert.is(rebuildWarnings(adopted.lines).length, 0, 'adopted: no rebuild');
      assert.is(count(), 0, 'nothing projected again');
      await assertFound(atHead, ids, 'adopted');
      await adopted.runner.stop();
      // Once adopted, it carries the identity and the checkpoint event like any other.
      const p = await atHead.provenance();
      assert.is(p.logId, await store.logIdentity());

      const behind = sharedReadModel(rmKind).readModel;
      await projectAsBeforeIdentities(store, behind);
      const more = await createProjects(store, 1, 'After the old stop');
      const rebuilt = runner(store, behind);
      await rebuilt.runner.start();
      const warnings = rebuildWarnings(rebuilt.lines);
      assert.is(warnings.length, 1);
      assert.is(warnings[0]?.fields?.verdict, 'unverifiable');
      await assertFound(behind, [...ids, ...more], 'rebuilt');
    });

    s.run();
  }
}

const shared = suite('read model ownership: instances sharing a Redis');

shared('two runners starting on a new log beside an old Redis agree on one generation, built once', async () => {
  const old = await newLog('sqlite');
  const oldIds = await createProjects(old, 3, 'Old');
  const { readModel, open } = sharedReadModel('redis');
  const before = runner(old, readModel);
  await before.runner.start();
  await before.runner.stop();
  const fresh = await newLog('sqlite');
  const newIds = await createProjects(fresh, 30, 'New');
  const second = openSqliteEventStore((fresh as unknown as { path: string }).path, { pollIntervalMs: 50 });
  cleanups.push(() => second.close());
  const [rmA, rmB] = [open() as RedisReadModel, open() as RedisReadModel];
  const a = runner(fresh, rmA);
  const b = runner(second, rmB);
  await Promise.all([a.runner.start(), b.runner.start()]);
  const lines = [...a.lines, ...b.lines];
  assert.is(lines.filter((l) => l.msg === 'read model rebuilt from this log').length, 1, 'exactly one generation switched in');
  assert.is(await rmA.liveGeneration(), await rmB.liveGeneration(), 'one live generation');
  for (const rm of [rmA, rmB]) {
    await assertFound(rm, newIds, 'the new log');
    await assertNotFound(rm, oldIds, 'the old log');
  }
  // Both write into that one generation from now on.
  const late = await createProject(second, 'Late');
  const head = await fresh.headPosition(projectionFilter);
  assert.ok(await a.runner.waitFor(head, 5000));
  assert.ok(await b.runner.waitFor(head, 5000));
  await assertFound(rmA, [late], 'seen by both');
  assert.is(await rmA.digest(), await freshDigest(fresh));
});

shared('a SQLite log restored from a copy and written to since is another history: rebuilt once, the lost writes gone', async () => {
  const path = join(dir, `${randomUUID()}.db`);
  let store = openSqliteEventStore(path);
  const kept = await createProjects(store, 2, 'Before the copy');
  await store.close();
  copyFileSync(path, `${path}.backup`);
  store = openSqliteEventStore(path);
  const lost = await createProjects(store, 3, 'After the copy');
  const { readModel } = sharedReadModel('redis');
  const before = runner(store, readModel);
  await before.runner.start();
  await before.runner.stop();
  await store.close();
  for (const suffix of ['-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  copyFileSync(`${path}.backup`, path);
  store = openSqliteEventStore(path);
  cleanups.push(() => store.close());
  const different = await createProjects(store, 3, 'Written on the restored copy');
  const after = runner(store, readModel);
  await after.runner.start();
  const warnings = rebuildWarnings(after.lines);
  assert.is(warnings.length, 1);
  assert.is(warnings[0]?.fields?.verdict, 'other history', 'same positions, other events');
  await assertFound(readModel, [...kept, ...different], 'the restored log');
  await assertNotFound(readModel, lost, 'writes the restored log does not have');
});

shared.after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${redisPrefixBase}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.unlink(...keys);
  } while (cursor !== '0');
  admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

shared.run();
