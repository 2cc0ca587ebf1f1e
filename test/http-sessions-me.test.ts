// A user's own sessions as the official SDK's client side reads them (issue #24):
// user.getActiveSessions() is GET /auth/sessions?user_id=me, revokeSession(id) is
// DELETE /auth/sessions/{id}?user_id=me, each with the user's access token. Shapes and errors as
// upstream's sessions handler (auth/sessions/crud.tsx) and its e2e tests; signing out twice is
// upstream's 401 REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAdjustableClock } from '../src/clock.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { clientHeaders, serverHeaders, startTestService, type TestService } from './support/service.ts';
import { assertKnownError } from './support/assert-known-error.ts';

const frozenAt = Date.now();
const clock = createAdjustableClock(() => frozenAt);
let service: TestService;
let project: CreatedProject;

test.before(async () => {
  service = await startTestService({}, { clock: clock.now });
  project = await service.createProject('sessions-me');
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

async function newUser(): Promise<string> {
  const res = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
  assert.is(res.status, 201, res.text);
  return res.json.id;
}
async function newSession(userId: string): Promise<{ refresh_token: string; access_token: string }> {
  const res = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: userId } });
  assert.is(res.status, 200, res.text);
  return res.json;
}
const asUser = (accessToken: string) => ({ ...clientHeaders(project), 'x-stack-access-token': accessToken });
const sessionIdOf = async (accessToken: string) => (await service.app.tokens.verify(accessToken, clock.now()))?.sessionId;

test('GET /auth/sessions?user_id=me with the user’s token → their sessions, the current one marked, last_used_at the creation time while unused', async () => {
  const userId = await newUser();
  const first = await newSession(userId);
  const firstId = await sessionIdOf(first.access_token);
  clock.advance(1000);
  const second = await newSession(userId);
  const res = await service.request('GET', '/api/v1/auth/sessions?user_id=me', { headers: asUser(second.access_token) });
  assert.is(res.status, 200, res.text);
  assert.is(res.json.is_paginated, false);
  assert.is(res.json.items.length, 2);
  for (const item of res.json.items) {
    assert.equal(Object.keys(item).sort(), ['created_at', 'id', 'is_current_session', 'is_impersonation', 'last_used_at', 'user_id']);
    assert.is(item.user_id, userId);
    assert.is(item.last_used_at, item.created_at, 'never null: the creation time until used');
  }
  const current = res.json.items.filter((i: { is_current_session: boolean }) => i.is_current_session);
  assert.equal(current.map((i: { id: string }) => i.id), [await sessionIdOf(second.access_token)]);
  assert.ok(res.json.items.some((i: { id: string }) => i.id === firstId));
  // The same list as by the user's id.
  const byId = await service.request('GET', `/api/v1/auth/sessions?user_id=${userId}`, { headers: asUser(second.access_token) });
  assert.equal(byId.json, res.json);
});

test('DELETE /auth/sessions/{id}?user_id=me revokes another session of the user; its refresh token stops working', async () => {
  const userId = await newUser();
  const other = await newSession(userId);
  const current = await newSession(userId);
  const otherId = await sessionIdOf(other.access_token);
  const res = await service.request('DELETE', `/api/v1/auth/sessions/${otherId}?user_id=me`, { headers: asUser(current.access_token) });
  assert.is(res.status, 200, res.text);
  assert.equal(res.json, { success: true });
  const refresh = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': other.refresh_token } });
  assertKnownError(refresh, 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  assertKnownError(
    await service.request('DELETE', `/api/v1/auth/sessions/${await sessionIdOf(current.access_token)}?user_id=me`, { headers: asUser(current.access_token) }),
    400,
    'CANNOT_DELETE_CURRENT_SESSION',
  );
});

test('user_id=me without a user → 400 CANNOT_GET_OWN_USER_WITHOUT_USER, with client and server access', async () => {
  for (const headers of [clientHeaders(project), serverHeaders(project)]) {
    assertKnownError(await service.request('GET', '/api/v1/auth/sessions?user_id=me', { headers }), 400, 'CANNOT_GET_OWN_USER_WITHOUT_USER');
    assertKnownError(
      await service.request('DELETE', '/api/v1/auth/sessions/00000000-0000-4000-8000-000000000000?user_id=me', { headers }),
      400,
      'CANNOT_GET_OWN_USER_WITHOUT_USER',
    );
  }
});

test("user_id of someone else with a client token → 403, and nothing of theirs is revoked", async () => {
  const victim = await newUser();
  const victimSession = await newSession(victim);
  const attacker = await newSession(await newUser());
  assertKnownError(await service.request('GET', `/api/v1/auth/sessions?user_id=${victim}`, { headers: asUser(attacker.access_token) }), 403, 'CLIENT_CANNOT_ACCESS_OTHER_USER');
  const victimSessionId = await sessionIdOf(victimSession.access_token);
  assertKnownError(
    await service.request('DELETE', `/api/v1/auth/sessions/${victimSessionId}?user_id=${victim}`, { headers: asUser(attacker.access_token) }),
    403,
    'CLIENT_CANNOT_ACCESS_OTHER_USER',
  );
  // With user_id=me the attacker names only themselves: the victim's session is not theirs.
  assertKnownError(await service.request('DELETE', `/api/v1/auth/sessions/${victimSessionId}?user_id=me`, { headers: asUser(attacker.access_token) }), 404, 'SESSION_NOT_FOUND');
  const refresh = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': victimSession.refresh_token } });
  assert.is(refresh.status, 200, refresh.text);
});

test('signing out twice → the second is 401 REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED, as upstream (the SDK takes it as signed out)', async () => {
  const session = await newSession(await newUser());
  const first = await service.request('DELETE', '/api/v1/auth/sessions/current', { headers: asUser(session.access_token), body: {} });
  assert.is(first.status, 200, first.text);
  assert.equal(first.json, { success: true });
  assertKnownError(await service.request('DELETE', '/api/v1/auth/sessions/current', { headers: asUser(session.access_token), body: {} }), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
});

test.run();
