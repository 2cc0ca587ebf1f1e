// Users as upstream's clients call them (issue #24): POST /users answers 201, PATCH /users/{id}
// and /users/me update (display name, primary email unique per project, verified flag), GET
// /users lists a page at a time, GET and DELETE /users/me act on the token's user with the
// client's or the server's view. Statuses, known-error codes and bodies follow upstream's e2e
// tests (apps/e2e/tests/backend/endpoints/api/v1/users.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeJwt } from 'jose';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { adminHeaders, clientHeaders, serverHeaders, startTestService, storedLog, type ApiResponse, type TestService } from './support/service.ts';

let service: TestService;
let project: CreatedProject;

test.before(async () => {
  service = await startTestService();
  project = await service.createProject('users', ['https://app.example.com']);
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

const server = () => serverHeaders(project);
const asUser = (accessToken: string, headers = clientHeaders(project)) => ({ ...headers, 'x-stack-access-token': accessToken });

function assertKnownError(res: ApiResponse, status: number, code: string): void {
  assert.is(res.status, status, res.text);
  assert.is(res.json?.code, code, res.text);
  assert.is(res.headers.get('x-stack-known-error'), code);
}

async function newUser(body: Record<string, unknown> = {}): Promise<{ id: string; accessToken: string; refreshToken: string }> {
  const created = await service.request('POST', '/api/v1/users', { headers: server(), body });
  assert.is(created.status, 201, created.text);
  const session = await service.request('POST', '/api/v1/auth/sessions', { headers: server(), body: { user_id: created.json.id } });
  assert.is(session.status, 200, session.text);
  return { id: created.json.id, accessToken: session.json.access_token, refreshToken: session.json.refresh_token };
}

const getUser = (id: string) => service.request('GET', `/api/v1/users/${id}`, { headers: server() });
const patchUser = (id: string, body: unknown) => service.request('PATCH', `/api/v1/users/${id}`, { headers: server(), body });

test('POST /users answers 201 with the user; the constant fields upstream clients send are accepted', async () => {
  const res = await service.request('POST', '/api/v1/users', {
    headers: server(),
    body: {
      primary_email: 'constants@example.com',
      primary_email_auth_enabled: true,
      otp_auth_enabled: true,
      passkey_auth_enabled: false,
      client_metadata: null,
      server_metadata: null,
      profile_image_url: null,
      oauth_providers: [],
    },
  });
  assert.is(res.status, 201, res.text);
  assert.is(res.json.primary_email_auth_enabled, true);
  assert.is(res.json.otp_auth_enabled, true);
});

test('fields authlog cannot honour are refused with SCHEMA_ERROR, never silently dropped (email auth off, a password, metadata)', async () => {
  for (const body of [{ primary_email: 'off@example.com', primary_email_auth_enabled: false }, { password: 'hunter22' }, { client_metadata: { plan: 'pro' } }]) {
    const res = await service.request('POST', '/api/v1/users', { headers: server(), body });
    assertKnownError(res, 400, 'SCHEMA_ERROR');
  }
  const noSuchField = await service.request('POST', '/api/v1/users', { headers: server(), body: { nickname: 'x' } });
  assert.match(noSuchField.json.error, 'body contains unknown properties: nickname');
});

test('PATCH /users/{id} changes the display name and primary email; GET and a refreshed token reflect it; the empty name clears it', async () => {
  const user = await newUser({ primary_email: 'before@example.com', display_name: 'Before', primary_email_verified: true });
  const res = await patchUser(user.id, { display_name: 'After', primary_email: 'after@example.com' });
  assert.is(res.status, 200, res.text);
  assert.equal([res.json.display_name, res.json.primary_email, res.json.primary_email_verified], ['After', 'after@example.com', false], 'a new address is unverified');
  const read = await getUser(user.id);
  assert.equal([read.json.display_name, read.json.primary_email], ['After', 'after@example.com']);
  const refreshed = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': user.refreshToken } });
  assert.is(refreshed.status, 200, refreshed.text);
  const claims = decodeJwt(refreshed.json.access_token);
  assert.equal([claims.email, claims.name], ['after@example.com', 'After']);

  const verified = await patchUser(user.id, { primary_email_verified: true });
  assert.is(verified.json.primary_email_verified, true);
  const cleared = await patchUser(user.id, { display_name: '' });
  assert.is(cleared.json.display_name, null);
  const removed = await patchUser(user.id, { primary_email: null });
  assert.equal([removed.json.primary_email, removed.json.primary_email_verified], [null, false]);
  assertKnownError(await patchUser(user.id, { primary_email_verified: true }), 400, 'SCHEMA_ERROR');
});

test("an email change releases the old address (another user can take it) and the new one is the user's (no one else can)", async () => {
  const mover = await newUser({ primary_email: 'old-home@example.com' });
  assert.is((await patchUser(mover.id, { primary_email: 'new-home@example.com' })).status, 200);
  const taker = await service.request('POST', '/api/v1/users', { headers: server(), body: { primary_email: 'OLD-home@example.com' } });
  assert.is(taker.status, 201, taker.text);
  const late = await service.request('POST', '/api/v1/users', { headers: server(), body: { primary_email: 'New-Home@example.com' } });
  assertKnownError(late, 409, 'USER_EMAIL_ALREADY_EXISTS');
  // Only the spelling changes: the address stays the user's, verified flag and all.
  const respelled = await patchUser(mover.id, { primary_email: 'NEW-home@example.com' });
  assert.is(respelled.json.primary_email, 'NEW-home@example.com');
});

test('PATCH to an email another user holds, verified or not, is 409 USER_EMAIL_ALREADY_EXISTS naming it, and changes nothing', async () => {
  await newUser({ primary_email: 'holder-verified@example.com', primary_email_verified: true });
  await newUser({ primary_email: 'holder-unverified@example.com' });
  const user = await newUser({ primary_email: 'mine@example.com' });
  for (const email of ['holder-verified@example.com', 'HOLDER-unverified@example.com']) {
    const res = await patchUser(user.id, { primary_email: email, display_name: 'Not applied' });
    assertKnownError(res, 409, 'USER_EMAIL_ALREADY_EXISTS');
    assert.equal(res.json.details, { email, would_work_if_email_was_verified: false });
  }
  const read = await getUser(user.id);
  assert.equal([read.json.primary_email, read.json.display_name], ['mine@example.com', null]);
});

test('two concurrent PATCHes of different users to the same email: exactly one wins, the other is 409', async () => {
  for (let round = 0; round < 5; round++) {
    const a = await newUser({ primary_email: `race-a-${round}@example.com` });
    const b = await newUser({ primary_email: `race-b-${round}@example.com` });
    const target = `race-target-${round}@example.com`;
    const results = await Promise.all([patchUser(a.id, { primary_email: target }), patchUser(b.id, { primary_email: target.toUpperCase() })]);
    const statuses = results.map((r) => r.status).sort();
    assert.equal(statuses, [200, 409], results.map((r) => r.text).join('\n'));
    const winner = results[0]!.status === 200 ? a : b;
    const loser = winner === a ? b : a;
    assert.is((await getUser(loser.id)).json.primary_email, `race-${loser === a ? 'a' : 'b'}-${round}@example.com`, "the loser keeps its address");
    assert.is((await getUser(winner.id)).json.primary_email.toLowerCase(), target);
  }
});

test('PATCH /users/me with client access changes only client-writable fields; server-only fields are SCHEMA_ERROR', async () => {
  const user = await newUser({ primary_email: 'self@example.com', primary_email_verified: true });
  const res = await service.request('PATCH', '/api/v1/users/me', { headers: asUser(user.accessToken), body: { display_name: 'John Doe' } });
  assert.is(res.status, 200, res.text);
  assert.is(res.json.display_name, 'John Doe');
  assert.not.ok('server_metadata' in res.json, 'the client view has no server fields');
  for (const field of ['primary_email', 'primary_email_verified', 'server_metadata', 'client_read_only_metadata']) {
    const value = field === 'primary_email_verified' ? true : field === 'primary_email' ? 'self-moved@example.com' : null;
    const refused = await service.request('PATCH', '/api/v1/users/me', { headers: asUser(user.accessToken), body: { [field]: value } });
    assertKnownError(refused, 400, 'SCHEMA_ERROR');
    assert.match(refused.json.error, `body contains unknown properties: ${field}`);
  }
  const after = (await getUser(user.id)).json;
  assert.equal([after.primary_email, after.primary_email_verified], ['self@example.com', true], 'nothing changed');
});

test("a client cannot take a stranger's address (and lock its owner out of signing in): PATCH /users/me refuses primary_email, the owner still signs up", async () => {
  const squatter = await newUser({ primary_email: 'squatter@example.com', primary_email_verified: true });
  const victim = 'not-yet-signed-up@example.com';
  const res = await service.request('PATCH', '/api/v1/users/me', { headers: asUser(squatter.accessToken), body: { primary_email: victim } });
  assertKnownError(res, 400, 'SCHEMA_ERROR');
  assert.is((await getUser(squatter.id)).json.primary_email, 'squatter@example.com');
  const created = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: victim } });
  assert.is(created.status, 201, created.text);
});

test("a client cannot PATCH another user's record (only /users/me exists for it), nor list users", async () => {
  const victim = await newUser({ primary_email: 'victim@example.com' });
  const attacker = await newUser({ primary_email: 'attacker@example.com' });
  const res = await service.request('PATCH', `/api/v1/users/${victim.id}`, { headers: asUser(attacker.accessToken), body: { display_name: 'pwned' } });
  assertKnownError(res, 401, 'INSUFFICIENT_ACCESS_TYPE');
  assert.equal(res.json.details, { actual_access_type: 'client', allowed_access_types: ['server', 'admin'] });
  assert.is((await getUser(victim.id)).json.display_name, null);
  assertKnownError(await service.request('GET', '/api/v1/users', { headers: asUser(attacker.accessToken) }), 401, 'INSUFFICIENT_ACCESS_TYPE');
});

test('PATCH /users/me with server access takes the server fields; a signed-out session cannot change anything', async () => {
  const user = await newUser({ primary_email: 'srv-self@example.com' });
  const res = await service.request('PATCH', '/api/v1/users/me', { headers: asUser(user.accessToken, server()), body: { primary_email_verified: true } });
  assert.is(res.status, 200, res.text);
  assert.is(res.json.primary_email_verified, true);
  assert.ok('server_metadata' in res.json, 'the server view');
  const signedOut = await service.request('DELETE', '/api/v1/auth/sessions/current', { headers: asUser(user.accessToken) });
  assert.is(signedOut.status, 200, signedOut.text);
  assertKnownError(await service.request('PATCH', '/api/v1/users/me', { headers: asUser(user.accessToken), body: { display_name: 'late' } }), 401, 'UNPARSABLE_ACCESS_TOKEN');
});

test('GET /users/me: the client view with client access, the server view with server access; no token is CANNOT_GET_OWN_USER_WITHOUT_USER', async () => {
  const user = await newUser({ primary_email: 'views@example.com' });
  const client = await service.request('GET', '/api/v1/users/me', { headers: asUser(user.accessToken) });
  assert.is(client.status, 200, client.text);
  for (const serverOnly of ['server_metadata', 'last_active_at_millis', 'primary_email_auth_enabled', 'country_code', 'risk_scores', 'restricted_by_admin_private_details']) {
    assert.not.ok(serverOnly in client.json, `the client view has no ${serverOnly}`);
  }
  assert.is(client.json.primary_email, 'views@example.com');
  const asServer = await service.request('GET', '/api/v1/users/me', { headers: asUser(user.accessToken, server()) });
  assert.is(asServer.status, 200, asServer.text);
  assert.equal([asServer.json.server_metadata, asServer.json.primary_email_auth_enabled], [null, true]);

  const none = await service.request('GET', '/api/v1/users/me', { headers: clientHeaders(project) });
  assertKnownError(none, 400, 'CANNOT_GET_OWN_USER_WITHOUT_USER');
  assert.is(none.json.error, "You have specified 'me' as a userId, but did not provide authentication for a user.");
});

test('DELETE /users/me with client access is refused unless the project allows it; with the setting on, the user is erased', async () => {
  const user = await newUser({ primary_email: 'leaver@example.com' });
  const refused = await service.request('DELETE', '/api/v1/users/me', { headers: asUser(user.accessToken) });
  assertKnownError(refused, 400, 'CLIENT_USER_DELETION_NOT_ENABLED');
  assert.is(refused.json.error, 'Client user deletion is not enabled for this project');
  assert.is((await getUser(user.id)).status, 200, 'still there');

  const on = await service.request('PATCH', '/api/v1/projects/current/config', { headers: adminHeaders(project), body: { client_user_deletion_enabled: true } });
  assert.equal(on.json, { require_publishable_client_key: false, client_user_deletion_enabled: true });
  try {
    const deleted = await service.request('DELETE', '/api/v1/users/me', { headers: asUser(user.accessToken) });
    assert.equal([deleted.status, deleted.json], [200, { success: true }]);
    assertKnownError(await getUser(user.id), 404, 'USER_NOT_FOUND');
    const again = await service.request('POST', '/api/v1/users', { headers: server(), body: { primary_email: 'leaver@example.com' } });
    assert.is(again.status, 201, 'the address is free again');
  } finally {
    await service.request('PATCH', '/api/v1/projects/current/config', { headers: adminHeaders(project), body: { client_user_deletion_enabled: false } });
  }
});

test('DELETE /users/me with server access deletes the token\'s user; with a server key and no user it is CANNOT_GET_OWN_USER_WITHOUT_USER', async () => {
  const bystander = await newUser({ primary_email: 'bystander@example.com' });
  assertKnownError(await service.request('DELETE', '/api/v1/users/me', { headers: server() }), 400, 'CANNOT_GET_OWN_USER_WITHOUT_USER');
  assert.is((await getUser(bystander.id)).status, 200, 'no one was deleted');
  const user = await newUser({ primary_email: 'srv-leaver@example.com' });
  const deleted = await service.request('DELETE', '/api/v1/users/me', { headers: asUser(user.accessToken, server()) });
  assert.equal([deleted.status, deleted.json], [200, { success: true }]);
  assertKnownError(await getUser(user.id), 404, 'USER_NOT_FOUND');
});

test('GET /users lists by sign-up time with limit and cursor (pages add up to the whole), desc, and query; deleted users are gone', async () => {
  const other = await service.createProject('listing');
  const headers = serverHeaders(other);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await service.request('POST', '/api/v1/users', { headers, body: { primary_email: `list-${i}@example.com`, display_name: `Lister ${i}` } });
    assert.is(res.status, 201, res.text);
    ids.push(res.json.id);
    await new Promise((r) => setTimeout(r, 2)); // distinct sign-up times
  }
  const all = await service.request('GET', '/api/v1/users', { headers });
  assert.is(all.status, 200, all.text);
  assert.equal(all.json.items.map((u: { id: string }) => u.id), ids);
  assert.equal([all.json.is_paginated, all.json.pagination], [true, { next_cursor: null }]);

  const first = await service.request('GET', '/api/v1/users?limit=2&order_by=signed_up_at', { headers });
  assert.equal(first.json.items.map((u: { id: string }) => u.id), ids.slice(0, 2));
  assert.type(first.json.pagination.next_cursor, 'string');
  const second = await service.request('GET', `/api/v1/users?limit=3&cursor=${encodeURIComponent(first.json.pagination.next_cursor)}`, { headers });
  assert.equal(second.json.items.map((u: { id: string }) => u.id), ids.slice(2));
  assert.is(second.json.pagination.next_cursor, null);

  const desc = await service.request('GET', '/api/v1/users?desc=true&limit=2', { headers });
  assert.equal(desc.json.items.map((u: { id: string }) => u.id), [ids[4], ids[3]]);
  const found = await service.request('GET', '/api/v1/users?query=LISTER%203', { headers });
  assert.equal(found.json.items.map((u: { id: string }) => u.id), [ids[3]]);
  const byEmail = await service.request('GET', '/api/v1/users?query=list-1%40', { headers });
  assert.equal(byEmail.json.items.map((u: { id: string }) => u.id), [ids[1]]);

  // A cursor outlives the user it pointed at.
  assert.is((await service.request('DELETE', `/api/v1/users/${ids[2]}`, { headers })).status, 200);
  const after = await service.request('GET', `/api/v1/users?limit=3&cursor=${encodeURIComponent(first.json.pagination.next_cursor)}`, { headers });
  assert.equal(after.json.items.map((u: { id: string }) => u.id), [ids[3], ids[4]]);
  assert.not.ok((await service.request('GET', '/api/v1/users', { headers })).json.items.some((u: { id: string }) => u.id === ids[2]));

  assertKnownError(await service.request('GET', '/api/v1/users?cursor=nope', { headers }), 400, 'SCHEMA_ERROR');
  assertKnownError(await service.request('GET', '/api/v1/users?order_by=display_name', { headers }), 400, 'SCHEMA_ERROR');
  assert.equal((await service.request('GET', `/api/v1/users?team_id=${ids[0]}`, { headers })).json.items, [], 'no one is in a team');
  // Users of another project are never listed.
  assert.not.ok((await service.request('GET', '/api/v1/users', { headers: server() })).json.items.some((u: { id: string }) => ids.includes(u.id)));
});

test("an updated user's new email and display name never reach the log in plain text, and erasure leaves nothing of them readable", async () => {
  const NEW_EMAIL = 'renamed.person@update-erasure.example';
  const NEW_NAME = 'Renamed Person Augusta';
  const user = await newUser({ primary_email: 'first.person@update-erasure.example', display_name: 'First Person Name' });
  assert.is((await patchUser(user.id, { primary_email: NEW_EMAIL, display_name: NEW_NAME })).status, 200);
  assert.is((await service.request('DELETE', `/api/v1/users/${user.id}`, { headers: server() })).status, 200);
  const events = (await service.request('GET', `/api/v1/events?stream=user-${user.id}`, { headers: adminHeaders(project) })).json.items;
  assert.equal(events.map((e: { type: string }) => e.type), ['UserCreated', 'UserPrimaryEmailChanged', 'UserUpdated', 'UserDeleted', 'PersonalDataErased']);
  assert.equal([events[1].data.primaryEmail, events[2].data.displayName], ['[erased]', '[erased]']);
  const shown = JSON.stringify(events);
  for (const secret of [NEW_EMAIL, NEW_NAME, 'First Person Name']) assert.not.ok(shown.includes(secret), `the events API shows ${secret}`);
  await service.stop();
  const log = (await storedLog(service)).toString('latin1');
  for (const secret of [NEW_EMAIL, NEW_NAME, 'update-erasure.example', 'Renamed Person']) assert.not.ok(log.includes(secret), `the log holds ${secret}`);
  service = await startTestService({}, { dataDir: service.dataDir });
});

test.run();
