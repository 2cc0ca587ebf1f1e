// The sign-in code's rules (signInCodeDecider) and the email's guess budget (signInEmailDecider,
// isEmailLocked), under policy/sign-in-guesses.ts. Pure: no store, no clock; time is the command's nowMs.
import { throwsKnown } from '../../../test/support/throws-known.ts';
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DomainEvent, EventData } from '../../events/catalogue.ts';
import { signInCodeDecider } from './sign-in-code-decider.ts';
import { isEmailLocked, signInEmailDecider, type SignInEmailCommand } from './sign-in-email-decider.ts';
import { EMAIL_GUESS_WINDOW_MS, MAX_WRONG_GUESSES_PER_CODE, MAX_WRONG_GUESSES_PER_EMAIL, isSignInCodeExpired } from '../../policy/sign-in-guesses.ts';
import { deciderSpec } from '../../../test/support/decider-spec.ts';

const code = deciderSpec(signInCodeDecider);
const emailBudget = deciderSpec(signInEmailDecider);

const T0 = 1_700_000_000_000;
const LIFETIME_MS = 15 * 60_000;
const EXPIRES_AT = T0 + LIFETIME_MS;
const projectId = randomUUID();
const otherProjectId = randomUUID();
const sessionId = randomUUID();
const nonceDigest = `nonce-${randomUUID()}`;
const emailDigest = `email-${randomUUID()}`;
const email = 'ada@example.com';

function sentData(overrides: Partial<EventData<'SignInCodeSent'>> = {}): EventData<'SignInCodeSent'> {
  return {
    projectId,
    nonceDigest,
    codeDigest: `code-${randomUUID()}`,
    email,
    emailDigest,
    callbackUrl: 'https://app.example.com/callback',
    sentAtMillis: T0,
    expiresAtMillis: EXPIRES_AT,
    ...overrides,
  };
}

const sentEventData = sentData();
const sent: DomainEvent = { type: 'SignInCodeSent', data: sentEventData };
const guessedWrong = (wrongGuesses: number, atMillis = T0 + wrongGuesses): DomainEvent => ({
  type: 'SignInCodeGuessedWrong',
  data: { projectId, nonceDigest, wrongGuesses, atMillis, codeExpiresAtMillis: EXPIRES_AT },
});
const locked = (atMillis = T0 + 100): DomainEvent => ({
  type: 'SignInCodeLocked',
  data: { projectId, nonceDigest, reason: 'too-many-wrong-guesses', atMillis, codeExpiresAtMillis: EXPIRES_AT },
});
const used = (usedAtMillis = T0 + 200, usedSessionId = sessionId): DomainEvent => ({
  type: 'SignInCodeUsed',
  data: { projectId, nonceDigest, sessionId: usedSessionId, usedAtMillis, codeExpiresAtMillis: EXPIRES_AT },
});
const lockedHistory = (): DomainEvent[] => [sent, ...Array.from({ length: MAX_WRONG_GUESSES_PER_CODE }, (_, i) => guessedWrong(i + 1)), locked()];

const guessAt = (history: readonly DomainEvent[], nowMs: number, project = projectId, emailBudgetSpent = false) =>
  code.given(history).when({ type: 'RecordWrongGuess', projectId: project, nowMs, emailBudgetSpent }).events();
const useAt = (history: readonly DomainEvent[], nowMs: number, options: { project?: string; session?: string } = {}) =>
  code.given(history).when({
    type: 'UseSignInCode',
    projectId: options.project ?? projectId,
    sessionId: options.session ?? sessionId,
    nowMs,
  }).events();


// --- SendSignInCode ---

test('SendSignInCode on a fresh stream decides exactly one SignInCodeSent carrying the command data', () => {
  const data = sentData({ sentAtMillis: T0 + 7, expiresAtMillis: T0 + 7 + LIFETIME_MS });
  code.given([]).when({ type: 'SendSignInCode', data }).then([{ type: 'SignInCodeSent', data }]);
});

test('a second SendSignInCode on the same stream throws a bug error, not a KnownError', () => {
  code.given([sent]).when({ type: 'SendSignInCode', data: sentData() }).thenFails(/exists already/);
});

test('a second SendSignInCode is refused after a lock and after a use too', () => {
  code.given(lockedHistory()).when({ type: 'SendSignInCode', data: sentData() }).thenFails(/exists already/);
  code.given([sent, used()]).when({ type: 'SendSignInCode', data: sentData() }).thenFails(/exists already/);
});

// --- RecordWrongGuess ---

test('a wrong guess on a live code decides one SignInCodeGuessedWrong counting it, with the time and the code expiry', () => {
  assert.equal(guessAt([sent], T0 + 500), [
    { type: 'SignInCodeGuessedWrong', data: { projectId, nonceDigest, wrongGuesses: 1, atMillis: T0 + 500, codeExpiresAtMillis: EXPIRES_AT } },
  ]);
});

test('wrong guesses count 1, 2, 3, 4 without a lock, and the fifth also locks the code in the same decision', () => {
  const history: DomainEvent[] = [sent];
  for (let n = 1; n < MAX_WRONG_GUESSES_PER_CODE; n++) {
    const events = guessAt(history, T0 + n);
    assert.equal(events, [guessedWrong(n)]);
    history.push(...events);
    assert.is(code.given(history).state.status, 'live');
    assert.is(code.given(history).state.wrongGuesses, n);
  }
  const fifth = guessAt(history, T0 + 50);
  assert.equal(fifth, [
    { type: 'SignInCodeGuessedWrong', data: { projectId, nonceDigest, wrongGuesses: 5, atMillis: T0 + 50, codeExpiresAtMillis: EXPIRES_AT } },
    { type: 'SignInCodeLocked', data: { projectId, nonceDigest, reason: 'too-many-wrong-guesses', atMillis: T0 + 50, codeExpiresAtMillis: EXPIRES_AT } },
  ]);
  history.push(...fifth);
  assert.is(code.given(history).state.status, 'locked');
  assert.is(code.given(history).state.wrongGuesses, 5);
});

test('a code is locked by its fifth wrong guess', () => {
  assert.is(MAX_WRONG_GUESSES_PER_CODE, 5);
});

test('a wrong guess on a locked code records nothing', () => {
  assert.equal(guessAt(lockedHistory(), T0 + 300), []);
});

test('a wrong guess on an unknown code records nothing', () => {
  assert.equal(guessAt([], T0), []);
});

test('a wrong guess on a used code records nothing', () => {
  assert.equal(guessAt([sent, used()], T0 + 300), []);
  assert.equal(guessAt([sent, guessedWrong(1), used()], T0 + 300), []);
});

test('a wrong guess on a code of another project records nothing', () => {
  assert.equal(guessAt([sent], T0 + 300, otherProjectId), []);
});

test('a wrong guess one ms before expiry is recorded, at or after expiry records nothing', () => {
  assert.is(guessAt([sent], EXPIRES_AT - 1).length, 1);
  assert.equal(guessAt([sent], EXPIRES_AT), []);
  assert.equal(guessAt([sent], EXPIRES_AT + 60_000), []);
  assert.equal(guessAt([sent, guessedWrong(1), guessedWrong(2), guessedWrong(3), guessedWrong(4)], EXPIRES_AT), []);
});

// --- UseSignInCode ---

test('using a live code of the same project before expiry decides one SignInCodeUsed with the session, time and code expiry', () => {
  assert.equal(useAt([sent], T0 + 3000), [
    { type: 'SignInCodeUsed', data: { projectId, nonceDigest, sessionId, usedAtMillis: T0 + 3000, codeExpiresAtMillis: EXPIRES_AT } },
  ]);
});

test('a live code with fewer than five wrong guesses can still be used', () => {
  const history = [sent, guessedWrong(1), guessedWrong(2), guessedWrong(3), guessedWrong(4)];
  assert.is(useAt(history, T0 + 3000).length, 1);
});

test('using an unknown code is VERIFICATION_CODE_NOT_FOUND', () => {
  throwsKnown(() => useAt([], T0), 'VERIFICATION_CODE_NOT_FOUND');
});

test('using a code of another project is VERIFICATION_CODE_NOT_FOUND, whatever its status', () => {
  throwsKnown(() => useAt([sent], T0 + 1, { project: otherProjectId }), 'VERIFICATION_CODE_NOT_FOUND');
  throwsKnown(() => useAt([sent, used()], T0 + 300, { project: otherProjectId }), 'VERIFICATION_CODE_NOT_FOUND');
  throwsKnown(() => useAt(lockedHistory(), T0 + 300, { project: otherProjectId }), 'VERIFICATION_CODE_NOT_FOUND');
});

test('using a used code is VERIFICATION_CODE_ALREADY_USED', () => {
  throwsKnown(() => useAt([sent, used()], T0 + 300), 'VERIFICATION_CODE_ALREADY_USED');
});

test('using a locked code is VERIFICATION_CODE_MAX_ATTEMPTS_REACHED', () => {
  throwsKnown(() => useAt(lockedHistory(), T0 + 300), 'VERIFICATION_CODE_MAX_ATTEMPTS_REACHED');
});

test('while the email\'s budget is spent, the first wrong guess locks the code; the right code of a live one still decides its use', () => {
  assert.equal(guessAt([sent], T0 + 500, projectId, true), [
    { type: 'SignInCodeGuessedWrong', data: { projectId, nonceDigest, wrongGuesses: 1, atMillis: T0 + 500, codeExpiresAtMillis: EXPIRES_AT } },
    { type: 'SignInCodeLocked', data: { projectId, nonceDigest, reason: 'too-many-wrong-guesses', atMillis: T0 + 500, codeExpiresAtMillis: EXPIRES_AT } },
  ]);
  assert.is(useAt([sent], T0 + 300).length, 1, 'a use is never refused for the email\'s budget');
});

test('using a code one ms before expiry works, at or after expiry is VERIFICATION_CODE_EXPIRED', () => {
  assert.is(useAt([sent], EXPIRES_AT - 1).length, 1);
  throwsKnown(() => useAt([sent], EXPIRES_AT), 'VERIFICATION_CODE_EXPIRED');
  throwsKnown(() => useAt([sent], EXPIRES_AT + 60_000), 'VERIFICATION_CODE_EXPIRED');
});

test('a used code is ALREADY_USED before anything else: lock or expiry', () => {
  throwsKnown(() => useAt([sent, used()], EXPIRES_AT), 'VERIFICATION_CODE_ALREADY_USED');
  throwsKnown(() => useAt([...lockedHistory(), used()], EXPIRES_AT), 'VERIFICATION_CODE_ALREADY_USED');
});

test('a locked code is MAX_ATTEMPTS_REACHED before expiry is considered', () => {
  throwsKnown(() => useAt(lockedHistory(), EXPIRES_AT), 'VERIFICATION_CODE_MAX_ATTEMPTS_REACHED');
});

test('a code is used exactly once: after a use, another use is ALREADY_USED', () => {
  const history: DomainEvent[] = [sent];
  const first = useAt(history, T0 + 3000);
  assert.is(first.length, 1);
  history.push(...first);
  throwsKnown(() => useAt(history, T0 + 3001, { session: randomUUID() }), 'VERIFICATION_CODE_ALREADY_USED');
});

// --- evolve / isSignInCodeExpired ---

test('the initial state is none, empty, with no wrong guesses', () => {
  assert.equal(code.given([]).state, {
    status: 'none',
    projectId: '',
    nonceDigest: '',
    codeDigest: '',
    email: '',
    emailDigest: '',
    expiresAtMillis: 0,
    wrongGuesses: 0,
  });
});

test('evolve moves none → live carrying the code, then counts wrong guesses, then → locked or → used', () => {
  const live = code.given([sent]).state;
  assert.equal(live, {
    status: 'live',
    projectId,
    nonceDigest,
    codeDigest: sentEventData.codeDigest,
    email,
    emailDigest,
    expiresAtMillis: EXPIRES_AT,
    wrongGuesses: 0,
  });
  const guessed = code.given([sent, guessedWrong(1), guessedWrong(2)]).state;
  assert.equal(guessed, { ...live, wrongGuesses: 2 });
  assert.equal(code.given(lockedHistory()).state, { ...live, status: 'locked', wrongGuesses: 5 });
  assert.equal(code.given([sent, guessedWrong(1), used()]).state, { ...live, status: 'used', wrongGuesses: 1 });
});

test('evolve leaves the code state unchanged on unrelated events', () => {
  const unrelated: DomainEvent[] = [
    { type: 'SignInEmailGuessedWrong', data: { projectId, emailDigest, nonceDigest, atMillis: T0 + 1 } },
    { type: 'CliLoginCodeReserved', data: { projectId, cliAuthId: randomUUID(), expiresAtMillis: EXPIRES_AT } },
  ];
  for (const history of [[], [sent], [sent, guessedWrong(1)], lockedHistory(), [sent, used()]] as DomainEvent[][]) {
    const before = code.given(history).state;
    for (const event of unrelated) assert.is(signInCodeDecider.evolve(before, event), before);
  }
});

test('isSignInCodeExpired is false before expiresAtMillis and true at and after it', () => {
  const state = code.given([sent]).state;
  assert.is(isSignInCodeExpired(state, EXPIRES_AT - 1), false);
  assert.is(isSignInCodeExpired(state, EXPIRES_AT), true);
  assert.is(isSignInCodeExpired(state, EXPIRES_AT + 1), true);
});

// --- signInEmailDecider / isEmailLocked ---

const emailGuess = (atMillis: number, nonce = nonceDigest): DomainEvent => ({
  type: 'SignInEmailGuessedWrong',
  data: { projectId, emailDigest, nonceDigest: nonce, atMillis },
});
/** `count` wrong guesses one second apart, the first at `firstAt`. */
const guessesFrom = (firstAt: number, count: number): DomainEvent[] => Array.from({ length: count }, (_, i) => emailGuess(firstAt + i * 1000));
const emailCommand = (nowMs: number, nonce = nonceDigest): SignInEmailCommand => ({ type: 'RecordEmailWrongGuess', projectId, emailDigest, nonceDigest: nonce, nowMs });

test('an email is locked by twenty wrong guesses within an hour', () => {
  assert.is(MAX_WRONG_GUESSES_PER_EMAIL, 20);
  assert.is(EMAIL_GUESS_WINDOW_MS, 3_600_000);
});

test('the initial email state has no recent wrong guesses and is not locked', () => {
  const state = emailBudget.given([]).state;
  assert.equal(state, { recentWrongGuessesAt: [] });
  assert.is(isEmailLocked(state, T0), false);
});

test('an email with nineteen recent wrong guesses is not locked', () => {
  const state = emailBudget.given(guessesFrom(T0, MAX_WRONG_GUESSES_PER_EMAIL - 1)).state;
  assert.is(isEmailLocked(state, T0 + 60_000), false);
});

test('an email with twenty wrong guesses within the window is locked', () => {
  const state = emailBudget.given(guessesFrom(T0, MAX_WRONG_GUESSES_PER_EMAIL)).state;
  const last = T0 + (MAX_WRONG_GUESSES_PER_EMAIL - 1) * 1000;
  assert.is(isEmailLocked(state, last), true);
  assert.is(isEmailLocked(state, T0 + EMAIL_GUESS_WINDOW_MS - 1), true);
});

test('the email lock lifts once the oldest of the twenty is a full window old (a guess at exactly now - window no longer counts)', () => {
  const state = emailBudget.given(guessesFrom(T0, MAX_WRONG_GUESSES_PER_EMAIL)).state;
  assert.is(isEmailLocked(state, T0 + EMAIL_GUESS_WINDOW_MS - 1), true);
  assert.is(isEmailLocked(state, T0 + EMAIL_GUESS_WINDOW_MS), false);
  assert.is(isEmailLocked(state, T0 + EMAIL_GUESS_WINDOW_MS + 1), false);
});

test('with more than twenty guesses, the lock lasts until the oldest of the last twenty is a window old', () => {
  // 25 guesses one second apart: the last twenty start at T0 + 5s.
  const state = emailBudget.given(guessesFrom(T0, MAX_WRONG_GUESSES_PER_EMAIL + 5)).state;
  assert.is(isEmailLocked(state, T0 + EMAIL_GUESS_WINDOW_MS), true);
  assert.is(isEmailLocked(state, T0 + 5000 + EMAIL_GUESS_WINDOW_MS - 1), true);
  assert.is(isEmailLocked(state, T0 + 5000 + EMAIL_GUESS_WINDOW_MS), false);
});

test('twenty wrong guesses spread over more than the window do not lock the email', () => {
  // One guess every four minutes: the twentieth comes 76 minutes after the first.
  const history = Array.from({ length: MAX_WRONG_GUESSES_PER_EMAIL }, (_, i) => emailGuess(T0 + i * 4 * 60_000));
  assert.is(isEmailLocked(emailBudget.given(history).state, T0 + 19 * 4 * 60_000), false);
});

test('evolve records each wrong guess time in order and keeps only the last twenty', () => {
  assert.equal(emailBudget.given([emailGuess(T0), emailGuess(T0 + 5)]).state, { recentWrongGuessesAt: [T0, T0 + 5] });
  const state = emailBudget.given(guessesFrom(T0, MAX_WRONG_GUESSES_PER_EMAIL + 5)).state;
  assert.is(state.recentWrongGuessesAt.length, MAX_WRONG_GUESSES_PER_EMAIL);
  assert.equal(
    state.recentWrongGuessesAt,
    Array.from({ length: MAX_WRONG_GUESSES_PER_EMAIL }, (_, i) => T0 + (i + 5) * 1000),
  );
});

test('guesses against different codes of the email count in one budget', () => {
  const history = Array.from({ length: MAX_WRONG_GUESSES_PER_EMAIL }, (_, i) => emailGuess(T0 + i, `nonce-${i % 4}`));
  assert.is(isEmailLocked(emailBudget.given(history).state, T0 + 100), true);
});

test('the email state ignores unrelated events', () => {
  const before = emailBudget.given(guessesFrom(T0, 3)).state;
  for (const event of [sent, guessedWrong(1), locked(), used()]) assert.is(signInEmailDecider.evolve(before, event), before);
  assert.equal(emailBudget.given([sent, guessedWrong(1), locked()]).state, { recentWrongGuessesAt: [] });
});

test('RecordEmailWrongGuess always decides one SignInEmailGuessedWrong with the command fields, locked or not', () => {
  const other = `nonce-${randomUUID()}`;
  const expected: DomainEvent[] = [{ type: 'SignInEmailGuessedWrong', data: { projectId, emailDigest, nonceDigest: other, atMillis: T0 + 42 } }];
  emailBudget.given([]).when(emailCommand(T0 + 42, other)).then(expected);
  const full = emailBudget.given(guessesFrom(T0, MAX_WRONG_GUESSES_PER_EMAIL));
  assert.is(isEmailLocked(full.state, T0 + 42), true);
  full.when(emailCommand(T0 + 42, other)).then(expected);
});

test('a recorded email guess counts towards the lock', () => {
  const history = guessesFrom(T0, MAX_WRONG_GUESSES_PER_EMAIL - 1);
  const now = T0 + 60_000;
  assert.is(isEmailLocked(emailBudget.given(history).state, now), false);
  const events = emailBudget.given(history).when(emailCommand(now)).events();
  assert.is(isEmailLocked(emailBudget.given([...history, ...events]).state, now), true);
});

test.run();
