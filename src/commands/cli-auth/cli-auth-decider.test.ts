// The CLI login attempt's rules (cliAuthDecider, policy/cli-auth-poll.ts's isCliAuthExpired) and the login code reservation
// (loginCodeDecider). Pure: no store, no clock; time is the command's nowMs.
import { throwsKnown } from '../../../test/support/throws-known.ts';
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DomainEvent, EventData } from '../../events/catalogue.ts';
import { KnownError } from '../../errors.ts';
import { cliAuthDecider } from './cli-auth-decider.ts';
import { isCliAuthExpired } from '../../policy/cli-auth-poll.ts';
import { LoginCodeTakenError, loginCodeDecider, type LoginCodeCommand } from './login-code-decider.ts';
import { deciderSpec } from '../../../test/support/decider-spec.ts';

const attempt = deciderSpec(cliAuthDecider);
const loginCode = deciderSpec(loginCodeDecider);

const T0 = 1_700_000_000_000;
const LIFETIME_MS = 15 * 60_000;
const EXPIRES_AT = T0 + LIFETIME_MS;
const cliAuthId = randomUUID();
const projectId = randomUUID();
const otherProjectId = randomUUID();
const userId = randomUUID();
const approvingSessionId = randomUUID();
const sessionId = randomUUID();

function initiatedData(overrides: Partial<EventData<'CliAuthInitiated'>> = {}): EventData<'CliAuthInitiated'> {
  return {
    cliAuthId,
    projectId,
    pollingCodeDigest: `polling-${randomUUID()}`,
    loginCodeDigest: `login-${randomUUID()}`,
    createdAtMillis: T0,
    expiresAtMillis: EXPIRES_AT,
    ...overrides,
  };
}

const initiated: DomainEvent = { type: 'CliAuthInitiated', data: initiatedData() };
const completed = (completedAtMillis = T0 + 1000): DomainEvent => ({
  type: 'LoginCodeCompleted',
  data: { cliAuthId, projectId, userId, approvingSessionId, completedAtMillis, attemptExpiresAtMillis: EXPIRES_AT },
});
const claimed = (claimedAtMillis = T0 + 2000, claimedSessionId = sessionId): DomainEvent => ({
  type: 'CliAuthClaimed',
  data: { cliAuthId, projectId, sessionId: claimedSessionId, claimedAtMillis, attemptExpiresAtMillis: EXPIRES_AT },
});

const denied = (deniedAtMillis = T0 + 1000): DomainEvent => ({
  type: 'CliAuthDenied',
  data: { cliAuthId, projectId, userId, denyingSessionId: approvingSessionId, deniedAtMillis, attemptExpiresAtMillis: EXPIRES_AT },
});
const denyAt = (history: readonly DomainEvent[], nowMs: number, project = projectId) =>
  attempt.given(history).when({ type: 'DenyCliAuth', projectId: project, userId, denyingSessionId: approvingSessionId, nowMs }).events();
const completeAt = (history: readonly DomainEvent[], nowMs: number, project = projectId) =>
  attempt.given(history).when({ type: 'CompleteCliAuth', projectId: project, userId, approvingSessionId, nowMs }).events();
const claimAt = (history: readonly DomainEvent[], nowMs: number, project = projectId, claimSessionId = sessionId) =>
  attempt.given(history).when({ type: 'ClaimCliAuth', projectId: project, sessionId: claimSessionId, nowMs }).events();


// --- InitiateCliAuth ---

test('InitiateCliAuth on a fresh stream decides exactly one CliAuthInitiated carrying the command data', () => {
  const data = initiatedData({ createdAtMillis: T0 + 7, expiresAtMillis: T0 + 7 + LIFETIME_MS });
  attempt.given([]).when({ type: 'InitiateCliAuth', data }).then([{ type: 'CliAuthInitiated', data }]);
});

test('a second InitiateCliAuth on the same stream throws a bug error, not a KnownError', () => {
  attempt.given([initiated]).when({ type: 'InitiateCliAuth', data: initiatedData() }).thenFails(/exists already/);
});

test('a second InitiateCliAuth is refused after completion and after claim too', () => {
  attempt.given([initiated, completed()]).when({ type: 'InitiateCliAuth', data: initiatedData() }).thenFails(/exists already/);
  attempt.given([initiated, completed(), claimed()]).when({ type: 'InitiateCliAuth', data: initiatedData() }).thenFails(/exists already/);
});

// --- CompleteCliAuth ---

test('completing a pending attempt of the same project before expiry decides one LoginCodeCompleted with the approver and times', () => {
  assert.equal(completeAt([initiated], T0 + 500), [
    {
      type: 'LoginCodeCompleted',
      data: { cliAuthId, projectId, userId, approvingSessionId, completedAtMillis: T0 + 500, attemptExpiresAtMillis: EXPIRES_AT },
    },
  ]);
});

test('completing an unknown attempt is INVALID_LOGIN_CODE', () => {
  throwsKnown(() => completeAt([], T0), 'INVALID_LOGIN_CODE');
});

test('completing an attempt of another project is INVALID_LOGIN_CODE', () => {
  throwsKnown(() => completeAt([initiated], T0 + 1, otherProjectId), 'INVALID_LOGIN_CODE');
});

test('completing one ms before expiry works, at or after expiry is INVALID_LOGIN_CODE', () => {
  assert.is(completeAt([initiated], EXPIRES_AT - 1).length, 1);
  throwsKnown(() => completeAt([initiated], EXPIRES_AT), 'INVALID_LOGIN_CODE');
  throwsKnown(() => completeAt([initiated], EXPIRES_AT + 60_000), 'INVALID_LOGIN_CODE');
});

test('completing an already completed attempt is INVALID_LOGIN_CODE', () => {
  throwsKnown(() => completeAt([initiated, completed()], T0 + 1500), 'INVALID_LOGIN_CODE');
});

test('completing an already claimed attempt is INVALID_LOGIN_CODE', () => {
  throwsKnown(() => completeAt([initiated, completed(), claimed()], T0 + 2500), 'INVALID_LOGIN_CODE');
});

// --- DenyCliAuth ---

test('denying a pending attempt of the same project before expiry decides one CliAuthDenied with the person, their session and times', () => {
  assert.equal(denyAt([initiated], T0 + 500), [
    {
      type: 'CliAuthDenied',
      data: { cliAuthId, projectId, userId, denyingSessionId: approvingSessionId, deniedAtMillis: T0 + 500, attemptExpiresAtMillis: EXPIRES_AT },
    },
  ]);
});

test('denying an unknown attempt, or one of another project, is INVALID_LOGIN_CODE', () => {
  throwsKnown(() => denyAt([], T0), 'INVALID_LOGIN_CODE');
  throwsKnown(() => denyAt([initiated], T0 + 1, otherProjectId), 'INVALID_LOGIN_CODE');
});

test('denying one ms before expiry works, at or after expiry is INVALID_LOGIN_CODE', () => {
  assert.is(denyAt([initiated], EXPIRES_AT - 1).length, 1);
  throwsKnown(() => denyAt([initiated], EXPIRES_AT), 'INVALID_LOGIN_CODE');
});

test('an attempt completed, claimed or denied already cannot be denied', () => {
  throwsKnown(() => denyAt([initiated, completed()], T0 + 1500), 'INVALID_LOGIN_CODE');
  throwsKnown(() => denyAt([initiated, completed(), claimed()], T0 + 2500), 'INVALID_LOGIN_CODE');
  throwsKnown(() => denyAt([initiated, denied()], T0 + 1500), 'INVALID_LOGIN_CODE');
});

test('a denied attempt cannot be completed afterwards', () => {
  throwsKnown(() => completeAt([initiated, denied()], T0 + 1500), 'INVALID_LOGIN_CODE');
});

test('a denied attempt is never claimed', () => {
  assert.equal(claimAt([initiated, denied()], T0 + 1500), []);
});

test('evolve moves pending → denied and keeps no approver nor session', () => {
  assert.equal(attempt.given([initiated, denied()]).state, { ...attempt.given([initiated]).state, status: 'denied' });
});

// --- ClaimCliAuth ---

test('claiming a completed live attempt decides one CliAuthClaimed with the new session id and the attempt expiry', () => {
  assert.equal(claimAt([initiated, completed()], T0 + 3000), [
    {
      type: 'CliAuthClaimed',
      data: { cliAuthId, projectId, sessionId, claimedAtMillis: T0 + 3000, attemptExpiresAtMillis: EXPIRES_AT },
    },
  ]);
});

test('claiming one ms before expiry works, at or after expiry claims nothing', () => {
  const history = [initiated, completed()];
  assert.is(claimAt(history, EXPIRES_AT - 1).length, 1);
  assert.equal(claimAt(history, EXPIRES_AT), []);
  assert.equal(claimAt(history, EXPIRES_AT + 60_000), []);
});

test('claiming an unknown or still pending attempt claims nothing', () => {
  assert.equal(claimAt([], T0), []);
  assert.equal(claimAt([initiated], T0 + 1), []);
});

test('claiming an attempt of another project claims nothing', () => {
  assert.equal(claimAt([initiated, completed()], T0 + 3000, otherProjectId), []);
});

test('an attempt is claimed exactly once: after a claim, another claim decides nothing', () => {
  const history: DomainEvent[] = [initiated, completed()];
  const first = claimAt(history, T0 + 3000);
  assert.is(first.length, 1);
  history.push(...first);
  assert.equal(claimAt(history, T0 + 3001, projectId, randomUUID()), []);
  const state = attempt.given(history).state;
  assert.is(state.status === 'used' ? state.sessionId : undefined, sessionId);
});

// --- evolve / isCliAuthExpired ---

test('the initial state is none, with no attempt, no approver and no session', () => {
  assert.equal(attempt.given([]).state, { status: 'none' });
});

test('evolve moves none → pending → completed → used (claimed), carrying the attempt, then the approver, then the session', () => {
  const pending = attempt.given([initiated]).state;
  assert.equal(pending, { status: 'pending', cliAuthId, projectId, expiresAtMillis: EXPIRES_AT, anonSession: undefined });
  const done = attempt.given([initiated, completed()]).state;
  assert.equal(done, { ...pending, status: 'completed', userId, approvingSessionId, impersonator: undefined });
  const taken = attempt.given([initiated, completed(), claimed()]).state;
  assert.equal(taken, { ...done, status: 'used', sessionId });
});

test('an approval from an impersonation session carries the impersonator into the event and the state', () => {
  const impersonator = { kind: 'admin-user' as const, id: randomUUID() };
  const events = attempt.given([initiated]).when({ type: 'CompleteCliAuth', projectId, userId, approvingSessionId, impersonator, nowMs: EXPIRES_AT - 1 }).events();
  assert.equal((events[0]?.data as { impersonator?: unknown }).impersonator, impersonator);
  const state = attempt.given([initiated, ...events]).state;
  assert.equal(state.status === 'completed' ? state.impersonator : undefined, impersonator);
});

test('evolve leaves the state unchanged on unrelated events', () => {
  const unrelated: DomainEvent = { type: 'CliLoginCodeReserved', data: { projectId, cliAuthId: randomUUID(), expiresAtMillis: EXPIRES_AT + 1 } };
  for (const history of [[], [initiated], [initiated, completed()], [initiated, completed(), claimed()], [initiated, denied()]] as DomainEvent[][]) {
    const before = attempt.given(history).state;
    assert.is(cliAuthDecider.evolve(before, unrelated), before);
  }
});

test('isCliAuthExpired is false before expiresAtMillis and true at and after it', () => {
  const state = attempt.given([initiated]).state;
  if (state.status !== 'pending') return assert.unreachable('an initiated attempt is pending');
  assert.is(isCliAuthExpired(state, EXPIRES_AT - 1), false);
  assert.is(isCliAuthExpired(state, EXPIRES_AT), true);
  assert.is(isCliAuthExpired(state, EXPIRES_AT + 1), true);
});

// --- loginCodeDecider ---

const reservation = (holder: string, expiresAtMillis: number): DomainEvent => ({
  type: 'CliLoginCodeReserved',
  data: { projectId, cliAuthId: holder, expiresAtMillis },
});
const reserveAfter = (history: readonly DomainEvent[], command: Omit<LoginCodeCommand, 'type' | 'projectId'>): DomainEvent[] =>
  loginCode.given(history).when({ type: 'ReserveLoginCode', projectId, ...command }).events();

test('a free login code is reserved by the attempt until its expiry', () => {
  assert.equal(reserveAfter([], { cliAuthId, expiresAtMillis: EXPIRES_AT, nowMs: T0 }), [reservation(cliAuthId, EXPIRES_AT)]);
});

test('a login code held by a live attempt throws LoginCodeTakenError, up to one ms before its expiry', () => {
  const history = [reservation(cliAuthId, EXPIRES_AT)];
  for (const nowMs of [T0, EXPIRES_AT - 1]) {
    let thrown: unknown;
    try {
      reserveAfter(history, { cliAuthId: randomUUID(), expiresAtMillis: nowMs + LIFETIME_MS, nowMs });
    } catch (error) {
      thrown = error;
    }
    assert.instance(thrown, LoginCodeTakenError);
    assert.not.instance(thrown, KnownError);
  }
});

test('a login code whose holder expired can be reserved by a new attempt, from the expiry on', () => {
  const history = [reservation(cliAuthId, EXPIRES_AT)];
  const next = randomUUID();
  for (const nowMs of [EXPIRES_AT, EXPIRES_AT + 60_000]) {
    assert.equal(reserveAfter(history, { cliAuthId: next, expiresAtMillis: nowMs + LIFETIME_MS, nowMs }), [reservation(next, nowMs + LIFETIME_MS)]);
  }
});

test('the new holder replaces the expired one in the reservation state', () => {
  const next = randomUUID();
  assert.equal(loginCode.given([reservation(cliAuthId, EXPIRES_AT), reservation(next, EXPIRES_AT + LIFETIME_MS)]).state, {
    cliAuthId: next,
    expiresAtMillis: EXPIRES_AT + LIFETIME_MS,
  });
});

test('the holder reserving its code again decides nothing', () => {
  assert.equal(reserveAfter([reservation(cliAuthId, EXPIRES_AT)], { cliAuthId, expiresAtMillis: EXPIRES_AT, nowMs: T0 + 1 }), []);
});

test('the login code state ignores unrelated events', () => {
  const before = loginCode.given([reservation(cliAuthId, EXPIRES_AT)]).state;
  assert.is(loginCodeDecider.evolve(before, initiated), before);
  assert.equal(loginCode.given([initiated, completed()]).state, { cliAuthId: undefined, expiresAtMillis: 0 });
});


// The anonymous session a CLI started as (cli-anonymous-session.ts): handed over at most once,
// only while the attempt is open.
const anonSessionId = randomUUID();
const anonUserId = randomUUID();
const initiatedAnonymous: DomainEvent = { type: 'CliAuthInitiated', data: initiatedData({ anonSessionId, anonUserId }) };
const handOverAt = (history: readonly DomainEvent[], nowMs: number, project = projectId) =>
  attempt.given(history).when({ type: 'HandOverAnonymousSession', projectId: project, sessionId, nowMs }).events();

test('an attempt started anonymously hands its anonymous session over once, naming both sessions', () => {
  const events = handOverAt([initiatedAnonymous], T0 + 1000);
  assert.is(events.length, 1);
  assert.equal(events[0]?.data, {
    cliAuthId,
    projectId,
    anonUserId,
    anonSessionId,
    sessionId,
    handedOverAtMillis: T0 + 1000,
    attemptExpiresAtMillis: EXPIRES_AT,
  });
  throwsKnown(() => handOverAt([initiatedAnonymous, ...events], T0 + 2000), 'NO_ANONYMOUS_CLI_SESSION');
  // Handing over does not complete: the person still approves afterwards.
  assert.is(completeAt([initiatedAnonymous, ...events], T0 + 3000).length, 1);
});

test('no anonymous session to hand over: an attempt without one, another project, expired, completed or denied', () => {
  throwsKnown(() => handOverAt([initiated], T0 + 1000), 'NO_ANONYMOUS_CLI_SESSION');
  throwsKnown(() => handOverAt([initiatedAnonymous], T0 + 1000, otherProjectId), 'INVALID_LOGIN_CODE');
  throwsKnown(() => handOverAt([initiatedAnonymous], EXPIRES_AT), 'INVALID_LOGIN_CODE');
  throwsKnown(() => handOverAt([initiatedAnonymous, completed()], T0 + 2000), 'INVALID_LOGIN_CODE');
  throwsKnown(() => handOverAt([initiatedAnonymous, denied()], T0 + 2000), 'INVALID_LOGIN_CODE');
});

test.run();
