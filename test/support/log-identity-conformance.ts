// The log identity every EventStore adapter must keep (src/store/log-identity.ts), run against
// each adapter next to the store conformance suite. Kept apart from that suite on purpose: the
// identity is one concept, and its cases read best together.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { projectionFilter } from '../../src/projections/all-projections.ts';
import { LOG_IDENTITY_STREAM } from '../../src/store/log-identity.ts';
import type { EventStore } from '../../src/store/event-store.ts';
import type { StoreUnderTest } from './store-conformance.ts';

export function logIdentityConformance(adapterName: string, open: () => Promise<StoreUnderTest>): void {
  const s = suite(`${adapterName} log identity`);

  const withStores = (count: number, body: (suts: StoreUnderTest[]) => Promise<void>) => async (): Promise<void> => {
    const suts: StoreUnderTest[] = [];
    try {
      for (let i = 0; i < count; i++) suts.push(await open());
      await body(suts);
    } finally {
      for (const sut of suts) await sut.cleanup();
    }
  };

  s(
    'a log has one identity: the same on every call and through another connection',
    withStores(1, async ([sut]) => {
      const { store, openAnother } = sut!;
      const first = await store.logIdentity();
      assert.match(first, /^\S{8,}$/);
      assert.is(await store.logIdentity(), first);
      if (openAnother) {
        const other = await openAnother();
        try {
          assert.is(await other.logIdentity(), first, 'another connection reads the same identity');
        } finally {
          await other.close();
        }
      }
    }),
  );

  s(
    'concurrent first calls on a new log, from two connections, agree on one identity',
    withStores(1, async ([sut]) => {
      const stores: EventStore[] = [sut!.store];
      if (sut!.openAnother) stores.push(await sut!.openAnother());
      try {
        const all = await Promise.all(stores.flatMap((store) => [store.logIdentity(), store.logIdentity(), store.logIdentity()]));
        assert.is(new Set(all).size, 1, `one identity, got ${[...new Set(all)].join(', ')}`);
      } finally {
        for (const other of stores.slice(1)) await other.close();
      }
    }),
  );

  s(
    'two logs have different identities',
    withStores(2, async ([a, b]) => {
      assert.is.not(await a!.store.logIdentity(), await b!.store.logIdentity());
    }),
  );

  s(
    'the identity is never seen by projections: outside their filter, and no domain event',
    withStores(1, async ([sut]) => {
      const { store } = sut!;
      const headBefore = await store.headPosition(projectionFilter);
      await store.logIdentity();
      assert.is(await store.headPosition(projectionFilter), headBefore, 'the projections head does not move');
      for await (const e of store.readAll({ filter: projectionFilter })) assert.is.not(e.streamId, LOG_IDENTITY_STREAM);
    }),
  );

  s.run();
}
