// The memory read model's snapshot: a snapshot plus the log's tail is the full replay, digest for
// digest; a torn or foreign snapshot is never used (the whole log is replayed instead).
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryReadModel, memoryLiveGeneration } from '../src/readmodel/memory-read-model.ts';
import { SNAPSHOT_FILE, snapshotLines, writeSnapshotFile } from '../src/readmodel/memory-snapshot.ts';
import { loadMemorySnapshot, startMemorySnapshots } from '../src/readmodel/memory-snapshots.ts';
import type { ProjectedEvent } from '../src/readmodel/read-model.ts';
import { createHasher } from '../src/crypto/digests.ts';

const silent = (): void => {};
const sealer = createHasher('snapshot-test-secret-0123456789-abcdefghijkl');
const t0 = Date.now();
const now = (): number => t0;

/** A varied history: strings with and without expiry, hashes updated field by field, sets grown and shrunk, deletions. */
function history(n: number): ProjectedEvent[] {
  const events: ProjectedEvent[] = [];
  for (let i = 0; i < n; i++) {
    const ops: ProjectedEvent['ops'][number][] = [
      { op: 'set', key: `refresh:${i}`, value: `s${i}`, ...(i % 3 === 0 ? { expireAtMs: t0 + 60_000 } : {}) },
      { op: 'hset', key: `session:s${i % 50}`, fields: { n: String(i), userId: `u${i % 7}` } },
      { op: 'sadd', key: `user-sessions:u${i % 7}`, member: `s${i}` },
    ];
    if (i % 5 === 4) ops.push({ op: 'srem', key: `user-sessions:u${i % 7}`, member: `s${i - 2}` }, { op: 'del', key: `refresh:${i - 4}` });
    if (i % 11 === 0) ops.push({ op: 'set', key: `gone:${i}`, value: 'x', expireAtMs: t0 - 1 });
    events.push({ position: BigInt(i * 2 + 1), ops, event: { id: `e${i}`, streamId: `stream-${i % 9}`, revision: BigInt(i) } });
  }
  return events;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'authlog-snapshot-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a snapshot plus the tail of the log equals a full replay, digest for digest, provenance included', () =>
  withDir(async (dir) => {
    const events = history(400);
    const full = createMemoryReadModel({ now });
    await full.applyBatch(events, { logId: 'log-1' });

    const early = createMemoryReadModel({ now });
    await early.applyBatch(events.slice(0, 250), { logId: 'log-1' });
    const snapshots = startMemorySnapshots({ readModel: early, dir, intervalMs: 0, now, log: silent, sealer });
    assert.ok(await snapshots.snapshotNow());
    assert.not.ok(await snapshots.snapshotNow(), 'nothing new: not written again');

    const initial = await loadMemorySnapshot(dir, 'log-1', silent, sealer);
    assert.ok(initial);
    const restarted = createMemoryReadModel({ now, initial });
    assert.is(await restarted.digest(), await early.digest());
    assert.equal(await restarted.provenance(), await early.provenance());
    await restarted.applyBatch(events, { logId: 'log-1' }); // the runner offers the tail; the rest is skipped by the checkpoint
    assert.is(await restarted.digest(), await full.digest());
    assert.equal(await restarted.provenance(), await full.provenance());
    assert.equal(await restarted.hgetall('session:s3'), await full.hgetall('session:s3'));
  }));

test('a snapshot of another log is not used', () =>
  withDir(async (dir) => {
    const rm1 = createMemoryReadModel({ now });
    await rm1.applyBatch(history(20), { logId: 'log-1' });
    await writeSnapshotFile(dir, snapshotLines(memoryLiveGeneration(rm1)!, now()), sealer);
    assert.is(await loadMemorySnapshot(dir, 'log-2', silent, sealer), undefined);
    assert.ok(await loadMemorySnapshot(dir, 'log-1', silent, sealer));
  }));

test('a torn snapshot (a crash mid-write, a truncated or edited file) is not used: the whole log is replayed', () =>
  withDir(async (dir) => {
    const rm1 = createMemoryReadModel({ now });
    await rm1.applyBatch(history(100), { logId: 'log-1' });
    await writeSnapshotFile(dir, snapshotLines(memoryLiveGeneration(rm1)!, now()), sealer);
    const whole = await readFile(join(dir, SNAPSHOT_FILE), 'utf8');
    // A temp file left by a crash mid-write is never read: only the renamed file counts.
    await writeFile(join(dir, `${SNAPSHOT_FILE}.999.tmp`), whole.slice(0, whole.length / 2));
    assert.ok(await loadMemorySnapshot(dir, 'log-1', silent, sealer));
    for (const torn of [whole.slice(0, whole.length / 2), whole.slice(0, -1), whole.replace('"s1"', '"s9"'), '']) {
      await writeFile(join(dir, SNAPSHOT_FILE), torn);
      assert.is(await loadMemorySnapshot(dir, 'log-1', silent, sealer), undefined);
    }
    // And a full replay from an empty read model is what the start then does.
    const replayed = createMemoryReadModel({ now, initial: await loadMemorySnapshot(dir, 'log-1', silent, sealer) });
    assert.is(await replayed.checkpoint(), -1n);
  }));

test('the snapshot file is written atomically, readable by its owner only, with no temp file left', () =>
  withDir(async (dir) => {
    const rm1 = createMemoryReadModel({ now });
    await rm1.applyBatch(history(10), { logId: 'log-1' });
    const snapshots = startMemorySnapshots({ readModel: rm1, dir, intervalMs: 0, now, log: silent, sealer });
    await snapshots.stop();
    assert.equal(await readdir(dir), [SNAPSHOT_FILE]);
    const { stat } = await import('node:fs/promises');
    assert.is((await stat(join(dir, SNAPSHOT_FILE))).mode & 0o777, 0o600);
  }));

test('entries read from a snapshot wake at first use: odd keys, expiries and every type come back as they were, and an untouched model snapshots to the same bytes', () =>
  withDir(async (dir) => {
    const at = { ms: t0 };
    const clock = (): number => at.ms;
    const odd = ['quote"d', 'back\\slash', 'ünï\u2028code', 'comma,]', '"'];
    const original = createMemoryReadModel({ now: clock });
    await original.applyBatch(
      [
        {
          position: 1n,
          ops: [
            ...odd.map((key, i) => ({ op: 'set' as const, key, value: `v${i}"]` })),
            { op: 'hset', key: 'h:"x"', fields: { 'f"1': 'a,b]', f2: '' } },
            { op: 'sadd', key: 'set:1', member: 'm"1' },
            { op: 'set', key: 'soon', value: 'x', expireAtMs: t0 + 1000 },
          ],
          event: { id: 'e1', streamId: 's-1', revision: 0n },
        },
      ],
      { logId: 'log-odd' },
    );
    const first = snapshotLines(memoryLiveGeneration(original)!, clock());
    await writeSnapshotFile(dir, first, sealer);
    const restarted = createMemoryReadModel({ now: clock, initial: await loadMemorySnapshot(dir, 'log-odd', silent, sealer) });
    assert.equal(snapshotLines(memoryLiveGeneration(restarted)!, clock()), first, 'untouched: the same lines');
    assert.is(await restarted.digest(), await original.digest());
    for (const [i, key] of odd.entries()) assert.is(await restarted.get(key), `v${i}"]`, key);
    assert.equal(await restarted.hgetall('h:"x"'), { 'f"1': 'a,b]', f2: '' });
    assert.equal(await restarted.smembers('set:1'), ['m"1']);
    assert.is(await restarted.get('soon'), 'x');
    at.ms = t0 + 1000;
    assert.is(await restarted.get('soon'), undefined, 'a dormant entry expires by the clock like any other');
  }));

test('a whole snapshot made without the server secret (a matching sha256, no valid seal) is not used, nor one sealed under another secret', () =>
  withDir(async (dir) => {
    const rm1 = createMemoryReadModel({ now });
    await rm1.applyBatch([{ position: 1n, ops: [{ op: 'hset', key: 'session:forged', fields: { userId: 'u-admin' } }], event: { id: 'e1', streamId: 's-1', revision: 0n } }], { logId: 'log-1' });
    const lines = snapshotLines(memoryLiveGeneration(rm1)!, now());
    const body = lines.map((line) => `${line}\n`).join('');
    const end = createHash('sha256').update(body).digest('hex');
    await writeFile(join(dir, SNAPSHOT_FILE), `${body}${JSON.stringify({ end })}\n`);
    assert.is(await loadMemorySnapshot(dir, 'log-1', silent, sealer), undefined, 'no seal');
    await writeFile(join(dir, SNAPSHOT_FILE), `${body}${JSON.stringify({ end, mac: 'A'.repeat(43) })}\n`);
    assert.is(await loadMemorySnapshot(dir, 'log-1', silent, sealer), undefined, 'a made-up seal');
    await writeSnapshotFile(dir, lines, createHasher('another-secret-0123456789-abcdefghijklmnop'));
    assert.is(await loadMemorySnapshot(dir, 'log-1', silent, sealer), undefined, 'sealed under another secret');
    await writeSnapshotFile(dir, lines, createHasher('the-previous-secret-0123456789-abcdefghijk'));
    const rotated = createHasher('the-current-secret-0123456789-abcdefghijkl', ['the-previous-secret-0123456789-abcdefghijk']);
    assert.ok(await loadMemorySnapshot(dir, 'log-1', silent, rotated), 'sealed under the previous secret of a rotation: used');
    await writeSnapshotFile(dir, lines, sealer);
    assert.ok(await loadMemorySnapshot(dir, 'log-1', silent, sealer), 'sealed by the service: used');
  }));

test.run();
