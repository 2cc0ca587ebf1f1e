// The publishable client key is optional unless the project requires it (upstream's
// `requirePublishableClientKey`, off by default since 2026; issue #24): an SDK app built without a
// key sends x-stack-access-type: client and x-stack-project-id only. Tried as an attacker would:
// going without a key gives client access to that project and nothing more.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { adminHeaders, clientHeaders, serverHeaders, startTestService, type ApiResponse, type TestService } from './support/service.ts';
import { runAuthlog } from './support/spawn-authlog.ts';

let service: TestService;
let project: CreatedProject;

test.before(async () => {
  service = await startTestService();
  project = await service.createProject('keyless', ['https://app.example.com']);
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

const keyless = () => ({ 'x-stack-access-type': 'client', 'x-stack-project-id': project.project_id });

function assertKnownError(res: ApiResponse, status: number, code: string): void {
  assert.is(res.status, status, res.text);
  assert.is(res.json?.code, code, res.text);
}

async function userSession(): Promise<{ id: string; access_token: string; refresh_token: string }> {
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
  const session = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } });
  assert.is(session.status, 200, session.text);
  return { id: user.json.id, ...session.json };
}

const oauthRefresh = (refreshToken: string, clientSecret: string) =>
  service.request('POST', '/api/v1/auth/oauth/token', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: project.project_id, client_secret: clientSecret }).toString(),
  });

const setRequired = (required: boolean) =>
  service.request('PATCH', '/api/v1/projects/current/config', { headers: adminHeaders(project), body: { require_publishable_client_key: required } });

test('by default a client call without a publishable key works: the own user, a refresh, a sign-in code', async () => {
  const session = await userSession();
  const me = await service.request('GET', '/api/v1/users/me', { headers: { ...keyless(), 'x-stack-access-token': session.access_token } });
  assert.is(me.status, 200, me.text);
  assert.is(me.json.id, session.id);
  const refreshed = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...keyless(), 'x-stack-refresh-token': session.refresh_token } });
  assert.is(refreshed.status, 200, refreshed.text);
  const sent = await service.request('POST', '/api/v1/auth/otp/send-sign-in-code', { headers: keyless(), body: { email: 'keyless@example.com', callback_url: 'https://app.example.com/cb' } });
  assert.is(sent.status, 200, sent.text);
  // The SDK refreshes through OAuth's token endpoint with upstream's "no key" sentinel.
  const token = await oauthRefresh(session.refresh_token, '__stack_public_client__');
  assert.is(token.status, 200, token.text);
});

test('a publishable key that is sent must still be valid; the sentinel in the header is no key', async () => {
  assertKnownError(await service.request('POST', '/api/v1/auth/cli', { headers: { ...keyless(), 'x-stack-publishable-client-key': 'pck_wrong' }, body: {} }), 401, 'INVALID_PUBLISHABLE_CLIENT_KEY');
  assertKnownError(await oauthRefresh('rt_whatever', 'pck_wrong'), 401, 'INVALID_PUBLISHABLE_CLIENT_KEY');
  const sentinel = await service.request('POST', '/api/v1/auth/cli', { headers: { ...keyless(), 'x-stack-publishable-client-key': '__stack_public_client__' }, body: {} });
  assert.is(sentinel.status, 200, sentinel.text);
});

test('without a key a caller gets client access only: server and admin access still need their keys, server routes refuse it', async () => {
  assertKnownError(await service.request('POST', '/api/v1/users', { headers: { ...keyless(), 'x-stack-access-type': 'server' }, body: {} }), 400, 'ACCESS_TYPE_REQUIRED');
  assertKnownError(await service.request('GET', '/api/v1/projects/current/keys', { headers: { ...keyless(), 'x-stack-access-type': 'admin' } }), 400, 'ACCESS_TYPE_REQUIRED');
  assertKnownError(await service.request('GET', '/api/v1/users', { headers: keyless() }), 401, 'INSUFFICIENT_ACCESS_TYPE');
  assertKnownError(await service.request('POST', '/api/v1/users', { headers: keyless(), body: {} }), 401, 'INSUFFICIENT_ACCESS_TYPE');
  // The project must be named, and exist; an access type alone is nothing.
  assertKnownError(await service.request('POST', '/api/v1/auth/cli', { headers: { 'x-stack-access-type': 'client' }, body: {} }), 400, 'ACCESS_TYPE_REQUIRED');
  assertKnownError(await service.request('POST', '/api/v1/auth/cli', { headers: { ...keyless(), 'x-stack-project-id': '00000000-0000-4000-8000-000000000000' }, body: {} }), 400, 'CURRENT_PROJECT_NOT_FOUND');
  assertKnownError(await service.request('POST', '/api/v1/auth/cli', { headers: { 'x-stack-project-id': project.project_id }, body: {} }), 400, 'ACCESS_TYPE_REQUIRED');
});

test('a project that requires the key refuses a client call without one (401 PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT), the sentinel too; the key still works', async () => {
  const session = await userSession();
  const on = await setRequired(true);
  assert.equal([on.status, on.json.require_publishable_client_key], [200, true]);
  try {
    const refused = await service.request('GET', '/api/v1/users/me', { headers: { ...keyless(), 'x-stack-access-token': session.access_token } });
    assertKnownError(refused, 401, 'PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT');
    assert.equal(refused.json.details, { project_id: project.project_id });
    assertKnownError(await oauthRefresh(session.refresh_token, '__stack_public_client__'), 401, 'PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT');
    assertKnownError(await service.request('POST', '/api/v1/auth/cli', { headers: { ...keyless(), 'x-stack-publishable-client-key': '__stack_public_client__' }, body: {} }), 401, 'PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT');
    const withKey = await service.request('GET', '/api/v1/users/me', { headers: { ...clientHeaders(project), 'x-stack-access-token': session.access_token } });
    assert.is(withKey.status, 200, withKey.text);
    assert.is((await oauthRefresh(session.refresh_token, project.publishable_client_key)).status, 200);
  } finally {
    await setRequired(false);
  }
});

test('only admin access reads or changes the project config; a client or server key is refused and nothing changes', async () => {
  for (const headers of [clientHeaders(project), serverHeaders(project), keyless()]) {
    assertKnownError(await service.request('PATCH', '/api/v1/projects/current/config', { headers, body: { require_publishable_client_key: true } }), 401, 'INSUFFICIENT_ACCESS_TYPE');
  }
  const now = await service.request('GET', '/api/v1/projects/current/config', { headers: adminHeaders(project) });
  assert.equal(now.json, { require_publishable_client_key: false, client_user_deletion_enabled: false });
  assertKnownError(await service.request('PATCH', '/api/v1/projects/current/config', { headers: adminHeaders(project), body: { require_publishable_client_key: 'yes' } }), 400, 'SCHEMA_ERROR');
});

test('authlog project set-config sets the requirement on the project stream; the server follows it', async () => {
  const env = {
    AUTHLOG_DATA_DIR: service.dataDir,
    ...(service.config.EVENTSTORE_URL ? { EVENTSTORE_URL: service.config.EVENTSTORE_URL, AUTHLOG_SECRET: service.config.AUTHLOG_SECRET ?? '' } : {}),
  };
  const dataDir = service.dataDir;
  await service.stop();
  const set = await runAuthlog(['project', 'set-config', '--project', project.project_id, '--require-publishable-client-key', 'true'], env);
  assert.is(set.code, 0, set.stderr);
  assert.match(set.stdout, 'publishable client key required, client user deletion disabled.');
  const bad = await runAuthlog(['project', 'set-config', '--project', project.project_id, '--client-user-deletion', 'maybe'], env);
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, '--client-user-deletion must be true or false');
  service = await startTestService({}, { dataDir });
  assertKnownError(await service.request('POST', '/api/v1/auth/cli', { headers: keyless(), body: {} }), 401, 'PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT');
  const events = (await service.request('GET', `/api/v1/events?stream=project-${project.project_id}`, { headers: adminHeaders(project) })).json.items;
  assert.ok(events.some((e: { type: string; data: { requirePublishableClientKey?: boolean } }) => e.type === 'ProjectConfigChanged' && e.data.requirePublishableClientKey === true));
});

test.run();
