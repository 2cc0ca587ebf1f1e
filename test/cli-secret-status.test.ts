// `authlog secret status` (issue #22): after AUTHLOG_SECRET is rotated (the old one kept as
// AUTHLOG_SECRET_PREVIOUS), it counts what still depends on the old secret, kind by kind; once
// the project's keys are rotated, the old sessions revoked, the old user deleted and the data
// keys used (rewrapped), it says the previous secret can be removed; with no previous secret
// configured it says so in one line.
import { mailedCode } from './support/sign-in-person.ts';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { systemOrigin } from '../src/app-context.ts';
import { revokeSession } from '../src/commands/session/revoke-session.ts';
import { findSessionByRefreshToken } from '../src/commands/session/find-session-by-refresh-token.ts';
import { clientHeaders, serverHeaders, startTestService, type TestService } from './support/service.ts';
import { runAuthlog } from './support/spawn-authlog.ts';

const OLD = 'old-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123';
const NEW = 'new-secret-0123456789-abcdefghijklmnopqrstuvwxyz-4567';

let service: TestService | undefined;
test.after(async () => {
  await service?.stop();
  await service?.remove();
});

interface Row {
  kind: string;
  current: number;
  previous: number;
  unknown: number;
  neither: number;
}
interface Status {
  previous_configured: boolean;
  kinds: Row[];
  previous_removable: boolean;
}

async function status(dataDir: string, env: Record<string, string>, json = true): Promise<{ parsed: Status | undefined; stdout: string }> {
  const run = await runAuthlog(['secret', 'status', ...(json ? ['--json'] : [])], { AUTHLOG_DATA_DIR: dataDir, ...env });
  assert.is(run.code, 0, run.stderr);
  return { parsed: json ? (JSON.parse(run.stdout) as Status) : undefined, stdout: run.stdout };
}
const row = (s: Status, kind: string): Row => {
  const found = s.kinds.find((k) => k.kind === kind);
  if (!found) throw new Error(`no row ${kind}`);
  return found;
};

test('secret status counts what depends on the previous secret, and says it can be removed once nothing live does', async () => {
  const first = await startTestService({ AUTHLOG_SECRET: OLD });
  const dataDir = first.dataDir;
  const project = await first.createProject('secret status');
  const user = await first.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: 'old@example.com', display_name: 'Old One' } });
  assert.is(user.status, 201, user.text);
  // No email (so no reservation), a display name (so a data key), and left alone after the rotation.
  const quiet = await first.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { display_name: 'Quiet One' } });
  assert.is(quiet.status, 201, quiet.text);
  const session = await first.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } });
  assert.is(session.status, 200, session.text);
  const cli = await first.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project), body: {} });
  assert.is(cli.status, 200, cli.text);
  const code = await mailedCode(first.app, project.project_id, 'signin@example.com');
  await first.stop();

  const rotated = { AUTHLOG_SECRET: NEW, AUTHLOG_SECRET_PREVIOUS: OLD };
  const before = (await status(dataDir, rotated)).parsed!;
  assert.is(before.previous_configured, true);
  assert.equal(row(before, 'project API keys'), { kind: 'project API keys', current: 0, previous: 3, unknown: 0, neither: 0 });
  assert.equal(row(before, 'session refresh tokens'), { kind: 'session refresh tokens', current: 0, previous: 1, unknown: 0, neither: 0 });
  assert.equal(row(before, 'pending CLI logins'), { kind: 'pending CLI logins', current: 0, previous: 1, unknown: 0, neither: 0 });
  assert.equal(row(before, 'sign-in codes'), { kind: 'sign-in codes', current: 0, previous: 1, unknown: 0, neither: 0 });
  assert.equal(row(before, 'email reservations'), { kind: 'email reservations', current: 0, previous: 1, unknown: 0, neither: 0 });
  assert.ok(row(before, 'data keys').previous >= 3, 'the two users and the sign-in email, at least');
  assert.is(row(before, 'data keys').current, 0);
  assert.is(before.previous_removable, false);
  const table = (await status(dataDir, rotated, false)).stdout;
  assert.match(table, /^project API keys\s+0\s+3\s+0$/m);
  assert.match(table, /^AUTHLOG_SECRET_PREVIOUS is still needed: \d+ live thing\(s\) depend on it\.$/m);

  // The operator's side of the procedure: rotate every key, end what was issued under the old secret.
  const keys: Record<string, string> = {};
  for (const kind of ['client', 'server', 'admin']) {
    const done = await runAuthlog(['project', 'rotate-key', '--project', project.project_id, '--kind', kind, '--json'], { AUTHLOG_DATA_DIR: dataDir, ...rotated });
    assert.is(done.code, 0, done.stderr);
    keys[kind] = (JSON.parse(done.stdout) as { key: string }).key;
  }
  const renewed = { ...project, publishable_client_key: keys.client!, secret_server_key: keys.server!, super_secret_admin_key: keys.admin! };
  service = await startTestService(rotated, { dataDir });
  const s = service;
  // The sign-in code is used and the CLI login completed and claimed (both would also expire by themselves).
  const signedIn = await s.request('POST', '/api/v1/auth/otp/sign-in', { headers: clientHeaders(renewed), body: { code } });
  assert.is(signedIn.status, 200, signedIn.text);
  const complete = await s.request('POST', '/api/v1/auth/cli/complete', { headers: clientHeaders(renewed), body: { login_code: cli.json.login_code, refresh_token: session.json.refresh_token } });
  assert.is(complete.status, 200, complete.text);
  const claimed = await s.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(renewed), body: { polling_code: cli.json.polling_code } });
  assert.match(claimed.json.refresh_token ?? '', /^rt_/, claimed.text);
  const old = await findSessionByRefreshToken(s.app, project.project_id, session.json.refresh_token);
  if (!old) throw new Error('the old session is not found');
  await revokeSession(s.app, project.project_id, old.session.id, 'revoked', systemOrigin('test'));
  // The email reservation made under the old secret lasts as long as its user: it goes with them.
  assert.is((await s.request('DELETE', `/api/v1/users/${user.json.id}`, { headers: serverHeaders(renewed) })).status, 200);
  await s.stop();

  const midway = (await status(dataDir, rotated)).parsed!;
  assert.is(row(midway, 'project API keys').previous, 0);
  assert.is(row(midway, 'project API keys').current, 3);
  assert.is(row(midway, 'session refresh tokens').previous, 0);
  assert.is(row(midway, 'session refresh tokens').current, 1, "the sign-in's, under the new secret (the CLI login's ended with the old user)");
  assert.is(row(midway, 'email reservations').previous, 0);
  assert.is(row(midway, 'email reservations').current, 1, 'the user the sign-in code signed up');
  assert.ok(row(midway, 'data keys').previous >= 1, "the quiet user's key, not used since the rotation, is still wrapped under the old secret");
  assert.is(midway.previous_removable, false);

  // Reading every event opens (and so rewraps) every data key still in use.
  const read = await runAuthlog(['events', 'tail', '--lines', '100000', '--json'], { AUTHLOG_DATA_DIR: dataDir, ...rotated });
  assert.is(read.code, 0, read.stderr);
  const after = (await status(dataDir, rotated)).parsed!;
  for (const k of after.kinds) assert.equal([k.kind, k.previous, k.unknown], [k.kind, 0, 0], JSON.stringify(k));
  assert.ok(row(after, 'data keys').current >= 1);
  assert.is(after.previous_removable, true);
  assert.match((await status(dataDir, rotated, false)).stdout, /^AUTHLOG_SECRET_PREVIOUS can be removed: nothing live depends on it\.$/m);

  const alone = await status(dataDir, { AUTHLOG_SECRET: NEW }, false);
  assert.is(alone.stdout, 'AUTHLOG_SECRET_PREVIOUS is not set: nothing depends on a previous secret.\n');
});

test.run();
