// A credential never outlives or outranks the one it came from (issue #17), tried as an attacker
// would, end to end over HTTP: a server key making itself a named admin, a short impersonation
// stretched into a year-long CLI session the audit never showed, and tokens of ended sessions
// still changing things.
import { decodeJwt } from 'jose';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAdjustableClock } from '../src/clock.ts';
import { changeProject } from '../src/commands/project/change-project.ts';
import { systemOrigin } from '../src/app-context.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { adminHeaders, clientHeaders, serverHeaders, startTestService, type ApiResponse, type TestService } from './support/service.ts';
import { signInPerson } from './support/sign-in-person.ts';

// Starts at real time (Redis expires keys by its own clock) and is moved only by the tests.
const clock = createAdjustableClock(() => Date.now());
let service: TestService;
let project: CreatedProject;
let emails = 0;

test.before(async () => {
  service = await startTestService({}, { clock: clock.now });
  project = await service.createProject('delegation');
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

function assertError(res: ApiResponse, status: number, code: string): void {
  assert.is(res.status, status, res.text);
  assert.is(res.json?.code, code, res.text);
}

async function newUser(): Promise<{ id: string; email: string }> {
  const email = `person-${++emails}@delegation.example`;
  const res = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: email, primary_email_verified: true } });
  assert.ok(res.status === 201, res.text);
  return { id: res.json.id as string, email };
}

async function makeAdmin(userId: string): Promise<void> {
  const added = await changeProject(service.app, { type: 'AddAdmin', projectId: project.project_id, userId }, systemOrigin('test'));
  assert.ok(added.position !== undefined && (await service.app.projections.waitFor(added.position, 2000)));
}

async function keySession(userId: string, body: Record<string, unknown> = {}, headers = serverHeaders(project)): Promise<{ refresh_token: string; access_token: string }> {
  const res = await service.request('POST', '/api/v1/auth/sessions', { headers, body: { user_id: userId, ...body } });
  assert.is(res.status, 200, res.text);
  return res.json;
}

const asAdminUser = (accessToken: string) => ({ 'x-stack-project-id': project.project_id, 'x-stack-admin-access-token': accessToken });
const refresh = (refreshToken: string) =>
  service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': refreshToken } });
const withAccessToken = (accessToken: string) => ({ ...clientHeaders(project), 'x-stack-access-token': accessToken });

/** A CLI login approved with `approval` (a refresh token in the body, or client headers with an access token): the poll's answer. */
async function cliLogin(approval: { refresh_token?: string; headers?: Record<string, string> }): Promise<{ complete: ApiResponse; poll: ApiResponse }> {
  const started = await service.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project), body: {} });
  const complete = await service.request('POST', '/api/v1/auth/cli/complete', {
    headers: approval.headers ?? clientHeaders(project),
    body: { login_code: started.json.login_code, ...(approval.refresh_token ? { refresh_token: approval.refresh_token } : {}) },
  });
  const poll = await service.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: started.json.polling_code } });
  return { complete, poll };
}

async function cliRefreshToken(approvingRefreshToken: string): Promise<string> {
  const { complete, poll } = await cliLogin({ refresh_token: approvingRefreshToken });
  assert.is(complete.status, 200, complete.text);
  assert.is(poll.json.status, 'completed', poll.text);
  return poll.json.refresh_token as string;
}

const auditRows = async (userId: string): Promise<Record<string, unknown>[]> => {
  const res = await service.request('GET', `/api/v1/audit/impersonations?user_id=${userId}`, { headers: adminHeaders(project) });
  assert.is(res.status, 200, res.text);
  return res.json.items;
};

test('a server key\'s plain session for an admin carries no admin rights: no events, no audit, no impersonation in their name', async () => {
  const admin = await newUser();
  const victim = await newUser();
  await makeAdmin(admin.id);
  const forged = await keySession(admin.id);
  const headers = asAdminUser(forged.access_token);
  assertError(await service.request('GET', '/api/v1/events', { headers }), 401, 'INVALID_ADMIN_ACCESS_TOKEN');
  assertError(await service.request('GET', '/api/v1/audit/impersonations', { headers }), 401, 'INVALID_ADMIN_ACCESS_TOKEN');
  assertError(await service.request('POST', '/api/v1/auth/sessions', { headers, body: { user_id: victim.id, is_impersonation: true } }), 401, 'INVALID_ADMIN_ACCESS_TOKEN');
  // Nor through a CLI login approved from that session.
  const cli = await cliRefreshToken(forged.refresh_token);
  const cliAccess = (await refresh(cli)).json.access_token as string;
  assertError(await service.request('GET', '/api/v1/events', { headers: asAdminUser(cliAccess) }), 401, 'INVALID_ADMIN_ACCESS_TOKEN');
  // The audit names no one for anything the key did: it shows the key.
  const rows = await auditRows(victim.id);
  assert.equal(rows, [], 'no impersonation of the victim was recorded');

  // The admin signing in themselves has the rights (so the refusals above are about the session).
  const own = await signInPerson(service.app, project.project_id, admin.email);
  assert.is((await service.request('GET', '/api/v1/events?limit=1', { headers: asAdminUser(own.accessToken) })).status, 200);
  const impersonation = await keySession(victim.id, { is_impersonation: true }, asAdminUser(own.accessToken));
  assert.equal(decodeJwt(impersonation.access_token).act, { sub: `admin-user:${admin.id}` });
  // And a CLI login the admin approves from their own session carries them too.
  const adminCli = await cliRefreshToken(own.refreshToken);
  const adminCliAccess = (await refresh(adminCli)).json.access_token as string;
  assert.is((await service.request('GET', '/api/v1/events?limit=1', { headers: asAdminUser(adminCliAccess) })).status, 200);
});

test('a 60 s impersonation that approves a CLI login: the CLI session expires with it, carries the chain, and the audit shows it', async () => {
  const user = await newUser();
  const impersonation = await keySession(user.id, { is_impersonation: true, expires_in_millis: 60_000 });
  const cli = await cliRefreshToken(impersonation.refresh_token);
  const access = await refresh(cli);
  assert.is(access.status, 200, access.text);
  const claims = decodeJwt(access.json.access_token as string);
  const keyActor = (decodeJwt(impersonation.access_token).act as { sub: string }).sub;
  assert.equal(claims.act, { sub: keyActor, act: { sub: keyActor } }, 'the whole chain, nested (RFC 8693 §4.1)');

  const rows = await auditRows(user.id);
  const parentId = String(decodeJwt(impersonation.access_token).refresh_token_id);
  const child = rows.find((r) => r.session_id === claims.refresh_token_id);
  assert.ok(child, 'the derived session is a row of the audit');
  assert.equal([child.via, child.parent_session_id, child.actor, child.is_impersonation], ['cli-login', parentId, keyActor, true]);
  const parent = rows.find((r) => r.session_id === parentId);
  assert.is(child.expires_at, parent?.expires_at, 'it never expires later than its parent');

  clock.advance(60_000);
  assertError(await refresh(cli), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  assertError(await refresh(impersonation.refresh_token), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
});

test('revoking an impersonation ends the CLI session derived from it at once, and the audit shows it on the child\'s row', async () => {
  const user = await newUser();
  const impersonation = await keySession(user.id, { is_impersonation: true });
  const cli = await cliRefreshToken(impersonation.refresh_token);
  // And a grandchild: a CLI login approved from the CLI session.
  const grandchild = await cliRefreshToken(cli);
  assert.is((await refresh(grandchild)).status, 200);
  const parentId = String(decodeJwt(impersonation.access_token).refresh_token_id);
  const revoked = await service.request('DELETE', `/api/v1/auth/sessions/${parentId}?user_id=${user.id}`, { headers: adminHeaders(project) });
  assert.is(revoked.status, 200, revoked.text);
  assertError(await refresh(cli), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  assertError(await refresh(grandchild), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  const rows = await auditRows(user.id);
  assert.is(rows.length, 3);
  assert.equal(rows.map((r) => [r.revoke_reason, r.live]), [['revoked', false], ['parent-revoked', false], ['parent-revoked', false]]);
  assert.equal(rows.map((r) => (r.actor_chain as string[]).length), [1, 2, 3]);
});

test('an impersonation revoked between approval and poll mints nothing: the poll says expired', async () => {
  const user = await newUser();
  const impersonation = await keySession(user.id, { is_impersonation: true });
  const started = await service.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project), body: {} });
  const complete = await service.request('POST', '/api/v1/auth/cli/complete', { headers: clientHeaders(project), body: { login_code: started.json.login_code, refresh_token: impersonation.refresh_token } });
  assert.is(complete.status, 200, complete.text);
  const parentId = String(decodeJwt(impersonation.access_token).refresh_token_id);
  assert.is((await service.request('DELETE', `/api/v1/auth/sessions/${parentId}?user_id=${user.id}`, { headers: adminHeaders(project) })).status, 200);
  const poll = await service.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: started.json.polling_code } });
  assert.is(poll.json.status, 'expired', poll.text);
  assert.is(poll.json.refresh_token, undefined);
  assert.is((await auditRows(user.id)).length, 1, 'no session was created');
});

test('an access token of an ended session may read, but cannot revoke another session or approve a CLI login', async () => {
  const user = await newUser();
  const a = await signInPerson(service.app, project.project_id, user.email);
  const b = await signInPerson(service.app, project.project_id, user.email);
  const c = await signInPerson(service.app, project.project_id, user.email);
  const bId = String(decodeJwt(b.accessToken).refresh_token_id);
  const signOut = await service.request('DELETE', '/api/v1/auth/sessions/current', { headers: withAccessToken(a.accessToken) });
  assert.is(signOut.status, 200, signOut.text);
  // Still within its 10 minutes, the token reads...
  assert.is((await service.request('GET', `/api/v1/auth/sessions?user_id=${user.id}`, { headers: withAccessToken(a.accessToken) })).status, 200);
  // ...but changes nothing.
  assertError(await service.request('DELETE', `/api/v1/auth/sessions/${bId}?user_id=${user.id}`, { headers: withAccessToken(a.accessToken) }), 401, 'UNPARSABLE_ACCESS_TOKEN');
  const { complete, poll } = await cliLogin({ headers: withAccessToken(a.accessToken) });
  assertError(complete, 401, 'UNPARSABLE_ACCESS_TOKEN');
  assert.not.equal(poll.json.status, 'completed');
  assert.is((await refresh(b.refreshToken)).status, 200, 'the other session is untouched');
  // A live session's token can.
  const cId = String(decodeJwt(c.accessToken).refresh_token_id);
  assert.is((await service.request('DELETE', `/api/v1/auth/sessions/${cId}?user_id=${user.id}`, { headers: withAccessToken(b.accessToken) })).status, 200);
});

test('a person\'s own CLI session outlives signing out the browser, but never the browser session\'s expiry', async () => {
  const user = await newUser();
  const browser = await signInPerson(service.app, project.project_id, user.email);
  const cli = await cliRefreshToken(browser.refreshToken);
  assert.is((await service.request('DELETE', '/api/v1/auth/sessions/current', { headers: withAccessToken(browser.accessToken) })).status, 200);
  assert.is((await refresh(cli)).status, 200, 'independent of the browser session once minted');
  const cliSession = String(decodeJwt((await refresh(cli)).json.access_token as string).refresh_token_id);
  const events = await service.request('GET', `/api/v1/events?stream=session-${cliSession}`, { headers: adminHeaders(project) });
  const created = events.json.items[0].data as Record<string, unknown>;
  const browserSession = String(decodeJwt(browser.accessToken).refresh_token_id);
  const browserEvents = await service.request('GET', `/api/v1/events?stream=session-${browserSession}`, { headers: adminHeaders(project) });
  assert.equal([created.parentSessionId, created.startedByUser, created.endsWithParent], [browserSession, true, false]);
  assert.ok(Number(created.expiresAtMillis) <= Number(browserEvents.json.items[0].data.expiresAtMillis), 'bounded by the parent');
});

test.run();
