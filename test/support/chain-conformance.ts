// The tamper-evidence chain every EventStore adapter must carry (src/integrity/): run against each
// adapter next to the store conformance suite. Hashes are computed over what the adapter hands
// back (SQLite parses its JSON text, EventStoreDB its JSON bytes, in whatever key order), so these
// cases prove that the canonical form survives each adapter's round trip.
import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ANY, NO_STREAM, STREAM_EXISTS, WrongExpectedVersionError, type EventStore, type NewEvent } from '../../src/store/event-store.ts';
import { chainingAppends } from '../../src/integrity/chaining-store.ts';
import { chainLinkOf, eventHash } from '../../src/integrity/event-hash.ts';
import { checkpointKeyring } from '../../src/integrity/checkpoint-keys.ts';
import { writeCheckpoint } from '../../src/integrity/checkpointer.ts';
import { verifyLog } from '../../src/integrity/verify-log.ts';
import { INTEGRITY_STREAM } from '../../src/integrity/integrity-records.ts';
import type { StoreUnderTest } from './store-conformance.ts';

const keyring = checkpointKeyring({ value: 'chain-conformance-secret-0123456789abcdefgh', previous: [] });

/** Data with what a round trip could change: key order, unicode, small and large numbers, nulls, nesting. */
const awkward = (i: number): NewEvent => ({
  id: randomUUID(),
  type: 'Conformance.Chained',
  data: { z: i, a: { y: [1.5e-7, -0, 12345678901234, null, 'é😀\u2028'], b: { d: true, c: 'x' } }, m: '"quoted" \\ back' },
  metadata: { occurredAt: new Date().toISOString(), actor: { kind: 'system', id: 'chain-conformance' }, requestId: undefined, correlationId: `c${i}` },
});

export function chainConformance(adapterName: string, open: () => Promise<StoreUnderTest>, options: { densePositions: boolean }): void {
  const s = suite(`${adapterName} chain`);
  const withStore = (body: (store: EventStore, raw: EventStore) => Promise<void>) => async (): Promise<void> => {
    const sut = await open();
    try {
      await body(chainingAppends(sut.store), sut.store);
    } finally {
      await sut.cleanup();
    }
  };
  const verify = (store: EventStore) => verifyLog(store, { keyring, densePositions: options.densePositions, ephemeralMayAgeOut: false });

  s(
    'every append (NO_STREAM, a revision with and without a hint, ANY, STREAM_EXISTS, batches) links each event to the one before it as read back',
    withStore(async (store) => {
      const stream = `chain${randomUUID().replace(/-/g, '').slice(0, 12)}-a`;
      await store.append(stream, [awkward(0)], NO_STREAM);
      const [first] = await store.readStream(stream);
      await store.append(stream, [awkward(1), awkward(2)], 0n, { lastEvent: first! });
      await store.append(stream, [awkward(3)], 2n);
      await store.append(stream, [awkward(4)], ANY);
      await store.append(stream, [awkward(5)], STREAM_EXISTS);
      await store.append(`${stream}x`, [awkward(6)], ANY);
      const events = await store.readStream(stream);
      assert.is(events.length, 6);
      events.forEach((event, i) => {
        const link = chainLinkOf(event.metadata);
        assert.ok(link && link !== 'invalid', `event ${i} carries a link`);
        assert.is(link.prev, i === 0 ? null : eventHash(events[i - 1]!), `event ${i} is linked to event ${i - 1}`);
      });
      const report = await verify(store);
      assert.equal(report.breaks, []);
    }),
  );

  s(
    'a hint that is not the last event is never linked to: another stream\'s is ignored, an outdated one makes the append conflict',
    withStore(async (store) => {
      const stream = `chain${randomUUID().replace(/-/g, '').slice(0, 12)}-a`;
      await store.append(stream, [awkward(0)], NO_STREAM);
      await store.append(`${stream}other`, [awkward(1)], NO_STREAM);
      const [own] = await store.readStream(stream);
      const [foreign] = await store.readStream(`${stream}other`);
      await store.append(stream, [awkward(2)], 0n, { lastEvent: { ...foreign!, revision: 0n } });
      const events = await store.readStream(stream);
      assert.is((chainLinkOf(events[1]!.metadata) as { prev: string }).prev, eventHash(own!));
      try {
        await store.append(stream, [awkward(3)], 0n, { lastEvent: own! });
        assert.unreachable('an append on an outdated reading must conflict');
      } catch (error) {
        assert.instance(error, WrongExpectedVersionError);
      }
      assert.equal((await verify(store)).breaks, []);
    }),
  );

  s(
    'checkpoints verify on this adapter, and two writers on one reading write one checkpoint',
    withStore(async (store) => {
      const stream = `chain${randomUUID().replace(/-/g, '').slice(0, 12)}-a`;
      for (let i = 0; i < 5; i++) await store.append(stream, [awkward(i)], i === 0 ? NO_STREAM : BigInt(i - 1));
      const written = await Promise.all([writeCheckpoint(store, keyring, Date.now()), writeCheckpoint(store, keyring, Date.now())]);
      assert.is(written.filter(Boolean).length, 1, 'one checkpoint for the same events');
      await store.append(stream, [awkward(9)], 4n);
      assert.ok(await writeCheckpoint(store, keyring, Date.now()), 'new events: a new checkpoint');
      assert.is(await writeCheckpoint(store, keyring, Date.now()), undefined, 'nothing new but checkpoints: none');
      assert.is((await store.readStream(INTEGRITY_STREAM)).length, 2);
      const report = await verify(store);
      assert.equal(report.breaks, []);
      assert.is(report.checkpoints, 2);
      assert.ok(report.provenUpTo !== null);
    }),
  );

  s.run();
}
