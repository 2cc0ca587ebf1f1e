// Anonymous users and the CLI login that starts as one (issue #24), end to end, as upstream's
// e2e tests (auth/anonymous, auth/cli/complete) and handlers describe them: sign-up, the
// anonymous token's own audience and JWKS keys, anon_refresh_token, cli/complete's modes check
// and claim-anon-session, and the attacks on them that must not work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeJwt } from 'jose';
import { createAdjustableClock } from '../src/clock.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { changeProject } from '../src/commands/project/change-project.ts';
import { systemOrigin } from '../src/app-context.ts';
import { RATE_LIMIT_DEFAULTS } from '../src/rate-limit-catalogue.ts';
import { clientHeaders, serverHeaders, startTestService, storedLog, type TestService } from './support/service.ts';
import { assertKnownError } from './support/assert-known-error.ts';

const frozenAt = Date.now();
const clock = createAdjustableClock(() => frozenAt);
let service: TestService;
let project: CreatedProject;
let otherProject: CreatedProject;
const handedOut: string[] = [];

test.before(async () => {
  service = await startTestService({}, { clock: clock.now });
  project = await service.createProject('anonymous');
  otherProject = await service.createProject('anonymous-other');
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

const allowAnonymous = { 'x-stack-allow-anonymous-user': 'true' };
const withToken = (accessToken: string, p = project) => ({ ...clientHeaders(p), ...allowAnonymous, 'x-stack-access-token': accessToken });

async function signUpAnonymously(p = project): Promise<{ user_id: string; access_token: string; refresh_token: string }> {
  const res = await service.request('POST', '/api/v1/auth/anonymous/sign-up', { headers: clientHeaders(p) });
  assert.is(res.status, 200, res.text);
  handedOut.push(res.json.refresh_token);
  return res.json;
}

async function realUser(): Promise<{ userId: string; refresh_token: string; access_token: string }> {
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
  const session = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } });
  assert.is(session.status, 200, session.text);
  return { userId: user.json.id, ...session.json };
}

const initiate = (body: unknown, p = project) => service.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(p), body });
const complete = (body: unknown, headers = clientHeaders(project)) => service.request('POST', '/api/v1/auth/cli/complete', { headers, body });
const poll = (pollingCode: string) => service.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: pollingCode } });

test('anonymous sign-up → 200 {access_token, refresh_token, user_id}; the user is anonymous, with no email', async () => {
  const res = await service.request('POST', '/api/v1/auth/anonymous/sign-up', { headers: clientHeaders(project) });
  assert.is(res.status, 200, res.text);
  assert.equal(Object.keys(res.json).sort(), ['access_token', 'refresh_token', 'user_id']);
  const user = await service.request('GET', `/api/v1/users/${res.json.user_id}`, { headers: serverHeaders(project) });
  assert.is(user.json.is_anonymous, true);
  assert.is(user.json.is_restricted, true);
  assert.equal(user.json.restricted_reason, { type: 'anonymous' });
  assert.is(user.json.primary_email, null);
  const created = [];
  for await (const e of service.app.store.readAll({ filter: { eventTypes: ['UserCreated'] } })) {
    if ((e.data as { userId: string }).userId === res.json.user_id) created.push(e.data);
  }
  assert.is((created[0] as { isAnonymous?: boolean }).isAnonymous, true, 'UserCreated says so');
});

test("an anonymous user's access token has upstream's anonymous audience and issuer, also after a refresh", async () => {
  const anonymous = await signUpAnonymously();
  const claims = decodeJwt(anonymous.access_token);
  assert.is(claims.aud, `${project.project_id}:anon`);
  assert.match(String(claims.iss), /\/api\/v1\/projects-anonymous-users\//);
  assert.is(claims.is_anonymous, true);
  const refreshed = await service.request('POST', '/api/v1/auth/sessions/current/refresh', {
    headers: { ...clientHeaders(project), 'x-stack-refresh-token': anonymous.refresh_token },
  });
  assert.is(refreshed.status, 200, refreshed.text);
  assert.is(decodeJwt(refreshed.json.access_token).aud, `${project.project_id}:anon`, 'refreshing never turns it into a real user’s token');
});

test('an anonymous token counts only with x-stack-allow-anonymous-user: true (else 401 ANONYMOUS_AUTHENTICATION_NOT_ALLOWED)', async () => {
  const anonymous = await signUpAnonymously();
  const bare = { ...clientHeaders(project), 'x-stack-access-token': anonymous.access_token };
  assertKnownError(await service.request('GET', '/api/v1/users/me', { headers: bare }), 401, 'ANONYMOUS_AUTHENTICATION_NOT_ALLOWED');
  assertKnownError(await service.request('GET', '/api/v1/auth/sessions?user_id=me', { headers: bare }), 401, 'ANONYMOUS_AUTHENTICATION_NOT_ALLOWED');
  const me = await service.request('GET', '/api/v1/users/me', { headers: withToken(anonymous.access_token) });
  assert.is(me.status, 200, me.text);
  assert.is(me.json.is_anonymous, true);
});

test("an anonymous user's token is never an admin access token, even of a user made admin", async () => {
  const anonymous = await signUpAnonymously();
  const added = await changeProject(service.app, { type: 'AddAdmin', projectId: project.project_id, userId: anonymous.user_id }, systemOrigin('test'));
  assert.ok(added.position !== undefined && (await service.app.projections.waitFor(added.position, 2000)));
  const res = await service.request('GET', '/api/v1/audit/impersonations', {
    headers: { 'x-stack-project-id': project.project_id, 'x-stack-admin-access-token': anonymous.access_token, ...allowAnonymous },
  });
  assertKnownError(res, 401, 'INVALID_ADMIN_ACCESS_TOKEN');
});

test("the project's JWKS lists the anonymous users' keys only with include_anonymous=true", async () => {
  const jwks = (query = '') => service.request('GET', `/api/v1/projects/${project.project_id}/.well-known/jwks.json${query}`);
  const plain = await jwks();
  const all = await jwks('?include_anonymous=true');
  assert.is(all.json.keys.length, plain.json.keys.length * 2);
  const anonymous = await signUpAnonymously();
  const kid = JSON.parse(Buffer.from(anonymous.access_token.split('.')[0] ?? '', 'base64url').toString()).kid;
  assert.not.ok(plain.json.keys.some((k: { kid: string }) => k.kid === kid));
  assert.ok(all.json.keys.some((k: { kid: string }) => k.kid === kid));
  assert.is((await jwks('?include_restricted=true')).json.keys.length, plain.json.keys.length);
  assert.is(plain.headers.get('cache-control'), 'public, max-age=300');
  assertKnownError(await jwks('?include_anonymous=yes'), 400, 'SCHEMA_ERROR');
});

test('GET /users leaves anonymous users out unless include_anonymous=true (as upstream)', async () => {
  const anonymous = await signUpAnonymously();
  const real = await realUser();
  const ids = async (query: string) => {
    const res = await service.request('GET', `/api/v1/users${query}`, { headers: serverHeaders(project) });
    assert.is(res.status, 200);
    return (res.json as { items: { id: string; is_anonymous: boolean }[] }).items.map((u) => u.id);
  };
  const plain = await ids('');
  assert.ok(plain.includes(real.userId));
  assert.not.ok(plain.includes(anonymous.user_id));
  assert.not.ok((await ids('?include_anonymous=false')).includes(anonymous.user_id));
  const all = await ids('?include_anonymous=true');
  assert.ok(all.includes(anonymous.user_id) && all.includes(real.userId));
});

test('anonymous sign-ups are capped per address (429 past the budget), nothing appended past it', async () => {
  const other = await service.createProject('anonymous-capped');
  const { limit } = RATE_LIMIT_DEFAULTS['anonymous-sign-ups-per-address'];
  for (let i = 0; i < limit; i++) assert.is((await service.request('POST', '/api/v1/auth/anonymous/sign-up', { headers: clientHeaders(other) })).status, 200);
  assertKnownError(await service.request('POST', '/api/v1/auth/anonymous/sign-up', { headers: clientHeaders(other) }), 429, 'RATE_LIMITED');
});

test("upstream's anonymous CLI flow: check says anonymous, claim-anon-session hands a session of that user over once, then check says none and a real user completes", async () => {
  const cli = await signUpAnonymously();
  const started = await initiate({ anon_refresh_token: cli.refresh_token });
  assert.is(started.status, 200, started.text);
  const check = await complete({ login_code: started.json.login_code, mode: 'check' });
  assert.is(check.status, 200, check.text);
  assert.equal(check.json, { cli_session_state: 'anonymous' });

  const claim = await complete({ login_code: started.json.login_code, mode: 'claim-anon-session' });
  assert.is(claim.status, 200, claim.text);
  assert.equal(Object.keys(claim.json).sort(), ['access_token', 'refresh_token']);
  handedOut.push(claim.json.refresh_token);
  assert.is.not(claim.json.refresh_token, cli.refresh_token, 'a new session of the anonymous user, not the CLI’s own token');
  assert.is(decodeJwt(claim.json.access_token).sub, cli.user_id);
  const me = await service.request('GET', '/api/v1/users/me', { headers: withToken(claim.json.access_token) });
  assert.is(me.json.id, cli.user_id);

  assertKnownError(await complete({ login_code: started.json.login_code, mode: 'claim-anon-session' }), 400, 'NO_ANONYMOUS_CLI_SESSION');
  assert.equal((await complete({ login_code: started.json.login_code, mode: 'check' })).json, { cli_session_state: 'none' });

  const person = await realUser();
  const done = await complete({ login_code: started.json.login_code, mode: 'complete', refresh_token: person.refresh_token });
  assert.is(done.status, 200, done.text);
  const polled = await poll(started.json.polling_code);
  assert.is(polled.json.status, 'completed', polled.text);
  const cliUser = await service.app.tokens.verify((await service.request('POST', '/api/v1/auth/sessions/current/refresh', {
    headers: { ...clientHeaders(project), 'x-stack-refresh-token': polled.json.refresh_token },
  })).json.access_token, clock.now());
  assert.is(cliUser?.userId, person.userId, 'the CLI gets the approving person, the anonymous user is not merged');
  // The anonymous user is untouched.
  assert.is((await service.request('GET', `/api/v1/users/${cli.user_id}`, { headers: serverHeaders(project) })).json.is_anonymous, true);
});

test('check on a login without an anonymous session → none; claim → 400 NO_ANONYMOUS_CLI_SESSION; the mode may be omitted or complete', async () => {
  const started = await initiate({});
  assert.equal((await complete({ login_code: started.json.login_code, mode: 'check' })).json, { cli_session_state: 'none' });
  assertKnownError(await complete({ login_code: started.json.login_code, mode: 'claim-anon-session' }), 400, 'NO_ANONYMOUS_CLI_SESSION');
  const person = await realUser();
  const done = await complete({ login_code: started.json.login_code, refresh_token: person.refresh_token });
  assert.is(done.status, 200, done.text);
  assert.equal(done.json, {}, 'the reference page’s answer');
  assertKnownError(await complete({ login_code: started.json.login_code, mode: 'check' }), 400, 'INVALID_LOGIN_CODE');
  assertKnownError(await complete({ login_code: started.json.login_code, mode: 'nonsense' }), 400, 'SCHEMA_ERROR');
});

test('check, claim and complete on an expired code → 400 INVALID_LOGIN_CODE', async () => {
  const cli = await signUpAnonymously();
  const started = await initiate({ expires_in_millis: 1000, anon_refresh_token: cli.refresh_token });
  clock.advance(1500);
  assertKnownError(await complete({ login_code: started.json.login_code, mode: 'check' }), 400, 'INVALID_LOGIN_CODE');
  assertKnownError(await complete({ login_code: started.json.login_code, mode: 'claim-anon-session' }), 400, 'INVALID_LOGIN_CODE');
  assertKnownError(await complete({ login_code: started.json.login_code, refresh_token: (await realUser()).refresh_token }), 400, 'INVALID_LOGIN_CODE');
});

test('anon_refresh_token must be a live refresh token of an anonymous user of this project → else 400 INVALID_ANON_REFRESH_TOKEN', async () => {
  assertKnownError(await initiate({ anon_refresh_token: 'rt_not-a-token' }), 400, 'INVALID_ANON_REFRESH_TOKEN');
  assertKnownError(await initiate({ anon_refresh_token: (await realUser()).refresh_token }), 400, 'INVALID_ANON_REFRESH_TOKEN');
  const elsewhere = await signUpAnonymously(otherProject);
  assertKnownError(await initiate({ anon_refresh_token: elsewhere.refresh_token }), 400, 'INVALID_ANON_REFRESH_TOKEN');
  const signedOut = await signUpAnonymously();
  assert.is((await service.request('DELETE', '/api/v1/auth/sessions/current', { headers: withToken(signedOut.access_token) })).status, 200);
  assertKnownError(await initiate({ anon_refresh_token: signedOut.refresh_token }), 400, 'INVALID_ANON_REFRESH_TOKEN');
});

test('an anonymous session that ended after the CLI started is not handed over: check says none, claim 400', async () => {
  const cli = await signUpAnonymously();
  const started = await initiate({ anon_refresh_token: cli.refresh_token });
  assert.is((await service.request('DELETE', '/api/v1/auth/sessions/current', { headers: withToken(cli.access_token) })).status, 200);
  assert.equal((await complete({ login_code: started.json.login_code, mode: 'check' })).json, { cli_session_state: 'none' });
  assertKnownError(await complete({ login_code: started.json.login_code, mode: 'claim-anon-session' }), 400, 'NO_ANONYMOUS_CLI_SESSION');
});

test('two racing claims of one anonymous session: exactly one gets tokens', async () => {
  const cli = await signUpAnonymously();
  const started = await initiate({ anon_refresh_token: cli.refresh_token });
  const claims = await Promise.all(Array.from({ length: 8 }, () => complete({ login_code: started.json.login_code, mode: 'claim-anon-session' })));
  for (const c of claims) if (c.status === 200) handedOut.push(c.json.refresh_token);
  assert.is(claims.filter((c) => c.status === 200).length, 1, claims.map((c) => c.status).join(' '));
  for (const c of claims.filter((r) => r.status !== 200)) assert.ok(c.status === 400 || c.status === 503, c.text);
});

test('an anonymous user cannot approve a CLI login (403 RESTRICTED_USER_NOT_ALLOWED), by refresh token or access token', async () => {
  const anonymous = await signUpAnonymously();
  const started = await initiate({});
  assertKnownError(await complete({ login_code: started.json.login_code, refresh_token: anonymous.refresh_token }), 403, 'RESTRICTED_USER_NOT_ALLOWED');
  assertKnownError(await complete({ login_code: started.json.login_code }, withToken(anonymous.access_token)), 403, 'RESTRICTED_USER_NOT_ALLOWED');
  assert.is((await poll(started.json.polling_code)).json.status, 'pending');
});

test('guessing login codes through mode check or claim-anon-session spends the per-address budget: past it, even a right code is 429', async () => {
  const guesser = await service.createProject('anonymous-guesser');
  const cli = await signUpAnonymously(guesser);
  const started = await initiate({ anon_refresh_token: cli.refresh_token }, guesser);
  const { limit } = RATE_LIMIT_DEFAULTS['login-code-guesses-per-address'];
  const headers = clientHeaders(guesser);
  for (let i = 0; i < limit; i++) {
    const mode = i % 2 === 0 ? 'check' : 'claim-anon-session';
    assertKnownError(await complete({ login_code: 'BBBB-BBB' + 'BCDFGHJKLM'[i % 10], mode }, headers), 400, 'INVALID_LOGIN_CODE');
  }
  assertKnownError(await complete({ login_code: started.json.login_code, mode: 'check' }, headers), 429, 'RATE_LIMITED');
  assertKnownError(await complete({ login_code: started.json.login_code, mode: 'claim-anon-session' }, headers), 429, 'RATE_LIMITED');
});

test('no anonymous refresh token is in the event log, nor any handed-over one', async () => {
  assert.ok(handedOut.length >= 5);
  await service.stop();
  const content = await storedLog(service);
  for (const token of handedOut) assert.not.ok(content.includes(Buffer.from(token)), 'a refresh token in plain text');
});

test.run();
