// Retention on EventStoreDB (#21), against the gRPC double (which applies `$maxAge` on read):
// an ephemeral stream gets `$maxAge` at creation and reads as gone once expired; a reservation
// stream that aged out can be taken again; a session stream never gets metadata.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startEsdbDouble, type EsdbDouble } from './support/esdb-double.ts';
import { openEsdbEventStore } from '../src/store/esdb-event-store.ts';
import { retainingEphemeralStreams } from '../src/store/esdb-retention.ts';
import { NO_STREAM, type EventStore, type NewEvent } from '../src/store/event-store.ts';

let double: EsdbDouble;
let raw: ReturnType<typeof openEsdbEventStore>;
let store: EventStore;

test.before(async () => {
  double = await startEsdbDouble();
  raw = openEsdbEventStore(double.url);
  // No grace: the stream goes at its expiry, so that the test waits a second, not two days.
  store = retainingEphemeralStreams(raw, { graceMs: 0 });
});
test.after(async () => {
  await raw.close();
  await double.stop();
});

const reservation = (expiresAtMillis: number): NewEvent => ({
  id: randomUUID(),
  type: 'CliLoginCodeReserved',
  data: { projectId: randomUUID(), cliAuthId: randomUUID(), expiresAtMillis },
  metadata: { occurredAt: new Date().toISOString() },
});

test('an ephemeral stream reads as gone once past its expiry, and its code can be reserved again', async () => {
  const stream = `cliLoginCode-${randomUUID()}.digest`;
  await store.append(stream, [reservation(Date.now() + 1000)], NO_STREAM);
  assert.is((await store.readStream(stream)).length, 1);
  const [metadata] = await raw.readStream(`$$${stream}`);
  assert.is((metadata?.data as { $maxAge?: number }).$maxAge, 1);
  await sleep(2100);
  assert.equal(await store.readStream(stream), [], 'aged out');
  // Drawn again: it reads as no stream, and the append expecting none goes through.
  await store.append(stream, [reservation(Date.now() + 60_000)], NO_STREAM);
  assert.is((await store.readStream(stream)).length, 1);
});

test('a session stream, a user stream and the log identity never get stream metadata', async () => {
  const session = `session-${randomUUID()}`;
  const user = `user-${randomUUID()}`;
  const data = { sessionId: randomUUID(), expiresAtMillis: Date.now() + 1000 };
  await store.append(session, [{ id: randomUUID(), type: 'SessionCreated', data, metadata: { occurredAt: new Date().toISOString() } }], NO_STREAM);
  await store.append(user, [{ id: randomUUID(), type: 'UserCreated', data: { userId: randomUUID() }, metadata: { occurredAt: new Date().toISOString() } }], NO_STREAM);
  await store.logIdentity();
  for (const stream of [session, user, 'authlogLog-identity']) assert.equal(await raw.readStream(`$$${stream}`), [], stream);
});

test.run();
