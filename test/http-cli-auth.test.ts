// CLI login end to end (issue #4): initiate, complete, poll, exactly-once claims and completions,
// expiry, guess limits, and the CLI's session independent of the approving one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAdjustableClock } from '../src/clock.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { RATE_LIMIT_DEFAULTS, type RateLimitOverrides } from '../src/rate-limit-catalogue.ts';
import { changeProject } from '../src/commands/project/change-project.ts';
import { systemOrigin } from '../src/app-context.ts';
import { findCliAuthByLoginCode } from '../src/commands/cli-auth/complete-cli-auth.ts';
import { denyCliAuth } from '../src/commands/cli-auth/deny-cli-auth.ts';
import { initiateCliAuth } from '../src/commands/cli-auth/initiate-cli-auth.ts';
import { findSessionByRefreshDigest } from '../src/projections/session-projection.ts';

const { limit: LOGIN_CODE_GUESSES_PER_ADDRESS, windowMs: LOGIN_CODE_GUESS_WINDOW_MS } = RATE_LIMIT_DEFAULTS['login-code-guesses-per-address'];
import { clientHeaders, serverHeaders, startTestService, type ApiResponse, type TestService } from './support/service.ts';

// Frozen, moved only by the tests: expiry boundaries are exact.
const frozenAt = Date.now();
const clock = createAdjustableClock(() => frozenAt);
let service: TestService;
let project: CreatedProject;

test.before(async () => {
  service = await startTestService({}, { clock: clock.now });
  project = await service.createProject('cli');
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

function assertError(res: ApiResponse, status: number, code: string): void {
  assert.is(res.status, status, res.text);
  assert.is(res.json?.code, code, res.text);
  assert.is(res.headers.get('x-stack-known-error'), code);
}

const initiate = (body?: unknown, headers = clientHeaders(project)) => service.request('POST', '/api/v1/auth/cli', { headers, body });
const poll = (pollingCode: string) => service.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: pollingCode } });
const complete = (loginCode: string, refreshToken: string, headers = clientHeaders(project)) =>
  service.request('POST', '/api/v1/auth/cli/complete', { headers, body: { login_code: loginCode, refresh_token: refreshToken } });

/** A user signed in in a browser: their session's tokens. */
async function browserUser(): Promise<{ userId: string; refresh_token: string; access_token: string }> {
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
  const session = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } });
  assert.is(session.status, 200, session.text);
  return { userId: user.json.id, ...session.json };
}

const accessTokenUser = async (accessToken: string) => (await service.app.tokens.verify(accessToken, clock.now()))?.userId;

test('initiate with a server key, a client key, and no body → codes of the documented shapes, 15 min ahead', async () => {
  for (const headers of [serverHeaders(project), clientHeaders(project)]) {
    const res = await initiate(undefined, headers);
    assert.is(res.status, 200, res.text);
    assert.equal(Object.keys(res.json).sort(), ['expires_at', 'login_code', 'polling_code']);
    assert.match(res.json.polling_code, /^poll_[0-9a-z]{40}$/);
    assert.match(res.json.login_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.is(Date.parse(res.json.expires_at), clock.now() + 15 * 60_000);
    assert.is(res.json.expires_at, new Date(clock.now() + 15 * 60_000).toISOString());
  }
  const thirty = await initiate({ expires_in_millis: 30 * 60_000 });
  assert.is(Date.parse(thirty.json.expires_at), clock.now() + 30 * 60_000);
  const before = await service.app.store.headPosition();
  const tooLong = await initiate({ expires_in_millis: 3_600_001 });
  assertError(tooLong, 400, 'SCHEMA_ERROR');
  assert.match(tooLong.json.error, '  - body.expires_in_millis must be less than or equal to 3600000');
  assertError(await initiate({ expires_in_millis: 999 }), 400, 'SCHEMA_ERROR');
  assert.is(await service.app.store.headPosition(), before);
});

test('poll 201 pending; complete 200 {}; poll 200 completed with an rt_ token of the approving user; then 200 used', async () => {
  const browser = await browserUser();
  const started = (await initiate()).json;
  const pending = await poll(started.polling_code);
  assert.equal([pending.status, pending.json], [201, { status: 'pending' }]);
  const done = await complete(started.login_code, browser.refresh_token);
  assert.equal([done.status, done.json], [200, {}]);
  const claimed = await poll(started.polling_code);
  assert.is(claimed.status, 200, claimed.text);
  assert.is(claimed.json.status, 'completed');
  assert.match(claimed.json.refresh_token, /^rt_[0-9a-z]{48}$/);
  assert.is.not(claimed.json.refresh_token, browser.refresh_token, 'the CLI gets a session of its own');
  const refreshed = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': claimed.json.refresh_token } });
  assert.is(refreshed.status, 200, refreshed.text);
  assert.is(await accessTokenUser(refreshed.json.access_token), browser.userId);
  const again = await poll(started.polling_code);
  assert.equal([again.status, again.json], [200, { status: 'used' }]);
});

test('the login code is accepted in any case, with or without its dash, and with an access token', async () => {
  const browser = await browserUser();
  const started = (await initiate()).json;
  const typed = ` ${started.login_code.toLowerCase().replace('-', ' ')} `;
  const res = await service.request('POST', '/api/v1/auth/cli/complete', {
    headers: { ...clientHeaders(project), 'x-stack-access-token': browser.access_token },
    body: { login_code: typed },
  });
  assert.is(res.status, 200, res.text);
  assert.is((await poll(started.polling_code)).json.status, 'completed');
});

test('complete with no user credential → 400 USER_AUTHENTICATION_REQUIRED; a dead refresh token → 401', async () => {
  const started = (await initiate()).json;
  const res = await service.request('POST', '/api/v1/auth/cli/complete', { headers: serverHeaders(project), body: { login_code: started.login_code } });
  assertError(res, 400, 'USER_AUTHENTICATION_REQUIRED');
  assertError(await complete(started.login_code, 'rt_' + 'a'.repeat(48)), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  assert.is((await poll(started.polling_code)).status, 201, 'still pending');
});

test('50 concurrent polls on a completed attempt → exactly one response carries a token', async () => {
  const browser = await browserUser();
  const started = (await initiate()).json;
  assert.is((await complete(started.login_code, browser.refresh_token)).status, 200);
  const results = await Promise.all(Array.from({ length: 50 }, () => poll(started.polling_code)));
  const withToken = results.filter((r) => r.json.refresh_token !== undefined);
  assert.is(withToken.length, 1, results.map((r) => `${r.status} ${r.json.status}`).join(', '));
  for (const r of results) {
    // The rest hear `used`, or are turned away for polling too fast (15 per 10 s per code).
    if (r.status === 429) assert.is(r.json.code, 'RATE_LIMITED');
    else assert.ok(r.status === 200 && (r.json.status === 'completed' || r.json.status === 'used'), r.text);
  }
  let sessions = 0;
  for await (const e of service.app.store.readAll({ filter: { eventTypes: ['SessionCreated'] } })) {
    if ((e.data as { via: string; userId: string }).via === 'cli-login' && (e.data as { userId: string }).userId === browser.userId) sessions++;
  }
  assert.is(sessions, 1, 'one session minted, not one per poll');
});

test('complete twice → INVALID_LOGIN_CODE; 10 concurrent completes by different users → exactly one wins; unknown code → 400', async () => {
  const first = await browserUser();
  const started = (await initiate()).json;
  assert.is((await complete(started.login_code, first.refresh_token)).status, 200);
  assertError(await complete(started.login_code, first.refresh_token), 400, 'INVALID_LOGIN_CODE');

  const users = await Promise.all(Array.from({ length: 10 }, browserUser));
  const contested = (await initiate()).json;
  const results = await Promise.all(users.map((u) => complete(contested.login_code, u.refresh_token)));
  assert.is(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.status).join(','));
  for (const r of results.filter((x) => x.status !== 200)) assertError(r, 400, 'INVALID_LOGIN_CODE');
  const winner = users[results.findIndex((r) => r.status === 200)]!;
  const claimed = await poll(contested.polling_code);
  const access = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': claimed.json.refresh_token } });
  assert.is(await accessTokenUser(access.json.access_token), winner.userId, 'the CLI is logged in as the one approver');

  const unknown = await complete('BCDF-GHJK', first.refresh_token);
  assertError(unknown, 400, 'INVALID_LOGIN_CODE');
  assert.is(unknown.json.error, 'Invalid login code or the code has expired');
});

test('expired (1 s, then 1.5 s later) → poll 200 expired, complete 400 INVALID_LOGIN_CODE', async () => {
  const browser = await browserUser();
  const started = (await initiate({ expires_in_millis: 1000 })).json;
  clock.advance(1500);
  assert.equal(await poll(started.polling_code).then((r) => [r.status, r.json]), [200, { status: 'expired' }]);
  assertError(await complete(started.login_code, browser.refresh_token), 400, 'INVALID_LOGIN_CODE');
  // Completed in time but claimed too late: expired too.
  const late = (await initiate({ expires_in_millis: 1000 })).json;
  assert.is((await complete(late.login_code, browser.refresh_token)).status, 200);
  clock.advance(1000);
  assert.equal((await poll(late.polling_code)).json, { status: 'expired' });
});

test('denied on the approval page → poll 200 denied, every time; the code can no longer be completed', async () => {
  const browser = await browserUser();
  const started = (await initiate()).json;
  assert.is((await poll(started.polling_code)).status, 201);
  const cliAuthId = await findCliAuthByLoginCode(service.app, project.project_id, started.login_code);
  const session = await findSessionByRefreshDigest(service.app.readModel, project.project_id, service.app.hasher.digest('refresh-token', browser.refresh_token));
  assert.ok(cliAuthId && session);
  await denyCliAuth(service.app, project.project_id, cliAuthId, { userId: browser.userId, sessionId: session.id }, { actor: { kind: 'user', id: browser.userId } });
  assert.equal(await poll(started.polling_code).then((r) => [r.status, r.json]), [200, { status: 'denied' }]);
  assertError(await complete(started.login_code, browser.refresh_token), 400, 'INVALID_LOGIN_CODE');
  assert.equal(await poll(started.polling_code).then((r) => [r.status, r.json]), [200, { status: 'denied' }]);
  const denials = (await service.app.store.readStream(`cliAuth-${cliAuthId}`)).filter((e) => e.type === 'CliAuthDenied');
  assert.is(denials.length, 1);
  assert.equal(denials[0]?.data, {
    cliAuthId,
    projectId: project.project_id,
    userId: browser.userId,
    denyingSessionId: session.id,
    deniedAtMillis: clock.now(),
    attemptExpiresAtMillis: Date.parse(started.expires_at),
  });
});

test('a project\'s own rate limits override the defaults (set-rate-limit), and back', async () => {
  clock.advance(LOGIN_CODE_GUESS_WINDOW_MS);
  const browser = await browserUser();
  const set = async (rateLimits: RateLimitOverrides) => {
    const changed = await changeProject(service.app, { type: 'SetRateLimits', projectId: project.project_id, rateLimits }, systemOrigin('test'));
    if (changed.position !== undefined) await service.app.projections.waitFor(changed.position, 2000);
  };
  await set({ 'login-code-guesses-per-address': { limit: 2, windowMs: 60_000 } });
  for (let i = 0; i < 2; i++) assertError(await complete('ZZZZ-ZZZZ', browser.refresh_token), 400, 'INVALID_LOGIN_CODE');
  const limited = await complete('ZZZZ-ZZZZ', browser.refresh_token);
  assertError(limited, 429, 'RATE_LIMITED');
  assert.ok(Number(limited.headers.get('retry-after')) <= 60, 'the project\'s window, not the default 10 minutes');
  await set({});
  assertError(await complete('ZZZZ-ZZZZ', browser.refresh_token), 400, 'INVALID_LOGIN_CODE');
});

test('a CLI polling once a second never meets the poll limit; one hammering a code gets 429 with retry-after', async () => {
  const started = (await initiate({ expires_in_millis: 3_600_000 })).json;
  for (let i = 0; i < 40; i++) {
    const res = await poll(started.polling_code);
    assert.is(res.status, 201, `poll ${i}: ${res.text}`);
    clock.advance(1000);
  }
  const burst = [];
  for (let i = 0; i < 16; i++) burst.push(await poll(started.polling_code));
  assert.ok(burst.slice(0, 5).every((r) => r.status === 201), 'the window had room left');
  const limited = burst.at(-1)!;
  assertError(limited, 429, 'RATE_LIMITED');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
});

test('an unknown polling code → 400 INVALID_POLLING_CODE with the known-error header', async () => {
  const res = await poll('poll_' + '0'.repeat(40));
  assertError(res, 400, 'INVALID_POLLING_CODE');
  assert.is(res.json.error, 'The polling code is invalid or does not exist.');
  assertError(await service.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: {} }), 400, 'SCHEMA_ERROR');
});

test('revoking the CLI\'s session leaves the browser session working, and the reverse', async () => {
  const login = async () => {
    const browser = await browserUser();
    const started = (await initiate()).json;
    await complete(started.login_code, browser.refresh_token);
    const cli = (await poll(started.polling_code)).json.refresh_token as string;
    const cliAccess = (await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': cli } })).json.access_token as string;
    return { browser, cli, cliAccess };
  };
  const refresh = (token: string) => service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': token } });
  const signOut = (accessToken: string) => service.request('DELETE', '/api/v1/auth/sessions/current', { headers: { ...clientHeaders(project), 'x-stack-access-token': accessToken } });

  const one = await login();
  assert.is((await signOut(one.cliAccess)).status, 200);
  assert.is((await refresh(one.cli)).status, 401);
  assert.is((await refresh(one.browser.refresh_token)).status, 200, 'the browser session still works');

  const two = await login();
  assert.is((await signOut(two.browser.access_token)).status, 200);
  assert.is((await refresh(two.browser.refresh_token)).status, 401);
  assert.is((await refresh(two.cli)).status, 200, 'the CLI session still works');
});

test('a CLI login approved from an impersonation session is an impersonation session of the same actor', async () => {
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
  const impersonation = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id, is_impersonation: true } });
  const actor = (await service.app.tokens.verify(impersonation.json.access_token, clock.now()))?.actorSub;
  assert.match(String(actor), /^server-key:/);
  const started = (await initiate()).json;
  assert.is((await complete(started.login_code, impersonation.json.refresh_token)).status, 200);
  const cli = (await poll(started.polling_code)).json.refresh_token as string;
  const access = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': cli } });
  const verified = await service.app.tokens.verify(access.json.access_token, clock.now());
  assert.is(verified?.userId, user.json.id);
  assert.is(verified?.actorSub, actor, 'the CLI token names the impersonator too');
  const listed = await service.request('GET', `/api/v1/auth/sessions?user_id=${user.json.id}`, { headers: serverHeaders(project) });
  assert.equal(listed.json.items, [], 'both sessions are impersonation sessions, hidden from server access');
});

test('failed login-code guesses are limited per address (429 with retry-after); the owner\'s own code still works first', async () => {
  clock.advance(LOGIN_CODE_GUESS_WINDOW_MS); // a fresh window: earlier tests guessed too
  const browser = await browserUser();
  const mine = (await initiate()).json;
  assert.is((await complete(mine.login_code, browser.refresh_token)).status, 200, 'a person typing their own code meets no limit');
  for (let i = 0; i < LOGIN_CODE_GUESSES_PER_ADDRESS; i++) assertError(await complete('ZZZZ-ZZZZ', browser.refresh_token), 400, 'INVALID_LOGIN_CODE');
  const limited = await complete('ZZZZ-ZZZZ', browser.refresh_token);
  assertError(limited, 429, 'RATE_LIMITED');
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 600, `retry-after ${retryAfter}`);
  const next = (await initiate()).json;
  assertError(await complete(next.login_code, browser.refresh_token), 429, 'RATE_LIMITED');
  clock.advance(retryAfter * 1000);
  assert.is((await complete(next.login_code, browser.refresh_token)).status, 200, 'the window passed');
});

test('concurrent wrong login-code guesses cannot overshoot the limit: of 3× the limit at once, exactly the limit are answered', async () => {
  clock.advance(LOGIN_CODE_GUESS_WINDOW_MS);
  const browser = await browserUser();
  const answers = await Promise.all(
    Array.from({ length: 3 * LOGIN_CODE_GUESSES_PER_ADDRESS }, () => complete('ZZZZ-ZZZZ', browser.refresh_token)),
  );
  const wrong = answers.filter((r) => r.status === 400 && r.json?.code === 'INVALID_LOGIN_CODE').length;
  const limited = answers.filter((r) => r.status === 429 && r.json?.code === 'RATE_LIMITED').length;
  console.log(`  # concurrent login-code guesses: ${answers.length} sent, ${wrong} answered as guesses, ${limited} rate limited`);
  assert.is(wrong, LOGIN_CODE_GUESSES_PER_ADDRESS, 'exactly the limit were let through to guess');
  assert.is(limited, answers.length - LOGIN_CODE_GUESSES_PER_ADDRESS);
  // The units taken by refused requests were given back: once the window passes, the budget is whole.
  clock.advance(LOGIN_CODE_GUESS_WINDOW_MS);
  for (let i = 0; i < LOGIN_CODE_GUESSES_PER_ADDRESS; i++) assertError(await complete('ZZZZ-ZZZZ', browser.refresh_token), 400, 'INVALID_LOGIN_CODE');
  assertError(await complete('ZZZZ-ZZZZ', browser.refresh_token), 429, 'RATE_LIMITED');
});

test('a login code that clashes with a live attempt\'s is drawn again: the code names the first attempt still, and the attempt written for the clashing draw is reachable by nothing', async () => {
  const draws = ['BCDF-GHJK', 'BCDF-GHJK', 'LMNP-QRST'];
  const drawLoginCode = () => draws.shift() ?? 'VWXZ-BCDF';
  const first = await initiateCliAuth(service.app, project.project_id, 60_000, systemOrigin('login-code-clash-test'), undefined, drawLoginCode);
  const before = await service.app.store.headPosition();
  const second = await initiateCliAuth(service.app, project.project_id, 60_000, systemOrigin('login-code-clash-test'), undefined, drawLoginCode);
  assert.is(first.loginCode, 'BCDF-GHJK');
  assert.is(second.loginCode, 'LMNP-QRST', 'the clashing code was drawn again');
  assert.is(await findCliAuthByLoginCode(service.app, project.project_id, 'BCDF-GHJK'), first.cliAuthId, 'the taken code still names the first attempt');
  assert.is(await findCliAuthByLoginCode(service.app, project.project_id, 'LMNP-QRST'), second.cliAuthId);
  // The draw that clashed left one attempt in the log, under neither code and with a polling code nobody was given.
  const initiated: string[] = [];
  for await (const e of service.app.store.readAll({ fromPosition: before })) if (e.type === 'CliAuthInitiated') initiated.push((e.data as { cliAuthId: string }).cliAuthId);
  assert.is(initiated.length, 2);
  assert.ok(initiated.includes(second.cliAuthId));
  const orphan = initiated.find((id) => id !== second.cliAuthId);
  assert.ok(orphan !== first.cliAuthId && orphan !== undefined);
  assert.is((await poll(second.pollingCode)).json?.status, 'pending');
});

test.run();
