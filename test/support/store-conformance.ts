// The behaviour every EventStore adapter must show, written against the port only, so the same
// suite runs against the embedded SQLite store and against EventStoreDB (real or a gRPC double).
// Every test works in streams and event types with a random prefix and filters `$all` by it, so
// the suite can share a server with other suites and with events that were there before.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  StreamDeletedError,
  WrongExpectedVersionError,
  matchesFilter,
  type AllFilter,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
  type Subscription,
} from '../../src/store/event-store.ts';

export interface StoreUnderTest {
  store: EventStore;
  /** A second, independent connection to the same store, if the adapter supports it (another process's view). The suite closes what it returns. */
  openAnother?: () => Promise<EventStore>;
  /** Deletes, if the adapter has them (EventStoreDB; the SQLite log is append-only). */
  deletes?: {
    deleteStream(streamId: string): Promise<void>;
    tombstoneStream(streamId: string): Promise<void>;
  };
  cleanup(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A fresh namespace: `${ns}-` prefixes this test's streams, `${ns}.` its event types. */
function namespace(): string {
  return `conf${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

function metadata(extra: Partial<EventMetadata> = {}): EventMetadata {
  return { occurredAt: new Date().toISOString(), actor: { kind: 'system', id: 'store-conformance' }, ...extra };
}

function newEvent(type: string, data: unknown = {}, meta?: Partial<EventMetadata>): NewEvent {
  return { id: randomUUID(), type, data, metadata: metadata(meta) };
}

function events(count: number, type: string): NewEvent[] {
  return Array.from({ length: count }, (_, i) => newEvent(type, { i }));
}

async function collect(iterable: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const event of iterable) out.push(event);
  return out;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.unreachable(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

async function expectWrongVersion(
  attempt: Promise<unknown>,
  want: { streamId: string; expected: ExpectedRevision; actual: bigint | typeof NO_STREAM },
): Promise<void> {
  let failure: unknown;
  try {
    await attempt;
  } catch (error) {
    failure = error;
  }
  if (failure === undefined) assert.unreachable(`append to ${want.streamId} with expected ${String(want.expected)} should conflict`);
  assert.instance(failure, WrongExpectedVersionError);
  const error = failure as WrongExpectedVersionError;
  assert.is(error.name, 'WrongExpectedVersionError');
  assert.is(error.streamId, want.streamId);
  assert.is(error.expected, want.expected);
  assert.is(error.actual, want.actual);
}

function assertStrictlyIncreasing(positions: readonly bigint[], what: string): void {
  for (let i = 1; i < positions.length; i++) {
    const previous = positions[i - 1] as bigint;
    const current = positions[i] as bigint;
    assert.ok(current > previous, `${what}: position ${current} at index ${i} does not follow ${previous}`);
  }
}

/** Where `$all` ends now, as a subscription or readAll start (omitted = from the start). */
async function fromNow(store: EventStore): Promise<bigint | undefined> {
  const head = await store.headPosition();
  return head >= 0n ? head : undefined;
}

interface Recorder {
  received: RecordedEvent[];
  caughtUp: number;
  /** How many events had been delivered when onCaughtUp was called. */
  deliveredAtCatchUp: number;
  errors: Error[];
  subscription: Subscription;
}

function record(
  store: EventStore,
  options: { fromPosition?: bigint; filter?: AllFilter },
  onEvent: (event: RecordedEvent) => Promise<void> | void = () => {},
): Recorder {
  const recorder: Omit<Recorder, 'subscription'> = { received: [], caughtUp: 0, deliveredAtCatchUp: -1, errors: [] };
  const subscription = store.subscribeToAll(options, {
    onEvent: async (event) => {
      recorder.received.push(event);
      await onEvent(event);
    },
    onCaughtUp: () => {
      recorder.caughtUp += 1;
      if (recorder.deliveredAtCatchUp < 0) recorder.deliveredAtCatchUp = recorder.received.length;
    },
    onError: (error) => recorder.errors.push(error),
  });
  return Object.assign(recorder, { subscription });
}

const ids = (list: readonly { id: string }[]): string[] => list.map((e) => e.id);

export function storeConformance(adapterName: string, open: () => Promise<StoreUnderTest>): void {
  const s = suite(`${adapterName} store conformance`);

  /** Each test gets its own connection; cleanup runs whatever the outcome. */
  const withStore = (body: (sut: StoreUnderTest) => Promise<void>) => async (): Promise<void> => {
    const sut = await open();
    try {
      await body(sut);
    } finally {
      await sut.cleanup();
    }
  };

  /** Runs `body` with a second connection, or reports that the adapter has none. */
  const withAnother = (body: (store: EventStore, other: EventStore) => Promise<void>) =>
    withStore(async (sut) => {
      if (!sut.openAnother) {
        console.log(`  # ${adapterName}: no second connection (openAnother), cross-connection test not applicable`);
        return;
      }
      const other = await sut.openAnother();
      try {
        await body(sut.store, other);
      } finally {
        await other.close();
      }
    });

  s(
    'NO_STREAM appends to a new stream and conflicts on an existing one',
    withStore(async ({ store }) => {
      const stream = `${namespace()}-a`;
      const first = await store.append(stream, [newEvent('Conformance.Created')], NO_STREAM);
      assert.is(first.nextExpectedRevision, 0n);
      await expectWrongVersion(store.append(stream, [newEvent('Conformance.Created')], NO_STREAM), {
        streamId: stream,
        expected: NO_STREAM,
        actual: 0n,
      });
      assert.is((await store.readStream(stream)).length, 1);
    }),
  );

  s(
    'STREAM_EXISTS conflicts on a missing stream and appends to an existing one',
    withStore(async ({ store }) => {
      const stream = `${namespace()}-a`;
      await expectWrongVersion(store.append(stream, [newEvent('Conformance.Changed')], STREAM_EXISTS), {
        streamId: stream,
        expected: STREAM_EXISTS,
        actual: NO_STREAM,
      });
      assert.equal(await store.readStream(stream), []);
      await store.append(stream, [newEvent('Conformance.Created')], NO_STREAM);
      const result = await store.append(stream, [newEvent('Conformance.Changed')], STREAM_EXISTS);
      assert.is(result.nextExpectedRevision, 1n);
    }),
  );

  s(
    'ANY appends whether or not the stream exists',
    withStore(async ({ store }) => {
      const stream = `${namespace()}-a`;
      assert.is((await store.append(stream, [newEvent('Conformance.Any')], ANY)).nextExpectedRevision, 0n);
      assert.is((await store.append(stream, [newEvent('Conformance.Any')], ANY)).nextExpectedRevision, 1n);
      assert.is((await store.append(stream, events(2, 'Conformance.Any'), ANY)).nextExpectedRevision, 3n);
      assert.equal(
        (await store.readStream(stream)).map((e) => e.revision),
        [0n, 1n, 2n, 3n],
      );
    }),
  );

  s(
    'an exact revision appends only at that revision; a stale one conflicts naming stream, expected and actual',
    withStore(async ({ store }) => {
      const stream = `${namespace()}-a`;
      await expectWrongVersion(store.append(stream, [newEvent('Conformance.Changed')], 0n), {
        streamId: stream,
        expected: 0n,
        actual: NO_STREAM,
      });
      await store.append(stream, [newEvent('Conformance.Created')], NO_STREAM);
      assert.is((await store.append(stream, [newEvent('Conformance.Changed')], 0n)).nextExpectedRevision, 1n);
      await expectWrongVersion(store.append(stream, [newEvent('Conformance.Changed')], 0n), {
        streamId: stream,
        expected: 0n,
        actual: 1n,
      });
      await expectWrongVersion(store.append(stream, [newEvent('Conformance.Changed')], 5n), {
        streamId: stream,
        expected: 5n,
        actual: 1n,
      });
      assert.is((await store.append(stream, [newEvent('Conformance.Changed')], 1n)).nextExpectedRevision, 2n);
    }),
  );

  s(
    'a failed append writes nothing: the stream, $all and the head are unchanged',
    withStore(async ({ store }) => {
      const ns = namespace();
      const stream = `${ns}-a`;
      const filter = { streamPrefixes: [`${ns}-`] };
      const start = await fromNow(store);
      await store.append(stream, events(2, 'Conformance.Created'), NO_STREAM);
      const before = await store.readStream(stream);
      const headBefore = await store.headPosition(filter);

      await expectWrongVersion(store.append(stream, events(3, 'Conformance.Lost'), 0n), {
        streamId: stream,
        expected: 0n,
        actual: 1n,
      });
      await expectWrongVersion(store.append(stream, events(3, 'Conformance.Lost'), NO_STREAM), {
        streamId: stream,
        expected: NO_STREAM,
        actual: 1n,
      });

      assert.equal(await store.readStream(stream), before);
      assert.is(await store.headPosition(filter), headBefore);
      assert.equal(ids(await collect(store.readAll({ fromPosition: start, filter }))), ids(before));
    }),
  );

  s(
    'of 20 concurrent appends at the same expected revision exactly one wins and 19 conflict',
    withStore(async ({ store }) => {
      const stream = `${namespace()}-a`;
      await store.append(stream, [newEvent('Conformance.Created')], NO_STREAM);
      const attempts = events(20, 'Conformance.Claimed');
      const outcomes = await Promise.allSettled(attempts.map((event) => store.append(stream, [event], 0n)));
      const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [attempts[i] as NewEvent] : []));
      const losers = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
      assert.is(winners.length, 1);
      assert.is(losers.length, 19);
      for (const loser of losers) {
        assert.instance(loser, WrongExpectedVersionError);
        assert.is((loser as WrongExpectedVersionError).actual, 1n);
      }
      const recorded = await store.readStream(stream);
      assert.is(recorded.length, 2);
      assert.is(recorded[1]?.id, winners[0]?.id);
    }),
  );

  s(
    'concurrent appends to several streams with one stale among them: only the stale one fails, each other lands with its own revision',
    withStore(async ({ store }) => {
      const ns = namespace();
      const filter = { streamPrefixes: [`${ns}-`] };
      const start = await fromNow(store);
      const shared = `${ns}-shared`;
      await store.append(shared, [newEvent('Conformance.Created')], NO_STREAM);
      // Issued in one turn: an adapter that commits them together must still check each alone.
      const plans: { stream: string; expected: ExpectedRevision; events: NewEvent[] }[] = [
        { stream: `${ns}-a`, expected: NO_STREAM, events: events(2, 'Conformance.Created') },
        { stream: shared, expected: 0n, events: [newEvent('Conformance.Changed')] },
        { stream: `${ns}-b`, expected: NO_STREAM, events: [newEvent('Conformance.Created')] },
        { stream: shared, expected: NO_STREAM, events: [newEvent('Conformance.Stale')] },
        { stream: `${ns}-c`, expected: ANY, events: events(3, 'Conformance.Created') },
      ];
      const outcomes = await Promise.allSettled(plans.map((p) => store.append(p.stream, p.events, p.expected)));
      const stale = outcomes[3];
      assert.is(stale?.status, 'rejected');
      assert.instance((stale as PromiseRejectedResult).reason, WrongExpectedVersionError);
      const results = outcomes.flatMap((o, i) => (i === 3 ? [] : [o]));
      assert.ok(
        results.every((o) => o.status === 'fulfilled'),
        `every other append succeeds: ${results.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok')).join(', ')}`,
      );
      const revisions = outcomes.map((o) => (o.status === 'fulfilled' ? o.value.nextExpectedRevision : undefined));
      assert.equal(revisions, [1n, 1n, 0n, undefined, 2n]);
      const recorded = await collect(store.readAll({ fromPosition: start, filter }));
      const sharedIds = ids(await store.readStream(shared));
      const otherIds = plans.filter((p) => p.stream !== shared).flatMap((p) => ids(p.events));
      assert.equal(new Set(ids(recorded)), new Set([...sharedIds, ...otherIds]));
      assert.not.ok(recorded.some((e) => e.type === 'Conformance.Stale'));
      assert.equal(
        (await store.readStream(shared)).map((e) => e.type),
        ['Conformance.Created', 'Conformance.Changed'],
      );
      for (const [i, o] of outcomes.entries()) {
        if (o.status !== 'fulfilled') continue;
        const last = (plans[i] as { events: NewEvent[] }).events.at(-1) as NewEvent;
        assert.is(recorded.find((e) => e.id === last.id)?.position, o.value.position, `append ${i} reports its last event's position`);
      }
    }),
  );

  s(
    'of 20 concurrent NO_STREAM appends to a new stream exactly one creates it (uniqueness reservations)',
    withStore(async ({ store }) => {
      const stream = `${namespace()}-reservation:${randomUUID()}`;
      const attempts = events(20, 'Conformance.Reserved');
      const outcomes = await Promise.allSettled(attempts.map((event) => store.append(stream, [event], NO_STREAM)));
      assert.is(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
      for (const o of outcomes) if (o.status === 'rejected') assert.instance(o.reason, WrongExpectedVersionError);
      assert.is((await store.readStream(stream)).length, 1);
    }),
  );

  s(
    'concurrent appends at the same revision through two connections: exactly one wins',
    withAnother(async (store, other) => {
      const stream = `${namespace()}-a`;
      await store.append(stream, [newEvent('Conformance.Created')], NO_STREAM);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? other : store).append(stream, [newEvent('Conformance.Claimed')], 0n)),
      );
      assert.is(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
      for (const o of outcomes) if (o.status === 'rejected') assert.instance(o.reason, WrongExpectedVersionError);
      assert.is((await other.readStream(stream)).length, 2);
    }),
  );

  s(
    'a multi-event append gets consecutive revisions and its result names the last event',
    withStore(async ({ store }) => {
      const stream = `${namespace()}-a`;
      const first = await store.append(stream, events(3, 'Conformance.Batch'), NO_STREAM);
      assert.is(first.nextExpectedRevision, 2n);
      const second = await store.append(stream, events(2, 'Conformance.Batch'), 2n);
      assert.is(second.nextExpectedRevision, 4n);
      const recorded = await store.readStream(stream);
      assert.equal(
        recorded.map((e) => e.revision),
        [0n, 1n, 2n, 3n, 4n],
      );
      assertStrictlyIncreasing(
        recorded.map((e) => e.position),
        'one stream',
      );
      assert.is(recorded[2]?.position, first.position);
      assert.is(recorded[4]?.position, second.position);
      assert.ok(recorded.every((e) => e.streamId === stream));
    }),
  );

  s(
    'readStream of a missing stream is an empty array',
    withStore(async ({ store }) => {
      assert.equal(await store.readStream(`${namespace()}-missing`), []);
    }),
  );

  s(
    'readStream round-trips id, type, data and metadata, including unicode and nested JSON',
    withStore(async ({ store }) => {
      const stream = `${namespace()}-userEmail:prj_1:9f86d081884c7d65`;
      const data = {
        name: 'Zoë Ångström 🦄 東京 עברית',
        text: 'line\nbreak\ttab "quote" back\\slash \u2028 \u0000 end',
        numbers: [0, -1, 2.5, 1e21, Number.MAX_SAFE_INTEGER],
        flags: [true, false, null],
        nested: { empty: {}, list: [], deep: { deeper: { deepest: ['∑', { k: 'v' }] } } },
      };
      const meta: EventMetadata = {
        projectId: 'prj_1',
        actor: { kind: 'user', id: 'usr_ü', sessionId: 'ses_1' },
        requestId: 'req_1',
        ip: '::1',
        userAgent: 'Mözilla/5.0 (✓)',
        occurredAt: '2024-02-29T23:59:59.999Z',
        causationId: randomUUID(),
        correlationId: randomUUID(),
      };
      const sent: NewEvent = { id: randomUUID(), type: 'Conformance.RoundTripped', data, metadata: meta };
      const second = newEvent('Conformance.Plain', 'just a string');
      const result = await store.append(stream, [sent, second], NO_STREAM);
      const [got, gotSecond] = await store.readStream(stream);
      assert.ok(got && gotSecond);
      const pick = (e: RecordedEvent) => ({
        id: e.id,
        type: e.type,
        data: e.data,
        metadata: e.metadata,
        streamId: e.streamId,
        revision: e.revision,
      });
      assert.equal(pick(got), { ...sent, streamId: stream, revision: 0n });
      assert.equal(pick(gotSecond), { ...second, streamId: stream, revision: 1n });
      assert.is(gotSecond.position, result.position);
      assert.is(typeof got.position, 'bigint');
      assert.is(typeof got.revision, 'bigint');
    }),
  );

  s(
    'positions strictly increase in append order across streams',
    withStore(async ({ store }) => {
      const ns = namespace();
      const start = await fromNow(store);
      const order = ['a', 'b', 'a', 'c', 'b', 'a'];
      const appended: { stream: string; id: string; position: bigint }[] = [];
      for (const name of order) {
        const event = newEvent('Conformance.Ordered');
        const result = await store.append(`${ns}-${name}`, [event], ANY);
        appended.push({ stream: `${ns}-${name}`, id: event.id, position: result.position });
      }
      assertStrictlyIncreasing(
        appended.map((a) => a.position),
        'append results',
      );
      const all = await collect(store.readAll({ fromPosition: start, filter: { streamPrefixes: [`${ns}-`] } }));
      assert.equal(ids(all), ids(appended));
      assert.equal(
        all.map((e) => e.position),
        appended.map((a) => a.position),
      );
      assert.equal(
        all.map((e) => e.streamId),
        appended.map((a) => a.stream),
      );
    }),
  );

  s(
    'readAll from a position is exclusive and honours maxCount',
    withStore(async ({ store }) => {
      const ns = namespace();
      const filter = { streamPrefixes: [`${ns}-`] };
      const start = await fromNow(store);
      const sent = events(4, 'Conformance.Paged');
      await store.append(`${ns}-a`, sent, NO_STREAM);
      const all = await collect(store.readAll({ fromPosition: start, filter }));
      assert.equal(ids(all), ids(sent));
      const first = all[0] as RecordedEvent;
      const afterFirst = await collect(store.readAll({ fromPosition: first.position, filter }));
      assert.equal(ids(afterFirst), ids(sent.slice(1)));
      const two = await collect(store.readAll({ fromPosition: first.position, filter, maxCount: 2 }));
      assert.equal(ids(two), ids(sent.slice(1, 3)));
      const last = all[3] as RecordedEvent;
      assert.equal(await collect(store.readAll({ fromPosition: last.position, filter })), []);
    }),
  );

  s(
    'readAll filters by stream prefix and by event-type prefix, ANDed; several prefixes are ORed',
    withStore(async ({ store }) => {
      const ns = namespace();
      const start = await fromNow(store);
      const plan: [stream: string, type: string][] = [
        ['user-1', 'User.Created'],
        ['session-1', 'Session.Started'],
        ['user-2', 'User.Created'],
        ['user-1', 'User.Renamed'],
        ['users-1', 'User.Created'],
        ['session-1', 'Session.Ended'],
      ];
      const sent: RecordedEvent[] = [];
      for (const [stream, type] of plan) {
        const event = newEvent(`${ns}.${type}`);
        const result = await store.append(`${ns}-${stream}`, [event], ANY);
        sent.push({ ...event, streamId: `${ns}-${stream}`, revision: result.nextExpectedRevision, position: result.position });
      }
      const read = async (filter: AllFilter) => ids(await collect(store.readAll({ fromPosition: start, filter })));
      const expect = (keep: (e: RecordedEvent) => boolean) => ids(sent.filter(keep));

      assert.equal(
        await read({ streamPrefixes: [`${ns}-user-`] }),
        expect((e) => e.streamId.startsWith(`${ns}-user-`)),
      );
      assert.equal(
        await read({ eventTypes: [`${ns}.User.Created`] }),
        expect((e) => e.type === `${ns}.User.Created`),
      );
      assert.equal(
        await read({ eventTypes: [`${ns}.Session.`] }),
        expect((e) => e.type.startsWith(`${ns}.Session.`)),
      );
      assert.equal(
        await read({ streamPrefixes: [`${ns}-user-`], eventTypes: [`${ns}.User.Created`] }),
        expect((e) => e.streamId.startsWith(`${ns}-user-`) && e.type === `${ns}.User.Created`),
      );
      assert.equal(
        await read({ streamPrefixes: [`${ns}-user-`, `${ns}-session-`] }),
        expect((e) => !e.streamId.startsWith(`${ns}-users-`)),
      );
      assert.equal(await read({ streamPrefixes: [`${ns}-nothing-`] }), []);
    }),
  );

  s(
    'readAll by type (the narrow read) gives the events a full scan filtered in memory gives, in position order, from a position and up to maxCount',
    withStore(async ({ store }) => {
      const ns = namespace();
      const start = await fromNow(store);
      // Types that share prefixes, interleaved across streams, with other types between them.
      const plan: [stream: string, type: string][] = [];
      const kinds = ['Session.Created', 'Session.CreatedLater', 'Session.Revoked', 'Session.Activity', 'User.Created', 'Other.Thing', 'Sessionless'];
      for (let i = 0; i < 60; i++) plan.push([i % 3 === 0 ? `user-${i % 5}` : `session-${i % 7}`, kinds[(i * 5) % kinds.length] as string]);
      const sent: RecordedEvent[] = [];
      for (const [stream, type] of plan) {
        const event = newEvent(`${ns}.${type}`);
        const result = await store.append(`${ns}-${stream}`, [event], ANY);
        sent.push({ ...event, streamId: `${ns}-${stream}`, revision: result.nextExpectedRevision, position: result.position });
      }
      const filters: AllFilter[] = [
        { eventTypes: [`${ns}.Session.Created`, `${ns}.Session.Revoked`] },
        { streamPrefixes: [`${ns}-session-`], eventTypes: [`${ns}.Session.Created`, `${ns}.Session.Activity`, `${ns}.Session.Revoked`] },
        { eventTypes: [`${ns}.Session`, `${ns}.Session.Created`] },
        { streamPrefixes: [`${ns}-user-`], eventTypes: [`${ns}.Session.`] },
        { eventTypes: [`${ns}.Nothing.`] },
      ];
      for (const filter of filters) {
        const inMemory = sent.filter((e) => matchesFilter(e.streamId, e.type, filter));
        const full = await collect(store.readAll({ fromPosition: start, filter }));
        const narrow = await collect(store.readAll({ fromPosition: start, filter, byType: true }));
        assert.equal(ids(full), ids(inMemory), `full scan, ${JSON.stringify(filter)}`);
        assert.equal(narrow.map((e) => [e.id, e.streamId, e.type, String(e.position)]), full.map((e) => [e.id, e.streamId, e.type, String(e.position)]), `by type, ${JSON.stringify(filter)}`);
        const from = inMemory[3]?.position ?? start ?? -1n;
        assert.equal(
          ids(await collect(store.readAll({ fromPosition: from, filter, byType: true, maxCount: 5 }))),
          ids(inMemory.filter((e) => e.position > from).slice(0, 5)),
          `by type from a position with maxCount, ${JSON.stringify(filter)}`,
        );
      }
    }),
  );

  s(
    'headPosition is -1 for a filter matching nothing, else the position of the newest match',
    withStore(async ({ store }) => {
      const ns = namespace();
      assert.is(await store.headPosition({ streamPrefixes: [`${ns}-`] }), -1n);
      const a = await store.append(`${ns}-a`, [newEvent(`${ns}.First`)], NO_STREAM);
      const b = await store.append(`${ns}-b`, events(2, `${ns}.Second`), NO_STREAM);
      assert.is(await store.headPosition({ streamPrefixes: [`${ns}-`] }), b.position);
      assert.is(await store.headPosition({ streamPrefixes: [`${ns}-a`] }), a.position);
      assert.is(await store.headPosition({ eventTypes: [`${ns}.First`] }), a.position);
      assert.is(await store.headPosition({ streamPrefixes: [`${ns}-b`], eventTypes: [`${ns}.First`] }), -1n);
      assert.ok((await store.headPosition()) >= b.position, 'the unfiltered head is at or after our last append');
    }),
  );

  s(
    'subscribeToAll catches up then goes live with no gap and no duplicate while appends continue',
    withStore(async ({ store }) => {
      const ns = namespace();
      const start = await fromNow(store);
      const expected: string[] = [];
      for (let batch = 0; batch < 20; batch++) {
        const sent = events(10, 'Conformance.Before');
        await store.append(`${ns}-s${batch % 4}`, sent, ANY);
        expected.push(...ids(sent));
      }
      // A handler that yields now and then, so catch-up is still running while appends go on.
      const rec = record(store, { fromPosition: start, filter: { streamPrefixes: [`${ns}-`] } }, async () => {
        if (Math.random() < 0.2) await nextTurn();
      });
      try {
        for (let i = 0; i < 200; i++) {
          const event = newEvent('Conformance.During');
          await store.append(`${ns}-s${i % 3}`, [event], ANY);
          expected.push(event.id);
          if (i % 5 === 0) await nextTurn();
        }
        await waitFor(() => rec.received.length >= expected.length, `${expected.length} events`, 10_000);
        await sleep(250); // anything extra (a duplicate) would show up here
        assert.equal(rec.errors, []);
        assert.is(rec.received.length, expected.length);
        assert.equal(ids(rec.received), expected);
        assertStrictlyIncreasing(
          rec.received.map((e) => e.position),
          'subscription',
        );
        assert.is(rec.caughtUp, 1);
        assert.ok(rec.deliveredAtCatchUp >= 200, `onCaughtUp came after ${rec.deliveredAtCatchUp} of the 200 events that existed`);
      } finally {
        await rec.subscription.close();
      }
    }),
  );

  s(
    'subscribeToAll calls onCaughtUp once, after what existed, and then stays live',
    withStore(async ({ store }) => {
      const ns = namespace();
      const filter = { streamPrefixes: [`${ns}-`] };
      const start = await fromNow(store);
      await store.append(`${ns}-a`, events(5, 'Conformance.Existing'), NO_STREAM);
      const rec = record(store, { fromPosition: start, filter });
      try {
        await waitFor(() => rec.caughtUp > 0, 'onCaughtUp');
        assert.is(rec.deliveredAtCatchUp, 5);
        await store.append(`${ns}-a`, events(3, 'Conformance.Live'), 4n);
        await waitFor(() => rec.received.length >= 8, '3 live events');
        await sleep(100);
        assert.is(rec.caughtUp, 1);
        assert.is(rec.received.length, 8);
      } finally {
        await rec.subscription.close();
      }
    }),
  );

  s(
    'subscribeToAll on nothing yet is caught up at once and delivers what comes later',
    withStore(async ({ store }) => {
      const ns = namespace();
      const rec = record(store, { fromPosition: await fromNow(store), filter: { streamPrefixes: [`${ns}-`] } });
      try {
        await waitFor(() => rec.caughtUp > 0, 'onCaughtUp');
        assert.is(rec.received.length, 0);
        const sent = newEvent('Conformance.Live');
        await store.append(`${ns}-a`, [sent], NO_STREAM);
        await waitFor(() => rec.received.length > 0, 'the live event');
        assert.is(rec.received[0]?.id, sent.id);
      } finally {
        await rec.subscription.close();
      }
    }),
  );

  s(
    'subscribeToAll resumed from a position starts after it (exclusive)',
    withStore(async ({ store }) => {
      const ns = namespace();
      const sent = events(5, 'Conformance.Resumed');
      await store.append(`${ns}-a`, sent, NO_STREAM);
      const recorded = await store.readStream(`${ns}-a`);
      const handled = recorded[1] as RecordedEvent;
      const rec = record(store, { fromPosition: handled.position, filter: { streamPrefixes: [`${ns}-`] } });
      try {
        await waitFor(() => rec.caughtUp > 0, 'onCaughtUp');
        assert.equal(ids(rec.received), ids(sent.slice(2)));
      } finally {
        await rec.subscription.close();
      }
    }),
  );

  s(
    'subscribeToAll delivers only events matching its filter, in catch-up and live',
    withStore(async ({ store }) => {
      const ns = namespace();
      const start = await fromNow(store);
      const filter = { streamPrefixes: [`${ns}-user-`], eventTypes: [`${ns}.Kept`] };
      const kept: string[] = [];
      const appendMixed = async (round: number) => {
        const keep = newEvent(`${ns}.Kept`);
        kept.push(keep.id);
        await store.append(`${ns}-user-${round}`, [newEvent(`${ns}.Dropped`), keep], ANY);
        await store.append(`${ns}-session-${round}`, [newEvent(`${ns}.Kept`)], ANY);
      };
      await appendMixed(1);
      await appendMixed(2);
      const rec = record(store, { fromPosition: start, filter });
      try {
        await waitFor(() => rec.caughtUp > 0, 'onCaughtUp');
        await appendMixed(3);
        await appendMixed(4);
        await waitFor(() => rec.received.length >= 4, '4 kept events');
        await sleep(250);
        assert.equal(ids(rec.received), kept);
      } finally {
        await rec.subscription.close();
      }
    }),
  );

  s(
    'subscribeToAll awaits onEvent before delivering the next event',
    withStore(async ({ store }) => {
      const ns = namespace();
      const start = await fromNow(store);
      let running = 0;
      let mostAtOnce = 0;
      const rec = record(store, { fromPosition: start, filter: { streamPrefixes: [`${ns}-`] } }, async () => {
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        await sleep(2);
        running -= 1;
      });
      try {
        await store.append(`${ns}-a`, events(10, 'Conformance.Slow'), NO_STREAM);
        await store.append(`${ns}-a`, events(10, 'Conformance.Slow'), 9n);
        await waitFor(() => rec.received.length >= 20 && running === 0, '20 handled events');
        assert.is(mostAtOnce, 1);
        assertStrictlyIncreasing(
          rec.received.map((e) => e.position),
          'subscription',
        );
      } finally {
        await rec.subscription.close();
      }
    }),
  );

  s(
    'closing a subscription stops delivery',
    withStore(async ({ store }) => {
      const ns = namespace();
      const rec = record(store, { fromPosition: await fromNow(store), filter: { streamPrefixes: [`${ns}-`] } });
      await waitFor(() => rec.caughtUp > 0, 'onCaughtUp');
      await store.append(`${ns}-a`, [newEvent('Conformance.Seen')], NO_STREAM);
      await waitFor(() => rec.received.length === 1, 'the first event');
      await rec.subscription.close();
      await store.append(`${ns}-a`, events(3, 'Conformance.Unseen'), 0n);
      await sleep(500);
      assert.is(rec.received.length, 1);
      assert.equal(rec.errors, [], 'close() is not an error');
    }),
  );

  s(
    'events appended through another connection reach a live subscription within 1 s',
    withAnother(async (store, other) => {
      const ns = namespace();
      const rec = record(store, { fromPosition: await fromNow(store), filter: { streamPrefixes: [`${ns}-`] } });
      try {
        await waitFor(() => rec.caughtUp > 0, 'onCaughtUp');
        const latencies: number[] = [];
        for (let i = 0; i < 5; i++) {
          const event = newEvent('Conformance.FromElsewhere');
          const started = performance.now();
          await other.append(`${ns}-a`, [event], i === 0 ? NO_STREAM : BigInt(i - 1));
          await waitFor(() => rec.received.some((e) => e.id === event.id), `event ${i} from the other connection`, 3000);
          latencies.push(performance.now() - started);
          await sleep(Math.random() * 100);
        }
        console.log(`  # ${adapterName}: other connection -> live subscription: ${latencies.map((l) => l.toFixed(0)).join(', ')} ms`);
        assert.ok(Math.max(...latencies) < 1000, `slowest delivery ${Math.max(...latencies).toFixed(0)} ms`);
        assert.is(rec.received.length, 5);
        assertStrictlyIncreasing(
          rec.received.map((e) => e.position),
          'subscription',
        );
      } finally {
        await rec.subscription.close();
      }
    }),
  );

  s(
    'a filtered subscription moves its checkpoint past a long stretch of other categories, and resuming from it skips nothing',
    withStore(async ({ store }) => {
      const ns = namespace();
      const filter = { streamPrefixes: [`${ns}-mine-`] };
      const start = await fromNow(store);
      const mine = await store.append(`${ns}-mine-1`, [newEvent('Conformance.Mine')], NO_STREAM);
      for (let i = 0; i < 6; i++) await store.append(`${ns}-other-${i}`, events(100, 'Conformance.Other'), NO_STREAM);
      const head = await store.headPosition({ streamPrefixes: [`${ns}-`] });
      const checkpoints: bigint[] = [];
      const received: RecordedEvent[] = [];
      const subscription = store.subscribeToAll(
        { fromPosition: start, filter },
        { onEvent: (event) => void received.push(event), onCheckpoint: (position) => void checkpoints.push(position) },
      );
      try {
        await waitFor(() => checkpoints.some((c) => c > mine.position), 'a checkpoint past the last matching event');
        assert.equal(ids(received).length, 1);
        assertStrictlyIncreasing(checkpoints, 'checkpoints');
        assert.ok(checkpoints.every((c) => c <= head), 'no checkpoint beyond what was looked at');
      } finally {
        await subscription.close();
      }
      const next = newEvent('Conformance.Mine');
      await store.append(`${ns}-mine-1`, [next], 0n);
      const resumed = record(store, { fromPosition: checkpoints.at(-1), filter });
      try {
        await waitFor(() => resumed.received.length >= 1 && resumed.caughtUp > 0, 'the event after the checkpoint');
        await sleep(100);
        assert.equal(ids(resumed.received), [next.id]);
      } finally {
        await resumed.subscription.close();
      }
    }),
  );

  s(
    'a tombstoned stream reads as empty and refuses appends with StreamDeletedError; a soft-deleted one reads as empty and comes back with its revisions going on',
    withStore(async ({ store, deletes }) => {
      if (!deletes) {
        console.log(`  # ${adapterName}: no deletes (append-only log), deleted-stream test not applicable`);
        return;
      }
      const ns = namespace();
      const tombstoned = `${ns}-gone`;
      await store.append(tombstoned, events(2, 'Conformance.Created'), NO_STREAM);
      await deletes.tombstoneStream(tombstoned);
      assert.equal(await store.readStream(tombstoned), []);
      for (const expected of [ANY, NO_STREAM, 1n] as const) {
        let failure: unknown;
        try {
          await store.append(tombstoned, [newEvent('Conformance.Late')], expected);
        } catch (error) {
          failure = error;
        }
        assert.instance(failure, StreamDeletedError);
        assert.is((failure as StreamDeletedError).streamId, tombstoned);
      }
      const soft = `${ns}-soft`;
      await store.append(soft, events(3, 'Conformance.Created'), NO_STREAM);
      await deletes.deleteStream(soft);
      assert.equal(await store.readStream(soft), []);
      const back = newEvent('Conformance.Back');
      assert.is((await store.append(soft, [back], NO_STREAM)).nextExpectedRevision, 3n);
      assert.equal(
        (await store.readStream(soft)).map((e) => [e.id, e.revision]),
        [[back.id, 3n]],
      );
    }),
  );

  s.run();
}
