// The CLI login attempt's rules (cliAuthDecider, isCliAuthExpired) and the login code reservation
// (loginCodeDecider). Pure: no store, no clock; time is the command's nowMs.
import { throwsKnown } from '../../../test/support/throws-known.ts';
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KnownError } from '../../errors.ts';
import type { DomainEvent, EventData } from '../../events/catalogue.ts';
import { cliAuthDecider, isCliAuthExpired, type CliAuthCommand, type CliAuthState } from './cli-auth-decider.ts';
import { LoginCodeTakenError, loginCodeDecider, type LoginCodeCommand, type LoginCodeState } from './login-code-decider.ts';

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

/** Folds events from the initial state, as the handler does with a stream. */
const fold = (events: readonly DomainEvent[]): CliAuthState => events.reduce(cliAuthDecider.evolve, cliAuthDecider.initialState());
const decideAfter = (history: readonly DomainEvent[], command: CliAuthCommand): DomainEvent[] => cliAuthDecider.decide(command, fold(history));
const denied = (deniedAtMillis = T0 + 1000): DomainEvent => ({
  type: 'CliAuthDenied',
  data: { cliAuthId, projectId, userId, denyingSessionId: approvingSessionId, deniedAtMillis, attemptExpiresAtMillis: EXPIRES_AT },
});
const denyAt = (history: readonly DomainEvent[], nowMs: number, project = projectId) =>
  decideAfter(history, { type: 'DenyCliAuth', projectId: project, userId, denyingSessionId: approvingSessionId, nowMs });
const completeAt = (history: readonly DomainEvent[], nowMs: number, project = projectId) =>
  decideAfter(history, { type: 'CompleteCliAuth', projectId: project, userId, approvingSessionId, nowMs });
const claimAt = (history: readonly DomainEvent[], nowMs: number, project = projectId, claimSessionId = sessionId) =>
  decideAfter(history, { type: 'ClaimCliAuth', projectId: project, sessionId: claimSessionId, nowMs });


// --- InitiateCliAuth ---

test('InitiateCliAuth on a fresh stream decides exactly one CliAuthInitiated carrying the command data', () => {
  const data = initiatedData({ createdAtMillis: T0 + 7, expiresAtMillis: T0 + 7 + LIFETIME_MS });
  assert.equal(decideAfter([], { type: 'InitiateCliAuth', data }), [{ type: 'CliAuthInitiated', data }]);
});

test('a second InitiateCliAuth on the same stream throws a bug error, not a KnownError', () => {
  let thrown: unknown;
  try {
    decideAfter([initiated], { type: 'InitiateCliAuth', data: initiatedData() });
  } catch (error) {
    thrown = error;
  }
  assert.instance(thrown, Error);
  assert.not.instance(thrown, KnownError);
  assert.match((thrown as Error).message, /exists already/);
});

test('a second InitiateCliAuth is refused after completion and after claim too', () => {
  assert.throws(() => decideAfter([initiated, completed()], { type: 'InitiateCliAuth', data: initiatedData() }), /exists already/);
  assert.throws(() => decideAfter([initiated, completed(), claimed()], { type: 'InitiateCliAuth', data: initiatedData() }), /exists already/);
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
  assert.equal(fold([initiated, denied()]), { ...fold([initiated]), status: 'denied' });
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
  assert.is(fold(history).sessionId, sessionId);
});

// --- evolve / isCliAuthExpired ---

test('the initial state is none, with no approver and no session', () => {
  const state = fold([]);
  assert.is(state.status, 'none');
  assert.is(state.userId, undefined);
  assert.is(state.approvingSessionId, undefined);
  assert.is(state.sessionId, undefined);
});

test('evolve moves none → pending → completed → claimed, carrying the attempt, approver and session', () => {
  const pending = fold([initiated]);
  assert.equal(pending, {
    status: 'pending',
    cliAuthId,
    projectId,
    expiresAtMillis: EXPIRES_AT,
    userId: undefined,
    approvingSessionId: undefined,
    impersonator: undefined,
    sessionId: undefined,
    anonSession: undefined,
  });
  const done = fold([initiated, completed()]);
  assert.equal(done, { ...pending, status: 'completed', userId, approvingSessionId });
  const taken = fold([initiated, completed(), claimed()]);
  assert.equal(taken, { ...done, status: 'claimed', sessionId });
});

test('an approval from an impersonation session carries the impersonator into the event and the state', () => {
  const impersonator = { kind: 'admin-user' as const, id: randomUUID() };
  const events = cliAuthDecider.decide({ type: 'CompleteCliAuth', projectId, userId, approvingSessionId, impersonator, nowMs: EXPIRES_AT - 1 }, fold([initiated]));
  assert.equal((events[0]?.data as { impersonator?: unknown }).impersonator, impersonator);
  assert.equal(fold([initiated, ...events]).impersonator, impersonator);
});

test('evolve leaves the state unchanged on unrelated events', () => {
  const unrelated: DomainEvent = { type: 'CliLoginCodeReserved', data: { projectId, cliAuthId: randomUUID(), expiresAtMillis: EXPIRES_AT + 1 } };
  for (const history of [[], [initiated], [initiated, completed()], [initiated, completed(), claimed()], [initiated, denied()]] as DomainEvent[][]) {
    const before = fold(history);
    assert.is(cliAuthDecider.evolve(before, unrelated), before);
  }
});

test('isCliAuthExpired is false before expiresAtMillis and true at and after it', () => {
  const state = fold([initiated]);
  assert.is(isCliAuthExpired(state, EXPIRES_AT - 1), false);
  assert.is(isCliAuthExpired(state, EXPIRES_AT), true);
  assert.is(isCliAuthExpired(state, EXPIRES_AT + 1), true);
});

// --- loginCodeDecider ---

const reservation = (holder: string, expiresAtMillis: number): DomainEvent => ({
  type: 'CliLoginCodeReserved',
  data: { projectId, cliAuthId: holder, expiresAtMillis },
});
const foldCode = (events: readonly DomainEvent[]): LoginCodeState => events.reduce(loginCodeDecider.evolve, loginCodeDecider.initialState());
const reserveAfter = (history: readonly DomainEvent[], command: Omit<LoginCodeCommand, 'type' | 'projectId'>): DomainEvent[] =>
  loginCodeDecider.decide({ type: 'ReserveLoginCode', projectId, ...command }, foldCode(history));

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
  assert.equal(foldCode([reservation(cliAuthId, EXPIRES_AT), reservation(next, EXPIRES_AT + LIFETIME_MS)]), {
    cliAuthId: next,
    expiresAtMillis: EXPIRES_AT + LIFETIME_MS,
  });
});

test('the holder reserving its code again decides nothing', () => {
  assert.equal(reserveAfter([reservation(cliAuthId, EXPIRES_AT)], { cliAuthId, expiresAtMillis: EXPIRES_AT, nowMs: T0 + 1 }), []);
});

test('the login code state ignores unrelated events', () => {
  const before = foldCode([reservation(cliAuthId, EXPIRES_AT)]);
  assert.is(loginCodeDecider.evolve(before, initiated), before);
  assert.equal(foldCode([initiated, completed()]), { cliAuthId: undefined, expiresAtMillis: 0 });
});


// The anonymous session a CLI started as (cli-anonymous-session.ts): handed over at most once,
// only while the attempt is open.
const anonSessionId = randomUUID();
const anonUserId = randomUUID();
const initiatedAnonymous: DomainEvent = { type: 'CliAuthInitiated', data: initiatedData({ anonSessionId, anonUserId }) };
const handOverAt = (history: readonly DomainEvent[], nowMs: number, project = projectId) =>
  decideAfter(history, { type: 'HandOverAnonymousSession', projectId: project, sessionId, nowMs });

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
