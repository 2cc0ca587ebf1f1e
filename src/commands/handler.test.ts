// The generic command handler over a fake in-memory store that can simulate a concurrent
// writer: for the first N appends it lets "another process" append a real event, then fails the
// append with WrongExpectedVersionError, exactly as a real store would.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KnownError } from '../errors.ts';
import type { DomainEvent, EventData } from '../events/catalogue.ts';
import { streamName } from '../events/streams.ts';
import {
  NO_STREAM,
  StoreUnavailableError,
  WrongExpectedVersionError,
  revisionMatches,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
  type Subscription,
} from '../store/event-store.ts';
import { handleCommand } from './handler.ts';
import { projectDecider } from './project/project-decider.ts';
import { userDecider } from './user/user-decider.ts';

interface AppendCall {
  streamId: string;
  events: readonly NewEvent[];
  expected: ExpectedRevision;
}

class FakeStore implements EventStore {
  readonly log: RecordedEvent[] = [];
  readonly appends: AppendCall[] = [];
  /** How many of the next appends fail as if another writer got there first. */
  conflicts = 0;
  /** What the "other writer" appends just before each simulated conflict. */
  concurrentWriter: ((store: FakeStore) => void) | undefined;
  /** Thrown by the next append instead of anything else. */
  failWith: Error | undefined;

  async append(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    this.appends.push({ streamId, events, expected });
    if (this.failWith) throw this.failWith;
    if (this.conflicts > 0) {
      this.conflicts--;
      this.concurrentWriter?.(this);
    }
    return this.appendNow(streamId, events, expected);
  }

  /** The append itself, also what the concurrent writer uses (not recorded in `appends`). */
  appendNow(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): AppendResult {
    const current = this.revisionOf(streamId);
    if (!revisionMatches(expected, current)) throw new WrongExpectedVersionError(streamId, expected, current < 0n ? NO_STREAM : current);
    let revision = current;
    for (const event of events) {
      revision++;
      this.log.push({ ...event, streamId, revision, position: BigInt(this.log.length) });
    }
    return { nextExpectedRevision: revision, position: BigInt(this.log.length - 1) };
  }

  /** Appends domain events as another writer would, whatever the stream's revision. */
  write(streamId: string, ...events: DomainEvent[]): void {
    const current = this.revisionOf(streamId);
    const newEvents = events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata }));
    this.appendNow(streamId, newEvents, current < 0n ? NO_STREAM : current);
  }

  revisionOf(streamId: string): bigint {
    return this.log.filter((e) => e.streamId === streamId).at(-1)?.revision ?? -1n;
  }

  async readStream(streamId: string): Promise<RecordedEvent[]> {
    return this.log.filter((e) => e.streamId === streamId);
  }

  async *readAll(): AsyncIterable<RecordedEvent> {
    yield* this.log;
  }

  async headPosition(): Promise<bigint> {
    return BigInt(this.log.length - 1);
  }

  subscribeToAll(): Subscription {
    throw new Error('not used by the handler');
  }

  async logIdentity(): Promise<string> {
    return 'fake-log';
  }
  async close(): Promise<void> {}
}

const metadata: EventMetadata = { occurredAt: '2024-01-01T00:00:00.000Z', actor: { kind: 'system', id: 'test' }, requestId: 'req-1' };

const keyRecord = () => ({ id: randomUUID(), digest: 'digest' });
const projectCreated = (projectId: string, name = 'Demo'): EventData<'ProjectCreated'> => ({
  projectId,
  name,
  trustedDomains: [],
  keys: { publishableClientKey: keyRecord(), secretServerKey: keyRecord(), superSecretAdminKey: keyRecord() },
});

function newProject(store: FakeStore): { projectId: string; stream: string } {
  const projectId = randomUUID();
  const stream = streamName('project', projectId);
  store.write(stream, { type: 'ProjectCreated', data: projectCreated(projectId) });
  return { projectId, stream };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.unreachable('expected a rejection');
  throw new Error('unreachable');
}

test('a command on a new stream appends with NO_STREAM and returns the position and the state after', async () => {
  const store = new FakeStore();
  store.write('user-unrelated', { type: 'UserDeleted', data: { userId: randomUUID(), projectId: randomUUID() } });
  const projectId = randomUUID();
  const stream = streamName('project', projectId);
  const result = await handleCommand(store, stream, projectDecider, { type: 'CreateProject', data: projectCreated(projectId) }, metadata);
  assert.is(store.appends.length, 1);
  assert.is(store.appends[0]!.expected, NO_STREAM);
  assert.is(result.position, 1n);
  assert.is(result.state.exists, true);
  assert.equal(result.appended.map((e) => e.type), ['ProjectCreated']);
  assert.equal((await store.readStream(stream)).map((e) => e.type), ['ProjectCreated']);
});

test('an append on an existing stream expects the last revision read', async () => {
  const store = new FakeStore();
  const { projectId, stream } = newProject(store);
  store.write(stream, { type: 'ProjectAdminAdded', data: { projectId, userId: randomUUID() } });
  await handleCommand(store, stream, projectDecider, { type: 'AddAdmin', projectId, userId: randomUUID() }, metadata);
  assert.is(store.appends[0]!.expected, 1n);
  assert.is(store.revisionOf(stream), 2n);
});

test('events of unknown types are skipped by the fold but still count for the expected revision', async () => {
  const store = new FakeStore();
  const { projectId, stream } = newProject(store);
  store.appendNow(stream, [{ id: randomUUID(), type: 'FromANewerVersion', data: { x: 1 }, metadata }], 0n);
  const result = await handleCommand(store, stream, projectDecider, { type: 'AddAdmin', projectId, userId: randomUUID() }, metadata);
  assert.is(store.appends[0]!.expected, 1n);
  assert.is(result.state.exists, true);
});

test('appended events carry the metadata, their own fresh ids and the decided type and data', async () => {
  const store = new FakeStore();
  const { projectId, stream } = newProject(store);
  const userId = randomUUID();
  await handleCommand(store, stream, projectDecider, { type: 'AddAdmin', projectId, userId }, metadata);
  await handleCommand(store, stream, projectDecider, { type: 'RemoveAdmin', projectId, userId }, metadata);
  const [add, remove] = store.appends.map((a) => a.events[0]!);
  assert.equal(add!.metadata, metadata);
  assert.is(add!.type, 'ProjectAdminAdded');
  assert.equal(add!.data, { projectId, userId });
  assert.is(remove!.type, 'ProjectAdminRemoved');
  assert.ok(/^[0-9a-f-]{36}$/.test(add!.id));
  assert.is.not(add!.id, remove!.id);
});

test('a decision with no events appends nothing and returns position undefined', async () => {
  const store = new FakeStore();
  const { projectId, stream } = newProject(store);
  const result = await handleCommand(store, stream, projectDecider, { type: 'RemoveAdmin', projectId, userId: randomUUID() }, metadata);
  assert.is(store.appends.length, 0);
  assert.is(result.position, undefined);
  assert.equal(result.appended, []);
  assert.is(result.state.exists, true, 'the state read is returned');
});

test('after a concurrent append the handler reloads, decides again and appends at the new revision', async () => {
  const store = new FakeStore();
  const { projectId, stream } = newProject(store);
  const theirs = randomUUID();
  const ours = randomUUID();
  store.conflicts = 1;
  store.concurrentWriter = (s) => s.write(stream, { type: 'ProjectAdminAdded', data: { projectId, userId: theirs } });
  const result = await handleCommand(store, stream, projectDecider, { type: 'AddAdmin', projectId, userId: ours }, metadata);
  assert.equal(store.appends.map((a) => a.expected), [0n, 1n]);
  assert.equal([...result.state.admins].sort(), [ours, theirs].sort(), 'the retry folded the concurrent event');
  assert.is(result.position, 2n);
  assert.is(store.revisionOf(stream), 2n);
});

test('when the concurrent writer already did what was asked, the retry appends nothing', async () => {
  const store = new FakeStore();
  const { projectId, stream } = newProject(store);
  const userId = randomUUID();
  store.conflicts = 1;
  store.concurrentWriter = (s) => s.write(stream, { type: 'ProjectAdminAdded', data: { projectId, userId } });
  const result = await handleCommand(store, stream, projectDecider, { type: 'AddAdmin', projectId, userId }, metadata);
  assert.is(store.appends.length, 1);
  assert.is(result.position, undefined);
  assert.equal(result.appended, []);
  assert.is(store.log.filter((e) => e.type === 'ProjectAdminAdded').length, 1, 'the admin was added once, not twice');
});

test('a retry whose new decision is refused fails with that refusal, not with a conflict', async () => {
  const store = new FakeStore();
  const projectId = randomUUID();
  const stream = streamName('project', projectId);
  store.conflicts = 1;
  store.concurrentWriter = (s) => s.write(stream, { type: 'ProjectCreated', data: projectCreated(projectId, 'Theirs') });
  const error = await rejection(handleCommand(store, stream, projectDecider, { type: 'CreateProject', data: projectCreated(projectId, 'Ours') }, metadata));
  assert.not.instance(error, KnownError);
  assert.match(String(error), /exists already/);
  assert.equal((await store.readStream(stream)).map((e) => (e.data as { name: string }).name), ['Theirs']);
});

test('after maxAttempts conflicts the handler gives up with CONCURRENT_MODIFICATION', async () => {
  const store = new FakeStore();
  const { projectId, stream } = newProject(store);
  store.conflicts = 3;
  store.concurrentWriter = (s) => s.write(stream, { type: 'ProjectAdminAdded', data: { projectId, userId: randomUUID() } });
  const ours = randomUUID();
  const error = await rejection(handleCommand(store, stream, projectDecider, { type: 'AddAdmin', projectId, userId: ours }, metadata, { maxAttempts: 3 }));
  assert.instance(error, KnownError);
  assert.is((error as KnownError).code, 'CONCURRENT_MODIFICATION');
  assert.is(store.appends.length, 3);
  assert.equal(store.appends.map((a) => a.expected), [0n, 1n, 2n], 'each attempt expected the revision it had just read');
  assert.not.ok(store.log.some((e) => (e.data as { userId?: string }).userId === ours), 'nothing of ours landed');
});

test('one conflict fewer than maxAttempts still succeeds on the last attempt', async () => {
  const store = new FakeStore();
  const { projectId, stream } = newProject(store);
  store.conflicts = 2;
  store.concurrentWriter = (s) => s.write(stream, { type: 'ProjectAdminAdded', data: { projectId, userId: randomUUID() } });
  const result = await handleCommand(store, stream, projectDecider, { type: 'AddAdmin', projectId, userId: randomUUID() }, metadata, { maxAttempts: 3 });
  assert.is(store.appends.length, 3);
  assert.is(result.state.admins.size, 3);
});

test('the default is twelve attempts, with jittered backoff between them', async () => {
  const store = new FakeStore();
  const { projectId, stream } = newProject(store);
  store.conflicts = 100;
  store.concurrentWriter = (s) => s.write(stream, { type: 'ProjectAdminAdded', data: { projectId, userId: randomUUID() } });
  const error = await rejection(handleCommand(store, stream, projectDecider, { type: 'AddAdmin', projectId, userId: randomUUID() }, metadata));
  assert.is((error as KnownError).code, 'CONCURRENT_MODIFICATION');
  assert.is(store.appends.length, 12);
});

test('the backoff outlasts a writer that keeps the stream busy for 30 ms, which immediate retries (five, no wait) lose to', async () => {
  const store = new FakeStore();
  const { projectId, stream } = newProject(store);
  // Another writer wins every race for 30 ms (a burst of guesses on one code), then stops.
  const busyUntil = performance.now() + 30;
  store.conflicts = Number.MAX_SAFE_INTEGER;
  store.concurrentWriter = (s) => {
    if (performance.now() < busyUntil) s.write(stream, { type: 'ProjectAdminAdded', data: { projectId, userId: randomUUID() } });
  };
  const ours = randomUUID();
  const result = await handleCommand(store, stream, projectDecider, { type: 'AddAdmin', projectId, userId: ours }, metadata);
  assert.ok(result.state.admins.has(ours));
  assert.ok(performance.now() >= busyUntil, 'it got through only once the other writer had stopped');
});

test('a store failure other than a conflict is not retried', async () => {
  const store = new FakeStore();
  const { projectId, stream } = newProject(store);
  store.failWith = new StoreUnavailableError('down');
  const error = await rejection(handleCommand(store, stream, projectDecider, { type: 'AddAdmin', projectId, userId: randomUUID() }, metadata));
  assert.instance(error, StoreUnavailableError);
  assert.is(store.appends.length, 1);
});

test('a refused command appends nothing and surfaces the KnownError', async () => {
  const store = new FakeStore();
  const userId = randomUUID();
  const error = await rejection(handleCommand(store, streamName('user', userId), userDecider, { type: 'DeleteUser', userId, projectId: randomUUID() }, metadata));
  assert.is((error as KnownError).code, 'USER_NOT_FOUND');
  assert.is(store.appends.length, 0);
});

test('an event payload that fails its schema is never appended', async () => {
  const store = new FakeStore();
  const projectId = randomUUID();
  const stream = streamName('project', projectId);
  const emptyName = await rejection(handleCommand(store, stream, projectDecider, { type: 'CreateProject', data: projectCreated(projectId, '') }, metadata));
  assert.match(String(emptyName), /Invalid ProjectCreated event/);
  const userId = randomUUID();
  const badUser = { ...userCreatedData(userId), projectId: 'not-a-uuid' };
  const notUuid = await rejection(handleCommand(store, streamName('user', userId), userDecider, { type: 'CreateUser', data: badUser }, metadata));
  assert.match(String(notUuid), /Invalid UserCreated event/);
  assert.is(store.appends.length, 0);
  assert.is(store.log.length, 0);
});

function userCreatedData(userId: string): EventData<'UserCreated'> {
  return {
    userId,
    projectId: randomUUID(),
    primaryEmail: 'ada@example.com',
    primaryEmailVerified: true,
    displayName: null,
    signedUpAtMillis: 1,
    origin: 'api',
  };
}

test.run();
