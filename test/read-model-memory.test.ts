import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMemoryReadModel } from '../src/readmodel/memory-read-model.ts';
import { readModelConformance, ev } from './support/read-model-conformance.ts';

readModelConformance('memory', async (now) => ({
  readModel: createMemoryReadModel({ now }),
  cleanup: async () => {},
}));

// sha256 of nothing: the digest of an empty read model.
const EMPTY_DIGEST = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

test('memory: expired entries vanish by the injected clock alone, across a sweep', async () => {
  // No timer is involved (this process exits right after the run); the clock decides.
  let t = 1_000_000;
  const rm = createMemoryReadModel({ now: () => t });
  await rm.applyBatch([ev(1, { op: 'set', key: 'a', value: 'v', expireAtMs: t + 10 }, { op: 'hset', key: 'h', fields: { f: '1' }, expireAtMs: t + 20 })]);
  t += 10;
  assert.is(await rm.get('a'), undefined);
  assert.equal(await rm.hgetall('h'), { f: '1' });
  t += 61_000; // past the sweep interval: the next write sweeps
  assert.is(await rm.applyBatch([ev(2)]), 2n);
  assert.is(await rm.hgetall('h'), undefined);
  assert.is(await rm.digest(), EMPTY_DIGEST);
  await rm.close();
});

test('memory: a closed read model refuses work', async () => {
  const rm = createMemoryReadModel({ now: () => 0 });
  await rm.close();
  let threw = false;
  try {
    await rm.get('a');
  } catch {
    threw = true;
  }
  assert.ok(threw);
});

test.run();
