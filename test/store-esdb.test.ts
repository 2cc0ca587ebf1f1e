// The EventStoreDB adapter, proven by the shared store conformance suite against an in-process
// double of EventStoreDB's gRPC protocol (driven by the real @eventstore/db-client), against a
// real server when EVENTSTORE_URL is set, and by adapter tests for what only this adapter does:
// time out on a hung server, and resume a live subscription across a server restart.
import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { openEsdbEventStore } from '../src/store/esdb-event-store.ts';
import {
  ANY,
  NO_STREAM,
  StoreUnavailableError,
  type EventStore,
  type NewEvent,
  type RecordedEvent,
} from '../src/store/event-store.ts';
import { startEsdbDouble, type EsdbDouble, type EsdbDoubleOptions } from './support/esdb-double.ts';
import { storeConformance, type StoreUnderTest } from './support/store-conformance.ts';
import { logIdentityConformance } from './support/log-identity-conformance.ts';
import { chainConformance } from './support/chain-conformance.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.unreachable(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

function newEvent(type: string, data: unknown = {}): NewEvent {
  return { id: randomUUID(), type, data, metadata: { occurredAt: new Date().toISOString(), actor: { kind: 'system', id: 'esdb-test' } } };
}

/** A double plus a client on it; openAnother is a second client to the same double. */
function onDouble(options: EsdbDoubleOptions = {}) {
  return async (): Promise<StoreUnderTest> => {
    const double = await startEsdbDouble(options);
    const store = openEsdbEventStore(double.url);
    return {
      store,
      deletes: store,
      openAnother: async () => openEsdbEventStore(double.url),
      cleanup: async () => {
        await store.close();
        await double.stop();
      },
    };
  };
}

storeConformance('esdb (protocol double, 22.10: BatchAppend, no caught_up)', onDouble());
storeConformance('esdb (protocol double, 23.10: caught_up sent)', onDouble({ serverVersion: '23.10.0' }));

// --- log identity (issue 18) -------------------------------------------------------------------
logIdentityConformance('esdb (protocol double)', onDouble());

// --- tamper-evidence chain (issue 25) ----------------------------------------------------------
chainConformance('esdb (protocol double)', onDouble(), { densePositions: false });
// ---------------------------------------------------------------------------------------------

const realServer = process.env.EVENTSTORE_URL;
if (realServer) {
  storeConformance('esdb (real server)', async () => {
    const store = openEsdbEventStore(realServer);
    return { store, deletes: store, openAnother: async () => openEsdbEventStore(realServer), cleanup: () => store.close() };
  });
} else {
  console.log('  # EventStoreDB conformance against a real server: skipped (EVENTSTORE_URL not set)');
}

// ---------------------------------------------------------------------------------------------
const adapter = suite('esdb adapter');

adapter('without BatchAppend the client falls back to Append: conflicts and retries still map', async () => {
  const double = await startEsdbDouble({ batchAppend: false });
  const store = openEsdbEventStore(double.url);
  try {
    const stream = `plain-${randomUUID()}`;
    const first = newEvent('Plain.Created');
    const created = await store.append(stream, [first], NO_STREAM);
    assert.is(created.nextExpectedRevision, 0n);
    try {
      await store.append(stream, [newEvent('Plain.Created')], NO_STREAM);
      assert.unreachable('should conflict');
    } catch (error) {
      assert.is((error as Error).name, 'WrongExpectedVersionError');
    }
    // The same event id again is recognised by the server; the position is looked up.
    const retried = await store.append(stream, [first], NO_STREAM);
    assert.equal(retried, created);
    assert.is((await store.readStream(stream)).length, 1);
    assert.is(double.calls().BatchAppend, undefined);
    assert.is(double.calls().Append, 3);
  } finally {
    await store.close();
    await double.stop();
  }
});

adapter('a retried BatchAppend with the same event ids is recognised, not written twice', async () => {
  const double = await startEsdbDouble();
  const store = openEsdbEventStore(double.url);
  try {
    const stream = `retry-${randomUUID()}`;
    const sent = [newEvent('Retry.A'), newEvent('Retry.B')];
    const first = await store.append(stream, sent, NO_STREAM);
    const again = await store.append(stream, sent, NO_STREAM);
    assert.equal(again, first);
    assert.is((await store.readStream(stream)).length, 2);
    // The path every real server since 21.10 gets: one BatchAppend call carrying both appends.
    assert.is(double.calls().BatchAppend, 1);
    assert.is(double.calls().Append, undefined);
  } finally {
    await store.close();
    await double.stop();
  }
});

adapter('an empty append checks the expected revision only', async () => {
  const double = await startEsdbDouble();
  const store = openEsdbEventStore(double.url);
  try {
    const stream = `empty-${randomUUID()}`;
    assert.equal(await store.append(stream, [], NO_STREAM), { nextExpectedRevision: -1n, position: -1n });
    const written = await store.append(stream, [newEvent('Empty.Created')], NO_STREAM);
    assert.equal(await store.append(stream, [], 0n), written);
    try {
      await store.append(stream, [], NO_STREAM);
      assert.unreachable('should conflict');
    } catch (error) {
      assert.is((error as Error).name, 'WrongExpectedVersionError');
    }
  } finally {
    await store.close();
    await double.stop();
  }
});

adapter('system events of a fresh node are invisible: empty head, empty readAll, no delivery', async () => {
  const double = await startEsdbDouble();
  const store = openEsdbEventStore(double.url);
  try {
    assert.is(await store.headPosition(), -1n);
    const all: RecordedEvent[] = [];
    for await (const event of store.readAll()) all.push(event);
    assert.equal(all, []);
    let caughtUp = false;
    const received: RecordedEvent[] = [];
    const subscription = store.subscribeToAll({}, { onEvent: (e) => void received.push(e), onCaughtUp: () => (caughtUp = true) });
    await waitFor(() => caughtUp, 'onCaughtUp');
    await store.append(`visible-${randomUUID()}`, [newEvent('Visible.Created')], ANY);
    await waitFor(() => received.length === 1, 'the one user event');
    await subscription.close();
  } finally {
    await store.close();
    await double.stop();
  }
});

adapter('a read by type is a filtered subscription that ends at the newest match there was and is then closed, also when stopped early', async () => {
  const double = await startEsdbDouble();
  const store = openEsdbEventStore(double.url);
  try {
    const wanted: string[] = [];
    for (let i = 0; i < 300; i++) {
      const event = newEvent(i % 50 === 7 ? 'Wanted.Happened' : 'Other.Happened');
      await store.append(`s-${i % 9}`, [event], ANY);
      if (event.type === 'Wanted.Happened') wanted.push(event.id);
    }
    const read: string[] = [];
    for await (const event of store.readAll({ filter: { eventTypes: ['Wanted.'] }, byType: true })) read.push(event.id);
    assert.equal(read, wanted);
    await waitFor(() => double.openSubscriptions() === 0, 'the subscription closed when the read ended');
    for await (const event of store.readAll({ filter: { eventTypes: ['Wanted.'] }, byType: true, maxCount: 2 })) void event;
    await waitFor(() => double.openSubscriptions() === 0, 'the subscription closed after maxCount');
    const none: RecordedEvent[] = [];
    for await (const event of store.readAll({ filter: { eventTypes: ['Nothing.'] }, byType: true })) none.push(event);
    assert.equal(none, []);
  } finally {
    await store.close();
    await double.stop();
  }
});

adapter('a silent server: append and readStream fail with StoreUnavailableError within the call timeout', async () => {
  const silent = await startEsdbDouble({ silent: true });
  const store = openEsdbEventStore(silent.url, { callTimeoutMs: 500 });
  try {
    for (const [what, call] of [
      ['append', () => store.append(`silent-${randomUUID()}`, [newEvent('Silent.Tried')], NO_STREAM)],
      ['readStream', () => store.readStream(`silent-${randomUUID()}`)],
      ['headPosition', () => store.headPosition()],
    ] as const) {
      const started = Date.now();
      let failure: unknown;
      try {
        await call();
      } catch (error) {
        failure = error;
      }
      const elapsed = Date.now() - started;
      assert.instance(failure, StoreUnavailableError, `${what} should fail with StoreUnavailableError`);
      assert.ok(elapsed >= 450 && elapsed < 5000, `${what} failed after ${elapsed} ms`);
    }
  } finally {
    await store.close();
    await silent.stop();
  }
});

adapter('close() ends calls still waiting on a silent server at once, not at their timeout', async () => {
  const silent = await startEsdbDouble({ silent: true });
  const store = openEsdbEventStore(silent.url, { callTimeoutMs: 4000 });
  try {
    const pending = store.readStream(`silent-${randomUUID()}`).then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await sleep(100);
    const started = Date.now();
    await store.close();
    const outcome = await pending;
    assert.ok(Date.now() - started < 1000, `close took ${Date.now() - started} ms`);
    assert.instance(outcome, StoreUnavailableError);
    let afterClose: unknown;
    try {
      await store.headPosition();
    } catch (error) {
      afterClose = error;
    }
    assert.instance(afterClose, StoreUnavailableError, 'a closed store refuses calls');
  } finally {
    await store.close();
    await silent.stop();
  }
});

adapter('a refused port: append fails with StoreUnavailableError at once', async () => {
  const double = await startEsdbDouble();
  const url = double.url;
  await double.stop();
  const store = openEsdbEventStore(url, { callTimeoutMs: 2000 });
  try {
    const started = Date.now();
    let failure: unknown;
    try {
      await store.append(`refused-${randomUUID()}`, [newEvent('Refused.Tried')], NO_STREAM);
    } catch (error) {
      failure = error;
    }
    assert.instance(failure, StoreUnavailableError);
    assert.ok(Date.now() - started < 2000, 'a refused connection is not a timeout');
  } finally {
    await store.close();
  }
});

adapter('a silent server: a subscription keeps retrying (logged) and close() ends it promptly', async () => {
  const silent = await startEsdbDouble({ silent: true });
  const logged: string[] = [];
  const store = openEsdbEventStore(silent.url, { callTimeoutMs: 200, logger: (msg) => logged.push(msg) });
  try {
    const errors: Error[] = [];
    const subscription = store.subscribeToAll({}, { onEvent: () => {}, onError: (e) => errors.push(e) });
    await waitFor(() => logged.filter((m) => m.includes('resubscribing')).length >= 2, 'two logged retries', 3000);
    const started = Date.now();
    await subscription.close();
    assert.ok(Date.now() - started < 1000, 'close() does not wait for the server');
    assert.equal(errors, [], 'a server that does not answer is retried, not a stopped subscription');
  } finally {
    await store.close();
    await silent.stop();
  }
});

adapter('the server restarts: a live subscription resumes after its last handled event, no gap, no duplicate', async () => {
  const double: EsdbDouble = await startEsdbDouble();
  const logged: { msg: string; fields?: Record<string, unknown> }[] = [];
  const store = openEsdbEventStore(double.url, { logger: (msg, fields) => logged.push({ msg, fields }) });
  const writer = openEsdbEventStore(double.url);
  const stream = `restart-${randomUUID()}`;
  const filter = { streamPrefixes: ['restart-'] };
  const received: RecordedEvent[] = [];
  const errors: Error[] = [];
  let caughtUp = 0;
  // The handler of the 3rd event is held until the server is gone: it must count as handled,
  // while the 4th, already sent by the server, must come again from the new subscription.
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const subscription = store.subscribeToAll(
    { filter },
    {
      onEvent: async (event) => {
        received.push(event);
        if (received.length === 3) await held;
      },
      onCaughtUp: () => (caughtUp += 1),
      onError: (error) => errors.push(error),
    },
  );
  try {
    await waitFor(() => caughtUp === 1, 'onCaughtUp');
    const before = [newEvent('Restart.Before'), newEvent('Restart.Before'), newEvent('Restart.Before'), newEvent('Restart.Before')];
    await writer.append(stream, before, NO_STREAM);
    await waitFor(() => received.length === 3, 'three events before the restart');

    await double.stop();
    release();
    await waitFor(() => logged.some((l) => l.msg.includes('resubscribing')), 'a logged resubscription');
    await double.restart();

    const after = [newEvent('Restart.After'), newEvent('Restart.After')];
    await writer.append(stream, after, 3n);
    await waitFor(() => received.length >= 6, 'all six events', 10_000);
    await sleep(200); // a duplicate would arrive here
    assert.equal(
      received.map((e) => e.id),
      [...before, ...after].map((e) => e.id),
    );
    assert.equal(
      received.map((e) => e.revision),
      [0n, 1n, 2n, 3n, 4n, 5n],
    );
    assert.is(caughtUp, 1);
    assert.equal(errors, []);
    const retry = logged.find((l) => l.msg.includes('resubscribing'));
    assert.ok(retry?.fields && typeof retry.fields.retryInMs === 'number', 'the retry is logged with its delay');
    assert.ok(logged.some((l) => l.msg.includes('resumed')), 'the recovery is logged');
  } finally {
    release();
    await subscription.close();
    await writer.close();
    await store.close();
    await double.stop();
  }
});

adapter('a handler that throws stops the subscription and is reported through onError', async () => {
  const double = await startEsdbDouble();
  const store = openEsdbEventStore(double.url);
  try {
    const errors: Error[] = [];
    let calls = 0;
    const subscription = store.subscribeToAll(
      { filter: { streamPrefixes: ['boom-'] } },
      {
        onEvent: () => {
          calls += 1;
          throw new Error('projection failed');
        },
        onError: (error) => errors.push(error),
      },
    );
    await store.append(`boom-${randomUUID()}`, [newEvent('Boom.A'), newEvent('Boom.B')], NO_STREAM);
    await waitFor(() => errors.length === 1, 'onError');
    await sleep(100);
    assert.is(calls, 1);
    assert.is(errors[0]?.message, 'projection failed');
    await waitFor(() => double.openSubscriptions() === 0, 'the server-side subscription to end', 2000);
    await subscription.close();
  } finally {
    await store.close();
    await double.stop();
  }
});

adapter('readAll is lazy: breaking out early cancels the server read', async () => {
  const double = await startEsdbDouble();
  const store: EventStore = openEsdbEventStore(double.url);
  try {
    const stream = `lazy-${randomUUID()}`;
    for (let i = 0; i < 10; i++) await store.append(stream, Array.from({ length: 50 }, () => newEvent('Lazy.Item')), ANY);
    let seen = 0;
    for await (const event of store.readAll({ filter: { streamPrefixes: ['lazy-'] } })) {
      assert.is(event.revision, BigInt(seen));
      seen += 1;
      if (seen === 3) break;
    }
    assert.is(seen, 3);
    // Still usable afterwards: nothing was left hanging on the connection.
    assert.is((await store.readStream(stream)).length, 500);
  } finally {
    await store.close();
    await double.stop();
  }
});

adapter.run();
