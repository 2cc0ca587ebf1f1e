import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMemoryReadModel } from './memory-read-model.ts';
import { withReadThroughCache } from './cached-read-model.ts';
import type { ReadModel } from './read-model.ts';

/** A memory read model that counts hgetall reads and can hold one read until released. */
function countingModel() {
  const inner = createMemoryReadModel({ now: () => Date.now() });
  const counts = { hgetall: 0 };
  let hold: Promise<void> | undefined;
  const model: ReadModel = Object.create(inner) as ReadModel;
  model.hgetall = async (key) => {
    counts.hgetall++;
    const value = await inner.hgetall(key);
    if (hold) await hold;
    return value;
  };
  return {
    model,
    counts,
    holdReads() {
      let release!: () => void;
      hold = new Promise<void>((r) => (release = r));
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

const cacheable = (key: string) => key.startsWith('project:');
let position = 0n;
const write = (rm: ReadModel, key: string, name: string) => rm.applyBatch([{ position: ++position, ops: [{ op: 'hset', key, fields: { name } }] }]);

test('a found cacheable key is read once, then served from memory', async () => {
  const { model, counts } = countingModel();
  const rm = withReadThroughCache(model, { cacheable });
  await write(rm, 'project:a', 'Acme');
  assert.equal(await rm.hgetall('project:a'), { name: 'Acme' });
  assert.equal(await rm.hgetall('project:a'), { name: 'Acme' });
  assert.is(counts.hgetall, 1);
});

test('the projection writing a cached key drops it: the next read sees the new value', async () => {
  const { model } = countingModel();
  const rm = withReadThroughCache(model, { cacheable });
  await write(rm, 'project:b', 'Old');
  assert.equal(await rm.hgetall('project:b'), { name: 'Old' });
  await write(rm, 'project:b', 'New');
  assert.equal(await rm.hgetall('project:b'), { name: 'New' });
});

test('a read that overlapped a write is not cached (it may have read the old value)', async () => {
  const { model, counts, holdReads } = countingModel();
  const rm = withReadThroughCache(model, { cacheable });
  await write(rm, 'project:c', 'Old');
  const release = holdReads();
  const reading = rm.hgetall('project:c'); // reads "Old", then waits
  await new Promise((r) => setImmediate(r));
  await write(rm, 'project:c', 'New');
  release();
  assert.equal(await reading, { name: 'Old' });
  assert.equal(await rm.hgetall('project:c'), { name: 'New' }, 'the stale read was not kept');
  assert.is(counts.hgetall, 2);
});

test('absent keys and keys not marked cacheable are read every time', async () => {
  const { model, counts } = countingModel();
  const rm = withReadThroughCache(model, { cacheable });
  await rm.hgetall('project:nobody');
  await rm.hgetall('project:nobody');
  await write(rm, 'cliauth:x', 'X');
  await rm.hgetall('cliauth:x');
  await rm.hgetall('cliauth:x');
  assert.is(counts.hgetall, 4);
});

test('a returned value changed by its caller does not change the cache', async () => {
  const { model } = countingModel();
  const rm = withReadThroughCache(model, { cacheable });
  await write(rm, 'project:d', 'Acme');
  const first = await rm.hgetall('project:d');
  if (first) first.name = 'Mallory';
  assert.equal(await rm.hgetall('project:d'), { name: 'Acme' });
});

test('activating a rebuilt generation drops everything cached from the old one', async () => {
  const { model } = countingModel();
  const rm = withReadThroughCache(model, { cacheable });
  await write(rm, 'project:e', 'Old');
  assert.equal(await rm.hgetall('project:e'), { name: 'Old' });
  const next = await rm.openNextGeneration();
  await next.applyBatch([{ position: ++position, ops: [{ op: 'hset', key: 'project:e', fields: { name: 'Rebuilt' } }] }]);
  assert.equal(await rm.hgetall('project:e'), { name: 'Old' }, 'the live generation until activate');
  await next.activate();
  assert.equal(await rm.hgetall('project:e'), { name: 'Rebuilt' });
});

test.run();
