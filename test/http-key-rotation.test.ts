// Project keys and signing keys rotate (issue #22): a rotated key works to the end of its grace
// by the injected clock and never after, a revoked one stops at once (through the in-process key
// cache too), a weaker credential never changes a key, and a rotated signing key keeps every
// unexpired token verifying through the JWKS.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createAdjustableClock } from '../src/clock.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { adminHeaders, clientHeaders, serverHeaders, startTestService, type TestService } from './support/service.ts';

const clock = createAdjustableClock();
let service: TestService;

test.before(async () => {
  service = await startTestService({}, { clock: clock.now });
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

const withServerKey = (project: CreatedProject, key: string) => ({ 'x-stack-project-id': project.project_id, 'x-stack-secret-server-key': key });
const withAdminKey = (project: CreatedProject, key: string) => ({ 'x-stack-project-id': project.project_id, 'x-stack-super-secret-admin-key': key });
const readUser = (headers: Record<string, string>) => service.request('GET', `/api/v1/users/${crypto.randomUUID()}`, { headers });
/** Whether the server-level key is accepted: an unknown user is a 404 to it, a 401 to a bad key. */
async function serverKeyWorks(headers: Record<string, string>): Promise<boolean> {
  const res = await readUser(headers);
  if (res.status === 404) return true;
  if (res.status === 401) return false;
  throw new Error(`unexpected ${res.status}: ${res.text}`);
}
const rotate = (headers: Record<string, string>, body: unknown) => service.request('POST', '/api/v1/projects/current/keys/rotate', { headers, body });

test('a rotated server key keeps working to the end of its grace and never after; the new one works at once', async () => {
  const project = await service.createProject('grace');
  assert.is(await serverKeyWorks(serverHeaders(project)), true, 'the key works before (and is cached)');
  const t0 = clock.now();
  const rotated = await rotate(adminHeaders(project), { kind: 'server', grace_seconds: 60 });
  assert.is(rotated.status, 200, rotated.text);
  const ends = rotated.json.previous_key_expires_at_millis;
  assert.ok(ends >= t0 + 60_000 && ends <= clock.now() + 60_000, 'the grace runs from the rotation');
  assert.match(rotated.json.key, /^ssk_/);
  assert.ok(rotated.json.previous_key_id);
  assert.is(await serverKeyWorks(withServerKey(project, rotated.json.key)), true, 'the new key works at once');
  assert.is(await serverKeyWorks(serverHeaders(project)), true, 'the old key works within the grace');
  clock.advance(59_000);
  assert.is(await serverKeyWorks(serverHeaders(project)), true, 'still within the grace');
  clock.advance(1_000);
  const after = await readUser(serverHeaders(project));
  assert.is(after.status, 401, 'the old key stops at the end of its grace, decided by the clock (no timer ran)');
  assert.is(after.json.code, 'INVALID_SECRET_SERVER_KEY');
  clock.advance(24 * 60 * 60_000);
  assert.is(await serverKeyWorks(serverHeaders(project)), false, 'never again');
  assert.is(await serverKeyWorks(withServerKey(project, rotated.json.key)), true);
});

test('a rotation without a grace stops the old key at once', async () => {
  const project = await service.createProject('no grace');
  const t0 = clock.now();
  const rotated = await rotate(adminHeaders(project), { kind: 'client' });
  assert.is(rotated.status, 200, rotated.text);
  const ends = rotated.json.previous_key_expires_at_millis;
  assert.ok(ends >= t0 && ends <= clock.now(), 'it ended at the rotation');
  const poll = await service.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project), body: {} });
  assert.is(poll.status, 401);
  assert.is(poll.json.code, 'INVALID_PUBLISHABLE_CLIENT_KEY');
  const fresh = await service.request('POST', '/api/v1/auth/cli', { headers: { 'x-stack-project-id': project.project_id, 'x-stack-publishable-client-key': rotated.json.key }, body: {} });
  assert.is(fresh.status, 200, fresh.text);
});

test('a revoked key stops at once, although it was just read through the key cache', async () => {
  const project = await service.createProject('revoke');
  for (let i = 0; i < 3; i++) assert.is(await serverKeyWorks(serverHeaders(project)), true);
  const keys = await service.request('GET', '/api/v1/projects/current/keys', { headers: adminHeaders(project) });
  assert.is(keys.status, 200, keys.text);
  assert.is(keys.json.items.length, 3);
  const server = keys.json.items.find((k: { kind: string }) => k.kind === 'server');
  const revoked = await service.request('PATCH', `/api/v1/projects/current/keys/${server.id}`, { headers: adminHeaders(project), body: { revoked: true } });
  assert.is(revoked.status, 200, revoked.text);
  assert.is(await serverKeyWorks(serverHeaders(project)), false);
  const again = await service.request('GET', '/api/v1/projects/current/keys', { headers: adminHeaders(project) });
  assert.equal(again.json.items.map((k: { kind: string }) => k.kind).sort(), ['admin', 'client']);
  // The kind has no key now; a rotation gives it one.
  const rotated = await rotate(adminHeaders(project), { kind: 'server' });
  assert.is(rotated.json.previous_key_id, null);
  assert.is(await serverKeyWorks(withServerKey(project, rotated.json.key)), true);
});

test('a key in its grace can also be revoked early, and an unknown key id is a 404', async () => {
  const project = await service.createProject('revoke early');
  const rotated = await rotate(adminHeaders(project), { kind: 'server', grace_seconds: 3600 });
  assert.is(await serverKeyWorks(serverHeaders(project)), true);
  const revoked = await service.request('PATCH', `/api/v1/projects/current/keys/${rotated.json.previous_key_id}`, { headers: adminHeaders(project), body: { revoked: true } });
  assert.is(revoked.status, 200, revoked.text);
  assert.is(await serverKeyWorks(serverHeaders(project)), false);
  const unknown = await service.request('PATCH', `/api/v1/projects/current/keys/${crypto.randomUUID()}`, { headers: adminHeaders(project), body: { revoked: true } });
  assert.is(unknown.status, 404);
  assert.is(unknown.json.code, 'API_KEY_NOT_FOUND');
});

test('a server or client key cannot rotate or revoke any key, not even its own', async () => {
  const project = await service.createProject('weaker');
  for (const kind of ['client', 'server', 'admin']) {
    const byServer = await rotate(serverHeaders(project), { kind });
    assert.is(byServer.status, 401, byServer.text);
    assert.is(byServer.json.code, 'INSUFFICIENT_ACCESS_TYPE');
    assert.is((await rotate(clientHeaders(project), { kind })).json.code, 'INSUFFICIENT_ACCESS_TYPE');
  }
  const keys = (await service.request('GET', '/api/v1/projects/current/keys', { headers: adminHeaders(project) })).json.items;
  for (const key of keys) {
    const res = await service.request('PATCH', `/api/v1/projects/current/keys/${key.id}`, { headers: serverHeaders(project), body: { revoked: true } });
    assert.is(res.json.code, 'INSUFFICIENT_ACCESS_TYPE');
  }
  assert.is(await serverKeyWorks(serverHeaders(project)), true, 'nothing changed');
  assert.is((await rotate(serverHeaders(project), { kind: 'server' })).status, 401);
});

test('a rotated-out admin key authenticates in its grace but can neither rotate nor revoke: the thief of an old key cannot take over', async () => {
  const project = await service.createProject('retiring admin');
  const rotated = await rotate(adminHeaders(project), { kind: 'admin', grace_seconds: 600 });
  assert.is(rotated.status, 200, rotated.text);
  const old = adminHeaders(project);
  assert.is((await service.request('GET', '/api/v1/projects/current/keys', { headers: old })).status, 200, 'the old admin key still works for its grace');
  const again = await rotate(old, { kind: 'admin' });
  assert.is(again.status, 403, again.text);
  assert.is(again.json.code, 'API_KEY_RETIRING');
  const revokeNew = await service.request('PATCH', `/api/v1/projects/current/keys/${rotated.json.id}`, { headers: old, body: { revoked: true } });
  assert.is(revokeNew.json.code, 'API_KEY_RETIRING');
  assert.is((await rotate(old, { kind: 'server' })).json.code, 'API_KEY_RETIRING');
  // The new admin key can end the old one at once.
  const ended = await service.request('PATCH', `/api/v1/projects/current/keys/${rotated.json.previous_key_id}`, { headers: withAdminKey(project, rotated.json.key), body: { revoked: true } });
  assert.is(ended.status, 200, ended.text);
  assert.is((await service.request('GET', '/api/v1/projects/current/keys', { headers: old })).status, 401);
});

test('a second rotation never lengthens the grace of a key rotated out before', async () => {
  const project = await service.createProject('no lengthening');
  const first = await rotate(adminHeaders(project), { kind: 'server', grace_seconds: 10 });
  await rotate(withAdminKey(project, project.super_secret_admin_key), { kind: 'server', grace_seconds: 3600 });
  assert.is(await serverKeyWorks(serverHeaders(project)), true);
  clock.advance(10_000);
  assert.is(await serverKeyWorks(serverHeaders(project)), false, 'the original key ended at its own grace');
  assert.is(await serverKeyWorks(withServerKey(project, first.json.key)), true, 'the second key is in its hour of grace');
});

test('rotations and revocations are events on the project stream naming who did them', async () => {
  const project = await service.createProject('audit');
  await rotate(adminHeaders(project), { kind: 'client', grace_seconds: 5 });
  const events = await service.request('GET', `/api/v1/events?stream=project-${project.project_id}`, { headers: adminHeaders(project) });
  const rotatedEvent = events.json.items.find((e: { type: string }) => e.type === 'ProjectKeyRotated');
  assert.ok(rotatedEvent, events.text);
  assert.is(rotatedEvent.metadata.actor.kind, 'admin-key');
  assert.is(rotatedEvent.data.kind, 'client');
  assert.not.match(JSON.stringify(rotatedEvent), /pck_/, 'only digests are recorded');
});

async function jwks(project: CreatedProject) {
  const res = await service.request('GET', `/api/v1/projects/${project.project_id}/.well-known/jwks.json`);
  assert.is(res.status, 200, res.text);
  return res;
}

async function sessionToken(project: CreatedProject): Promise<string> {
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
  const session = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } });
  assert.is(session.status, 200, session.text);
  return session.json.access_token;
}

const verifiesViaJwks = async (token: string, keys: { keys: unknown[] }): Promise<boolean> => {
  try {
    await jwtVerify(token, createLocalJWKSet(keys as Parameters<typeof createLocalJWKSet>[0]), { currentDate: new Date(clock.now()) });
    return true;
  } catch {
    return false;
  }
};

test('a rotated signing key keeps unexpired tokens verifying via the JWKS, which publishes previous, current and next with a short max-age', async () => {
  const project = await service.createProject('signing');
  const before = await jwks(project);
  assert.match(before.headers.get('cache-control') ?? '', /^public, max-age=\d+$/);
  assert.ok(Number(/max-age=(\d+)/.exec(before.headers.get('cache-control') ?? '')?.[1]) <= 300);
  assert.is(before.json.keys.length, 2, 'current and next');
  const oldToken = await sessionToken(project);
  assert.is(decodeProtectedHeader(oldToken).kid, before.json.keys[0].kid);

  const rotated = await service.request('POST', '/api/v1/projects/current/signing-keys/rotate', { headers: adminHeaders(project) });
  assert.is(rotated.status, 200, rotated.text);
  assert.is(rotated.json.generation, 1);
  const newToken = await sessionToken(project);
  assert.is(decodeProtectedHeader(newToken).kid, before.json.keys[1].kid, 'the new key is the one the JWKS already listed as next');

  const during = await jwks(project);
  assert.is(during.json.keys.length, 3, 'current, next and previous');
  assert.ok(await verifiesViaJwks(oldToken, during.json), 'a token signed before the rotation verifies via the JWKS');
  assert.ok(await verifiesViaJwks(newToken, before.json), 'a verifier holding the JWKS from before the rotation verifies new tokens');
  assert.ok(await service.app.tokens.verify(oldToken, clock.now(), project.project_id), 'and the service still accepts it');

  const again = await service.request('POST', '/api/v1/projects/current/signing-keys/rotate', { headers: adminHeaders(project) });
  assert.is(again.status, 409, 'rotating again before the previous key is done is refused');
  assert.is(again.json.code, 'SIGNING_KEY_ROTATED_RECENTLY');
  assert.is((await service.request('POST', '/api/v1/projects/current/signing-keys/rotate', { headers: serverHeaders(project) })).json.code, 'INSUFFICIENT_ACCESS_TYPE');

  clock.advance(11 * 60_000);
  const later = await jwks(project);
  assert.is(later.json.keys.length, 2, 'the previous key is dropped once every token it signed has expired');
  assert.not.ok(later.json.keys.some((k: { kid: string }) => k.kid === before.json.keys[0].kid));
  assert.is(await service.app.tokens.verify(oldToken, clock.now(), project.project_id), undefined);
});

test.run();
