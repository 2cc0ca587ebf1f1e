// AUTHLOG_SECRET rotates without invalidating anything (issue #22): a service restarted with a
// new secret and the old one as AUTHLOG_SECRET_PREVIOUS still accepts every key, refresh token,
// access token, polling code, login code and sign-in code issued under the old one, and an email
// taken under the old secret still blocks a duplicate under the new one.
import { mailedCode } from './support/sign-in-person.ts';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { adminHeaders, clientHeaders, serverHeaders, startTestService, type TestService } from './support/service.ts';

const OLD = 'old-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123';
const NEW = 'new-secret-0123456789-abcdefghijklmnopqrstuvwxyz-4567';
/** Fixed, so that the issuer of access tokens is the same across restarts (the port is not). */
const PUBLIC_URL = 'http://authlog.test';

let service: TestService | undefined;
test.after(async () => {
  await service?.stop();
  await service?.remove();
});

test('a rotated secret keeps every existing key, token and code working, and old emails still block duplicates', async () => {
  const first = await startTestService({ AUTHLOG_SECRET: OLD, PUBLIC_URL });
  const dataDir = first.dataDir;
  const project = await first.createProject('keyring');
  const user = await first.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: 'old@example.com' } });
  assert.is(user.status, 201, user.text);
  const doomed = await first.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: 'doomed@example.com' } });
  const session = await first.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } });
  assert.is(session.status, 200, session.text);
  const cli = await first.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project), body: {} });
  const cli2 = await first.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project), body: {} });
  const code = await mailedCode(first.app, project.project_id, 'signin@example.com');
  const code2 = await mailedCode(first.app, project.project_id, 'signin2@example.com');
  await first.stop();

  service = await startTestService({ AUTHLOG_SECRET: NEW, AUTHLOG_SECRET_PREVIOUS: OLD, PUBLIC_URL }, { dataDir });
  const s = service;
  // Keys.
  assert.is((await s.request('GET', `/api/v1/users/${user.json.id}`, { headers: serverHeaders(project) })).status, 200, 'server key');
  assert.is((await s.request('GET', '/api/v1/projects/current/keys', { headers: adminHeaders(project) })).status, 200, 'admin key');
  // Access token signed under the old secret.
  const me = await s.request('GET', '/api/v1/users/me', { headers: { ...clientHeaders(project), 'x-stack-access-token': session.json.access_token } });
  assert.is(me.status, 200, me.text);
  assert.ok(await s.app.tokens.verify(session.json.access_token, Date.now(), project.project_id));
  const jwks = await s.request('GET', `/api/v1/projects/${project.project_id}/.well-known/jwks.json`);
  assert.is(jwks.json.keys.length, 3, "the new secret's current and next keys, and the old secret's key");
  // Refresh token.
  const refreshed = await s.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': session.json.refresh_token } });
  assert.is(refreshed.status, 200, refreshed.text);
  // Polling code and login code.
  const poll = await s.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: cli.json.polling_code } });
  assert.is(poll.json.status, 'pending', poll.text);
  const complete = await s.request('POST', '/api/v1/auth/cli/complete', { headers: clientHeaders(project), body: { login_code: cli2.json.login_code, refresh_token: session.json.refresh_token } });
  assert.is(complete.status, 200, complete.text);
  const claimed = await s.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: cli2.json.polling_code } });
  assert.match(claimed.json.refresh_token ?? '', /^rt_/, claimed.text);
  // Sign-in codes: checked, and used.
  const checked = await s.request('POST', '/api/v1/auth/otp/sign-in/check-code', { headers: clientHeaders(project), body: { code: code2 } });
  assert.is(checked.json.is_code_valid, true, checked.text);
  const signedIn = await s.request('POST', '/api/v1/auth/otp/sign-in', { headers: clientHeaders(project), body: { code } });
  assert.is(signedIn.status, 200, signedIn.text);
  // Emails: a duplicate of an email taken under the old secret is refused.
  const duplicate = await s.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: 'old@example.com' } });
  assert.is(duplicate.status, 409, duplicate.text);
  assert.is(duplicate.json.code, 'USER_EMAIL_ALREADY_EXISTS');
  // Deleting a user created under the old secret frees their email for a new one.
  assert.is((await s.request('DELETE', `/api/v1/users/${doomed.json.id}`, { headers: serverHeaders(project) })).status, 200);
  const reused = await s.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: 'doomed@example.com' } });
  assert.is(reused.status, 201, reused.text);
  const dupNew = await s.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: 'doomed@example.com' } });
  assert.is(dupNew.status, 409, 'and the new reservation blocks the next duplicate');
  await s.stop();

  // Without the previous secret, what it made is gone: the keyring, not luck, kept them working.
  service = await startTestService({ AUTHLOG_SECRET: NEW, PUBLIC_URL }, { dataDir });
  assert.is((await service.request('GET', `/api/v1/users/${user.json.id}`, { headers: serverHeaders(project) })).status, 401);
});

test.run();
