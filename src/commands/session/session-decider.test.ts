// The session aggregate's rules (sessionDecider) and isSessionLive. Pure: no store, no clock; time
// is the command's nowMs.
import { throwsKnown } from '../../../test/support/throws-known.ts';
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DomainEvent, EventData } from '../../events/catalogue.ts';
import { SESSION_ACTIVITY_INTERVAL_MS, isSessionLive, sessionDecider } from './session-decider.ts';
import { deciderSpec } from '../../../test/support/decider-spec.ts';

const session = deciderSpec(sessionDecider);

const T0 = 1_700_000_000_000;
const LIFETIME_MS = 24 * 60 * 60_000;
const sessionId = randomUUID();
const projectId = randomUUID();
const userId = randomUUID();

function createdData(overrides: Partial<EventData<'SessionCreated'>> = {}): EventData<'SessionCreated'> {
  return {
    sessionId,
    projectId,
    userId,
    refreshTokenDigest: `digest-${randomUUID()}`,
    createdAtMillis: T0,
    expiresAtMillis: T0 + LIFETIME_MS,
    isImpersonation: false,
    createdBy: { kind: 'server-key', id: randomUUID() },
    via: 'sessions-api',
    ...overrides,
  };
}

const createdData0 = createdData();
const created: DomainEvent = { type: 'SessionCreated', data: createdData0 };
const activity = (atMillis: number): DomainEvent => ({
  type: 'SessionActivityRecorded',
  data: { sessionId, projectId, userId, atMillis, sessionExpiresAtMillis: createdData0.expiresAtMillis },
});
const revoked = (revokedAtMillis: number): DomainEvent => ({
  type: 'SessionRevoked',
  data: { sessionId, projectId, userId, reason: 'revoked', refreshTokenDigest: createdData0.refreshTokenDigest, revokedAtMillis },
});

const recordAt = (history: readonly DomainEvent[], nowMs: number) => session.given(history).when({ type: 'RecordActivity', nowMs }).events();
const revokeAt = (history: readonly DomainEvent[], nowMs: number, project = projectId) =>
  session.given(history).when({ type: 'RevokeSession', projectId: project, reason: 'sign-out', nowMs }).events();


test('CreateSession on a fresh stream decides exactly one SessionCreated carrying the command data', () => {
  const data = createdData({ isImpersonation: true });
  session.given([]).when({ type: 'CreateSession', data }).then([{ type: 'SessionCreated', data }]);
});

test('a second CreateSession on the same stream throws a bug error, not a KnownError', () => {
  session.given([created]).when({ type: 'CreateSession', data: createdData() }).thenFails(/exists already/);
});

test('a second CreateSession is refused even after the session was revoked', () => {
  session.given([created, revoked(T0 + 1)]).when({ type: 'CreateSession', data: createdData() }).thenFails(/exists already/);
});

test('RecordActivity before the session exists records nothing', () => {
  assert.equal(recordAt([], T0), []);
});

test('the first use of a session records one activity carrying the session ids and its expiry', () => {
  assert.equal(recordAt([created], T0 + 5), [
    { type: 'SessionActivityRecorded', data: { sessionId, projectId, userId, atMillis: T0 + 5, sessionExpiresAtMillis: T0 + LIFETIME_MS } },
  ]);
});

test('use within the activity interval of the last recorded activity records nothing', () => {
  const history = [created, activity(T0 + 1000)];
  assert.equal(recordAt(history, T0 + 1000), []);
  assert.equal(recordAt(history, T0 + 1000 + SESSION_ACTIVITY_INTERVAL_MS - 1), []);
});

test('use exactly one interval after the last recorded activity records again', () => {
  const at = T0 + 1000 + SESSION_ACTIVITY_INTERVAL_MS;
  const events = recordAt([created, activity(T0 + 1000)], at);
  assert.is(events.length, 1);
  assert.is(events[0]?.type, 'SessionActivityRecorded');
  assert.is((events[0]?.data as EventData<'SessionActivityRecorded'>).atMillis, at);
});

test('the interval counts from the latest recorded activity, not the first', () => {
  const history = [created, activity(T0), activity(T0 + SESSION_ACTIVITY_INTERVAL_MS)];
  assert.equal(recordAt(history, T0 + 2 * SESSION_ACTIVITY_INTERVAL_MS - 1), []);
  assert.is(recordAt(history, T0 + 2 * SESSION_ACTIVITY_INTERVAL_MS).length, 1);
});

test('use at or after the expiry records nothing, use just before it records', () => {
  const expiresAt = createdData0.expiresAtMillis;
  assert.is(recordAt([created], expiresAt - 1).length, 1);
  assert.equal(recordAt([created], expiresAt), []);
  assert.equal(recordAt([created], expiresAt + SESSION_ACTIVITY_INTERVAL_MS), []);
});

test('use after revocation records nothing', () => {
  assert.equal(recordAt([created, revoked(T0 + 1)], T0 + 2), []);
});

test('revoking a session that does not exist is a KnownError SESSION_NOT_FOUND', () => {
  throwsKnown(() => revokeAt([], T0), 'SESSION_NOT_FOUND');
});

test('revoking a session of another project is a KnownError SESSION_NOT_FOUND', () => {
  throwsKnown(() => revokeAt([created], T0 + 1, randomUUID()), 'SESSION_NOT_FOUND');
});

test('revoking a live session decides SessionRevoked with the reason, the refresh-token digest and the time', () => {
  assert.equal(revokeAt([created, activity(T0 + 1)], T0 + 7), [
    {
      type: 'SessionRevoked',
      data: { sessionId, projectId, userId, reason: 'sign-out', refreshTokenDigest: createdData0.refreshTokenDigest, revokedAtMillis: T0 + 7 },
    },
  ]);
  const [event] = session.given([created]).when({ type: 'RevokeSession', projectId, reason: 'user-deleted', nowMs: T0 }).events();
  assert.is((event?.data as EventData<'SessionRevoked'>).reason, 'user-deleted');
});

test('revoking an already revoked session changes nothing and is not an error', () => {
  assert.equal(revokeAt([created, revoked(T0 + 1)], T0 + 2), []);
});

test('revoking an expired session changes nothing and is not an error', () => {
  assert.equal(revokeAt([created], createdData0.expiresAtMillis), []);
  assert.equal(revokeAt([created], createdData0.expiresAtMillis + 1), []);
});

test('evolve: the initial state is no session', () => {
  const state = sessionDecider.initialState();
  assert.is(state.status, 'none');
  assert.is(state.lastActivityAtMillis, undefined);
});

test('evolve: SessionCreated makes an active session holding the event data', () => {
  assert.equal(session.given([created]).state, {
    status: 'active',
    sessionId,
    projectId,
    userId,
    expiresAtMillis: createdData0.expiresAtMillis,
    refreshTokenDigest: createdData0.refreshTokenDigest,
    isImpersonation: false,
    lastActivityAtMillis: undefined,
    createdBy: createdData0.createdBy,
    // An event without the authority fields (written before they existed) is read conservatively.
    terms: { isImpersonation: false, startedByUser: false, parentSessionId: undefined, endsWithParent: false, actorChain: [], expiresAtMillis: createdData0.expiresAtMillis },
    via: createdData0.via,
    retired: new Map(),
  });
  assert.is(session.given([{ type: 'SessionCreated', data: createdData({ isImpersonation: true }) }]).state.isImpersonation, true);
});

test('evolve: SessionActivityRecorded moves the last activity and keeps the rest', () => {
  const state = session.given([created, activity(T0 + 10), activity(T0 + 20)]).state;
  assert.is(state.lastActivityAtMillis, T0 + 20);
  assert.is(state.status, 'active');
  assert.is(state.refreshTokenDigest, createdData0.refreshTokenDigest);
});

test('evolve: SessionRevoked marks the session revoked and keeps its ids', () => {
  const state = session.given([created, activity(T0 + 10), revoked(T0 + 20)]).state;
  assert.is(state.status, 'revoked');
  assert.is(state.sessionId, sessionId);
  assert.is(state.projectId, projectId);
  assert.is(state.lastActivityAtMillis, T0 + 10);
});

test('evolve: an event of another aggregate leaves the state unchanged', () => {
  const before = session.given([created]).state;
  const other: DomainEvent = { type: 'UserDeleted', data: { userId, projectId } };
  assert.is(sessionDecider.evolve(before, other), before);
});

test('isSessionLive: true only for an active session strictly before its expiry', () => {
  const expiresAt = createdData0.expiresAtMillis;
  assert.is(isSessionLive(session.given([]).state, T0), false);
  assert.is(isSessionLive(session.given([created]).state, T0), true);
  assert.is(isSessionLive(session.given([created]).state, expiresAt - 1), true);
  assert.is(isSessionLive(session.given([created]).state, expiresAt), false);
  assert.is(isSessionLive(session.given([created, revoked(T0 + 1)]).state, T0 + 2), false);
});

test.run();
