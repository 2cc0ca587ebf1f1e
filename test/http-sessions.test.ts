// Sessions end to end (issue #3): create a session for a user (impersonation), access tokens and
// the JWKS, refresh, sign out, list, revoke, user deletion, and refresh tokens never at rest.
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAdjustableClock } from '../src/clock.ts';
import { changeProject } from '../src/commands/project/change-project.ts';
import { systemOrigin } from '../src/app-context.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { signInPerson } from './support/sign-in-person.ts';
import { adminHeaders, clientHeaders, serverHeaders, startTestService, storedLog, type ApiResponse, type TestService } from './support/service.ts';

// Frozen at the start and moved only by the tests, so that expiry boundaries are exact.
const frozenAt = Date.now();
const clock = createAdjustableClock(() => frozenAt);
let service: TestService;
let project: CreatedProject;
let other: CreatedProject;
const issuedRefreshTokens: string[] = [];

test.before(async () => {
  service = await startTestService({}, { clock: clock.now });
  project = await service.createProject('sessions');
  other = await service.createProject('other');
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

async function newUser(p = project, email?: string): Promise<string> {
  const res = await service.request('POST', '/api/v1/users', { headers: serverHeaders(p), body: email ? { primary_email: email, primary_email_verified: true } : {} });
  assert.is(res.status, 201, res.text);
  return res.json.id as string;
}

async function newSession(userId: string, body: Record<string, unknown> = {}, headers = serverHeaders(project)): Promise<{ refresh_token: string; access_token: string }> {
  const res = await service.request('POST', '/api/v1/auth/sessions', { headers, body: { user_id: userId, ...body } });
  assert.is(res.status, 200, res.text);
  issuedRefreshTokens.push(res.json.refresh_token);
  return res.json;
}

const refresh = (refreshToken: string, p = project) =>
  service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(p), 'x-stack-refresh-token': refreshToken } });

function assertError(res: ApiResponse, status: number, code: string): void {
  assert.is(res.status, status, res.text);
  assert.is(res.json?.code, code, res.text);
  assert.is(res.headers.get('x-stack-known-error'), code);
}

const decodeRefreshTokenId = (accessToken: string) => decodeJwt(accessToken).refresh_token_id;

async function verifyWithJwks(token: string, p = project) {
  const jwks = createRemoteJWKSet(new URL(`${service.url}/api/v1/projects/${p.project_id}/.well-known/jwks.json`));
  return jwtVerify(token, jwks, { currentDate: new Date(clock.now()) });
}

test('server key + user_id → 200 {refresh_token, access_token}; the token verifies against the JWKS with every listed claim', async () => {
  const userId = await newUser();
  const session = await newSession(userId);
  assert.equal(Object.keys(session).sort(), ['access_token', 'refresh_token']);
  assert.match(session.refresh_token, /^rt_[0-9a-z]{48}$/);
  const { payload, protectedHeader } = await verifyWithJwks(session.access_token);
  assert.is(protectedHeader.alg, 'ES256');
  assert.type(protectedHeader.kid, 'string');
  assert.is(payload.sub, userId);
  assert.is(payload.aud, project.project_id);
  assert.is(payload.iss, `${service.url}/api/v1/projects/${project.project_id}`);
  assert.is(payload.project_id, project.project_id);
  assert.is(payload.branch_id, 'main');
  assert.is(payload.role, 'authenticated');
  assert.match(String(payload.refresh_token_id), /^[0-9a-f-]{36}$/);
  assert.is((payload.exp ?? 0) - (payload.iat ?? 0), 600);
  assert.is(payload.act, undefined, 'no actor on a plain session');
});

test('the reference page\'s literal request: POST /auth/sessions, Bearer server key, no project header → 200', async () => {
  const userId = await newUser();
  const res = await service.request('POST', '/auth/sessions', {
    headers: { authorization: `Bearer ${project.secret_server_key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: userId }),
  });
  assert.is(res.status, 200, res.text);
  issuedRefreshTokens.push(res.json.refresh_token);
  assert.is((await verifyWithJwks(res.json.access_token)).payload.sub, userId);
});

test('client access → 401; unknown user → 400 USER_ID_DOES_NOT_EXIST; too long → SCHEMA_ERROR in upstream\'s words', async () => {
  const userId = await newUser();
  const before = await service.app.store.headPosition();
  assertError(await service.request('POST', '/api/v1/auth/sessions', { headers: clientHeaders(project), body: { user_id: userId } }), 401, 'INSUFFICIENT_ACCESS_TYPE');
  const unknown = '11111111-1111-4111-8111-111111111111';
  const res = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: unknown } });
  assertError(res, 400, 'USER_ID_DOES_NOT_EXIST');
  assert.equal(res.json.details, { user_id: unknown });
  assert.is(res.json.error, `The given user with the ID ${unknown} does not exist.`);
  const foreign = await newUser(other);
  assertError(await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: foreign } }), 400, 'USER_ID_DOES_NOT_EXIST');
  const tooLong = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: userId, expires_in_millis: 31_708_800_001 } });
  assertError(tooLong, 400, 'SCHEMA_ERROR');
  assert.is(tooLong.json.error, 'Request validation failed on POST /api/v1/auth/sessions:\n  - body.expires_in_millis must be less than or equal to 31708800000');
  assert.is(tooLong.json.details.message, tooLong.json.error);
  const appended = [];
  for await (const e of service.app.store.readAll({ fromPosition: before })) appended.push(e.type);
  assert.equal(appended, ['UserCreated'], 'only the foreign user\'s UserCreated was appended');
});

test('is_impersonation: act.sub names the actor; admin lists the session, server and the user do not see it', async () => {
  const userId = await newUser();
  const own = await newSession(userId);
  const impersonation = await newSession(userId, { is_impersonation: true });
  const { payload } = await verifyWithJwks(impersonation.access_token);
  assert.match(String((payload.act as { sub?: string })?.sub), /^server-key:[0-9a-f-]{36}$/);

  const list = (headers: Record<string, string>) => service.request('GET', `/api/v1/auth/sessions?user_id=${userId}`, { headers });
  const asAdmin = await list(adminHeaders(project));
  assert.is(asAdmin.status, 200, asAdmin.text);
  assert.is(asAdmin.json.is_paginated, false);
  // Both were created at the same instant of the frozen clock: compare without order.
  assert.equal(asAdmin.json.items.map((i: { is_impersonation: boolean }) => i.is_impersonation).sort(), [false, true]);
  const asServer = await list(serverHeaders(project));
  assert.equal(asServer.json.items.map((i: { is_impersonation: boolean }) => i.is_impersonation), [false]);
  const asUser = await list({ ...clientHeaders(project), 'x-stack-access-token': own.access_token });
  assert.is(asUser.json.items.length, 1);
  const item = asUser.json.items[0];
  assert.equal(Object.keys(item).sort(), ['created_at', 'id', 'is_current_session', 'is_impersonation', 'last_used_at', 'user_id']);
  assert.is(item.is_current_session, true);
  assert.is(item.user_id, userId);
  assert.ok(Math.abs(item.created_at - clock.now()) < 60_000);
});

test('an admin user (authlog project add-admin) impersonates with their access token; act.sub names the person', async () => {
  const adminEmail = `admin-${Date.now()}@example.com`;
  const adminId = await newUser(project, adminEmail);
  // Signed in by the admin themselves: a session a key made for them carries no admin rights.
  const signedIn = await signInPerson(service.app, project.project_id, adminEmail);
  const adminSession = { refresh_token: signedIn.refreshToken, access_token: signedIn.accessToken };
  const target = await newUser();
  const asAdminUser = { 'x-stack-project-id': project.project_id, 'x-stack-admin-access-token': adminSession.access_token };
  assertError(await service.request('POST', '/api/v1/auth/sessions', { headers: asAdminUser, body: { user_id: target } }), 401, 'INVALID_ADMIN_ACCESS_TOKEN');
  const added = await changeProject(service.app, { type: 'AddAdmin', projectId: project.project_id, userId: adminId }, systemOrigin('test'));
  assert.ok(added.position !== undefined && (await service.app.projections.waitFor(added.position, 2000)));
  const session = await newSession(target, { is_impersonation: true }, asAdminUser);
  const { payload } = await verifyWithJwks(session.access_token);
  assert.equal(payload.act, { sub: `admin-user:${adminId}` });
  // A token of an impersonation session never carries admin rights, even of an admin user.
  const impersonatingAdmin = await newSession(adminId, { is_impersonation: true });
  assertError(
    await service.request('POST', '/api/v1/auth/sessions', { headers: { ...asAdminUser, 'x-stack-admin-access-token': impersonatingAdmin.access_token }, body: { user_id: target } }),
    401,
    'INVALID_ADMIN_ACCESS_TOKEN',
  );
  // Signing out ends the admin access at once, not after the token's 10 minutes.
  const signOut = await service.request('DELETE', '/api/v1/auth/sessions/current', { headers: { ...clientHeaders(project), 'x-stack-access-token': adminSession.access_token } });
  assert.is(signOut.status, 200, signOut.text);
  assertError(await service.request('POST', '/api/v1/auth/sessions', { headers: asAdminUser, body: { user_id: target } }), 401, 'INVALID_ADMIN_ACCESS_TOKEN');
});

test('refresh → 200 {access_token} for the same session; an impersonation session\'s tokens keep act', async () => {
  const userId = await newUser();
  const session = await newSession(userId, { is_impersonation: true });
  const res = await refresh(session.refresh_token);
  assert.is(res.status, 200, res.text);
  assert.equal(Object.keys(res.json), ['access_token']);
  const first = await verifyWithJwks(session.access_token);
  const refreshed = await verifyWithJwks(res.json.access_token);
  assert.is(refreshed.payload.sub, userId);
  assert.is(refreshed.payload.refresh_token_id, first.payload.refresh_token_id);
  assert.equal(refreshed.payload.act, first.payload.act);
  assertError(await refresh(session.refresh_token, other), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  assertError(await refresh('rt_' + 'x'.repeat(48)), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  assertError(await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: clientHeaders(project) }), 400, 'SCHEMA_ERROR');
});

test('a 2 s session refreshes until it expires, then 401 REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED', async () => {
  // Redis expires the session's keys by its own (real) clock: start this one from real time, so a
  // slow run cannot have Redis drop it before the service's clock says it expires.
  clock.advance(Math.max(0, Date.now() - clock.now()));
  const userId = await newUser();
  const session = await newSession(userId, { expires_in_millis: 2000 });
  clock.advance(1999);
  assert.is((await refresh(session.refresh_token)).status, 200);
  clock.advance(1);
  const res = await refresh(session.refresh_token);
  assertError(res, 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  assert.is(res.json.error, 'Refresh token not found for this project, or the session has expired/been revoked.');
});

test('after sign-out refresh is 401; revoking one session leaves the user\'s others working; deleting the user ends all', async () => {
  const userId = await newUser();
  const a = await newSession(userId);
  const b = await newSession(userId);
  const c = await newSession(userId);
  const signOut = await service.request('DELETE', '/api/v1/auth/sessions/current', { headers: { ...clientHeaders(project), 'x-stack-access-token': a.access_token } });
  assert.equal([signOut.status, signOut.json], [200, { success: true }]);
  assertError(await refresh(a.refresh_token), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  assert.is((await refresh(b.refresh_token)).status, 200);

  const bId = String((await verifyWithJwks(b.access_token)).payload.refresh_token_id);
  const asC = { ...clientHeaders(project), 'x-stack-access-token': c.access_token };
  assertError(await service.request('DELETE', `/api/v1/auth/sessions/${bId}?user_id=${await newUser()}`, { headers: asC }), 403, 'CLIENT_CANNOT_ACCESS_OTHER_USER');
  const cId = String((await verifyWithJwks(c.access_token)).payload.refresh_token_id);
  assertError(await service.request('DELETE', `/api/v1/auth/sessions/${cId}?user_id=${userId}`, { headers: asC }), 400, 'CANNOT_DELETE_CURRENT_SESSION');
  const revoked = await service.request('DELETE', `/api/v1/auth/sessions/${bId}?user_id=${userId}`, { headers: asC });
  assert.equal([revoked.status, revoked.json], [200, { success: true }]);
  assertError(await refresh(b.refresh_token), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  assert.is((await refresh(c.refresh_token)).status, 200, 'the other session still works');
  assertError(await service.request('DELETE', `/api/v1/auth/sessions/${bId}?user_id=${userId}`, { headers: serverHeaders(project) }), 404, 'SESSION_NOT_FOUND');

  const deleted = await service.request('DELETE', `/api/v1/users/${userId}`, { headers: serverHeaders(project) });
  assert.is(deleted.status, 200);
  assertError(await refresh(c.refresh_token), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  const reasons: string[] = [];
  for await (const e of service.app.store.readAll({ filter: { streamPrefixes: ['session-'], eventTypes: ['SessionRevoked'] } })) {
    const data = e.data as { userId: string; reason: string };
    if (data.userId === userId) reasons.push(data.reason);
  }
  assert.equal(reasons.sort(), ['revoked', 'sign-out', 'user-deleted']);
});

test('a client lists only its own user\'s sessions', async () => {
  const userId = await newUser();
  const s = await newSession(userId);
  const someoneElse = await newUser();
  const res = await service.request('GET', `/api/v1/auth/sessions?user_id=${someoneElse}`, { headers: { ...clientHeaders(project), 'x-stack-access-token': s.access_token } });
  assertError(res, 403, 'CLIENT_CANNOT_ACCESS_OTHER_USER');
  assertError(await service.request('GET', `/api/v1/auth/sessions?user_id=${userId}`, { headers: clientHeaders(project) }), 400, 'USER_AUTHENTICATION_REQUIRED');
  assertError(await service.request('GET', `/api/v1/auth/sessions?user_id=${userId}`, { headers: { ...clientHeaders(project), 'x-stack-access-token': 'garbage' } }), 401, 'UNPARSABLE_ACCESS_TOKEN');
  assertError(await service.request('GET', '/api/v1/auth/sessions', { headers: serverHeaders(project) }), 400, 'SCHEMA_ERROR');
});

test('use is recorded at most once per 15 minutes per session, and shows as last_used_at', async () => {
  const userId = await newUser();
  const s = await newSession(userId);
  const count = async () => {
    let n = 0;
    for await (const e of service.app.store.readAll({ filter: { eventTypes: ['SessionActivityRecorded'] } })) if ((e.data as { userId: string }).userId === userId) n++;
    return n;
  };
  for (let i = 0; i < 5; i++) assert.is((await refresh(s.refresh_token)).status, 200);
  assert.is(await count(), 1);
  clock.advance(15 * 60_000);
  assert.is((await refresh(s.refresh_token)).status, 200);
  assert.is(await count(), 2);
  // Activity is not waited for by the refresh that records it: wait for the read model here.
  assert.ok(await service.app.projections.waitFor(await service.app.store.headPosition(), 2000));
  const list = await service.request('GET', `/api/v1/auth/sessions?user_id=${userId}`, { headers: serverHeaders(project) });
  assert.is(list.json.items[0].last_used_at, clock.now());
});

test('20 concurrent refresh + sign-out pairs on one session: every refresh answers 200 or 401, never 5xx; one sign-out wins, the rest hear 401 as upstream', async () => {
  const userId = await newUser();
  const s = await newSession(userId);
  const pairs = Array.from({ length: 20 }, () =>
    Promise.all([
      refresh(s.refresh_token),
      service.request('DELETE', '/api/v1/auth/sessions/current', { headers: { ...clientHeaders(project), 'x-stack-access-token': s.access_token } }),
    ]),
  );
  const results = await Promise.all(pairs);
  for (const [r, out] of results) {
    assert.ok(r.status === 200 || (r.status === 401 && r.json.code === 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED'), `refresh: ${r.status} ${r.text}`);
    assert.ok(out.status === 200 || (out.status === 401 && out.json.code === 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED'), `sign-out: ${out.status} ${out.text}`);
  }
  assert.is(results.filter(([, out]) => out.status === 200).length, 1, 'exactly one sign-out ended the session');
  assertError(await refresh(s.refresh_token), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  let revocations = 0;
  for await (const e of service.app.store.readAll({ filter: { eventTypes: ['SessionRevoked'] } })) if ((e.data as { userId: string }).userId === userId) revocations++;
  assert.is(revocations, 1, 'one revocation, however many sign-outs');
});

test('the JWKS of an unknown project → 400 CURRENT_PROJECT_NOT_FOUND', async () => {
  assertError(await service.request('GET', '/api/v1/projects/11111111-1111-4111-8111-111111111111/.well-known/jwks.json'), 400, 'CURRENT_PROJECT_NOT_FOUND');
  const jwks = await service.request('GET', `/api/v1/projects/${project.project_id}/.well-known/jwks.json`);
  assert.is(jwks.json.keys.length, 2, 'the signing key and the next one (README: Rotating keys)');
  for (const key of jwks.json.keys) assert.is(key.d, undefined, 'no private part');
});

test('no refresh token is in the event log', async () => {
  assert.ok(issuedRefreshTokens.length >= 10);
  await service.stop();
  const content = await storedLog(service);
  assert.ok(content.includes(service.app.hasher.digest('refresh-token', issuedRefreshTokens[0]!)), 'the digest is stored');
  for (const token of issuedRefreshTokens) assert.not.ok(content.includes(token.slice(3)), 'a refresh token is in the log');
  service = await startTestService({}, { clock: clock.now, dataDir: service.dataDir });
});

test('OAuth token endpoint: a form-encoded refresh-token grant with the project id and its publishable key → a bearer access token; wrong client, grant or token → the known errors', async () => {
  const userId = await newUser();
  const session = await newSession(userId);
  const grant = (fields: Record<string, string>) =>
    service.request('POST', '/api/v1/auth/oauth/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  const valid = { grant_type: 'refresh_token', refresh_token: session.refresh_token, client_id: project.project_id, client_secret: project.publishable_client_key };
  const res = await grant(valid);
  assert.is(res.status, 200, res.text);
  assert.equal(Object.keys(res.json).sort(), ['access_token', 'expires_in', 'token_type'], 'the refresh token is not echoed');
  assert.is(res.json.token_type, 'Bearer');
  assert.is(res.json.expires_in, 600);
  const verified = await verifyWithJwks(res.json.access_token);
  assert.is(verified.payload.sub, userId);
  assert.is(verified.payload.refresh_token_id, decodeRefreshTokenId(session.access_token));
  assertError(await grant({ ...valid, client_secret: 'pck_wrong' }), 401, 'INVALID_PUBLISHABLE_CLIENT_KEY');
  assertError(await grant({ ...valid, client_id: '00000000-0000-4000-8000-000000000000' }), 400, 'CURRENT_PROJECT_NOT_FOUND');
  assertError(await grant({ ...valid, refresh_token: 'rt_' + 'x'.repeat(48) }), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  assertError(await grant({ ...valid, grant_type: 'authorization_code' }), 400, 'SCHEMA_ERROR');
  const twice = await service.request('POST', '/api/v1/auth/oauth/token', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `${new URLSearchParams(valid).toString()}&client_id=${project.project_id}`,
  });
  assertError(twice, 400, 'BODY_PARSING_ERROR');
  // Form bodies stay refused everywhere else: the API speaks JSON.
  const form = await service.request('POST', '/api/v1/auth/sessions', {
    headers: { ...serverHeaders(project), 'content-type': 'application/x-www-form-urlencoded' },
    body: `user_id=${userId}`,
  });
  assertError(form, 400, 'BODY_PARSING_ERROR');
});

test.run();
