// `authlog serve` and `authlog project create` as separate processes on one data dir, as the
// README's quick start runs them: issue #2's acceptance 2 and 3, and bad configuration.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import { startSmtpReceiver } from './support/smtp-receiver.ts';
import * as assert from 'uvu/assert';
import { request } from './support/service.ts';
import { runAuthlog, startAuthlogServer } from './support/spawn-authlog.ts';

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'authlog-cli-'));
  dirs.push(dir);
  return dir;
};
/** Calls `attempt` every 20 ms until `done` holds or 1 s has passed; returns the last answer. */
async function retryUntil<T>(attempt: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 1000;
  let value = await attempt();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    value = await attempt();
  }
  return value;
}

test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('serve honours PORT and HOST; a project created by the CLI meanwhile works over HTTP within 1 s', async () => {
  const dataDir = tempDir();
  const env = { AUTHLOG_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' };
  const server = await startAuthlogServer(env);
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.is((await request(server.url, 'GET', '/health')).status, 200);

    const created = await runAuthlog(['project', 'create', '--name', 'demo', '--trusted-domain', 'https://app.example.com/path', '--json'], env);
    assert.is(created.code, 0, created.stderr);
    const project = JSON.parse(created.stdout) as Record<string, unknown>;
    assert.equal(Object.keys(project).sort(), ['name', 'project_id', 'publishable_client_key', 'secret_server_key', 'super_secret_admin_key', 'trusted_domains']);
    assert.equal(project.trusted_domains, ['https://app.example.com']);
    assert.match(String(project.publishable_client_key), /^pck_[0-9a-z]{48}$/);
    assert.match(String(project.secret_server_key), /^ssk_[0-9a-z]{48}$/);
    assert.match(String(project.super_secret_admin_key), /^sak_[0-9a-z]{48}$/);

    const headers = { 'x-stack-project-id': String(project.project_id), 'x-stack-secret-server-key': String(project.secret_server_key) };
    const exitedAt = Date.now();
    const res = await retryUntil(() => request(server.url, 'POST', '/api/v1/users', { headers, body: {} }), (r) => r.status === 201);
    assert.is(res.status, 201, `not visible within 1 s: ${res.text}`);
    console.log(`  # project created by the CLI: usable ${Date.now() - exitedAt} ms after the CLI exited`);
    assert.is(statSync(join(dataDir, 'secret')).mode & 0o777, 0o600, 'the generated secret is private');
    assert.is(await server.stop('SIGTERM'), 0, 'a clean shutdown exits 0');
  } finally {
    server.child.kill('SIGKILL');
  }
});

test('project add-admin names an existing user as admin; an unknown user is refused with one line', async () => {
  const dataDir = tempDir();
  const smtp = await startSmtpReceiver();
  const env = { AUTHLOG_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info', SMTP_URL: smtp.url };
  const server = await startAuthlogServer(env);
  try {
    const created = await runAuthlog(['project', 'create', '--name', 'admins', '--trusted-domain', 'http://localhost', '--json'], env);
    const project = JSON.parse(created.stdout) as { project_id: string; secret_server_key: string; publishable_client_key: string };
    const headers = { 'x-stack-project-id': project.project_id, 'x-stack-secret-server-key': project.secret_server_key };
    // What the CLI appends reaches the server through its subscription, within a second.
    const user = await retryUntil(() => request(server.url, 'POST', '/api/v1/users', { headers, body: { primary_email: 'admin@cli.example', primary_email_verified: true } }), (r) => r.status === 201);
    assert.is(user.status, 201, user.text);
    const unknown = await runAuthlog(['project', 'add-admin', '--project', project.project_id, '--user', '11111111-1111-4111-8111-111111111111'], env);
    assert.is(unknown.code, 1);
    assert.is(unknown.stderr.trim(), `authlog: user 11111111-1111-4111-8111-111111111111 does not exist in project ${project.project_id}`);
    const added = await runAuthlog(['project', 'add-admin', '--project', project.project_id, '--user', user.json.id], env);
    assert.is(added.code, 0, added.stderr);
    assert.is(added.stdout.trim(), `User ${user.json.id} is an admin of project ${project.project_id}.`);

    // The access token of a session they started themselves (a sign-in with an emailed code) now
    // acts with admin access: it may list impersonation sessions. (One a key made for them never does.)
    const clientHeaders = { 'x-stack-project-id': project.project_id, 'x-stack-publishable-client-key': project.publishable_client_key };
    const sent = await request(server.url, 'POST', '/api/v1/auth/otp/send-sign-in-code', { headers: clientHeaders, body: { email: 'admin@cli.example', callback_url: 'http://localhost/cb' } });
    assert.is(sent.status, 200, sent.text);
    const mail = await smtp.waitForMail((m) => m.to.includes('admin@cli.example'));
    const code = /[?&]code=([0-9a-z]{45})/.exec(mail.text)?.[1] ?? '';
    const session = await request(server.url, 'POST', '/api/v1/auth/otp/sign-in', { headers: clientHeaders, body: { code } });
    assert.is(session.status, 200, session.text);
    const adminHeaders = { 'x-stack-project-id': project.project_id, 'x-stack-admin-access-token': session.json.access_token };
    const list = () => request(server.url, 'GET', `/api/v1/auth/sessions?user_id=${user.json.id}`, { headers: adminHeaders });
    const listed = await retryUntil(list, (r) => r.status === 200);
    assert.is(listed.status, 200, listed.text);

    const removed = await runAuthlog(['project', 'remove-admin', '--project', project.project_id, '--user', user.json.id], env);
    assert.is(removed.code, 0, removed.stderr);
    const refused = await retryUntil(list, (r) => r.status !== 200);
    assert.is(refused.json?.code, 'INVALID_ADMIN_ACCESS_TOKEN');
  } finally {
    await server.stop();
    await smtp.stop();
  }
});

test('project set-trusted-domains changes where sign-in links may point, on a running server', async () => {
  const dataDir = tempDir();
  const env = { AUTHLOG_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info' };
  const server = await startAuthlogServer(env);
  try {
    const created = await runAuthlog(['project', 'create', '--name', 'domains', '--trusted-domain', 'https://old.example.com', '--json'], env);
    const project = JSON.parse(created.stdout) as { project_id: string; publishable_client_key: string };
    const headers = { 'x-stack-project-id': project.project_id, 'x-stack-publishable-client-key': project.publishable_client_key };
    const send = (callback: string) => request(server.url, 'POST', '/api/v1/auth/otp/send-sign-in-code', { headers, body: { email: 'a@example.com', callback_url: callback } });
    assert.is((await retryUntil(() => send('https://old.example.com/cb'), (r) => r.status === 200)).status, 200);
    const set = await runAuthlog(['project', 'set-trusted-domains', '--project', project.project_id, '--trusted-domain', 'https://*.new.example.com'], env);
    assert.is(set.code, 0, set.stderr);
    assert.is(set.stdout.trim(), `Project ${project.project_id} trusts https://*.new.example.com.`);
    const refused = await retryUntil(() => send('https://old.example.com/cb'), (r) => r.status !== 200);
    assert.is(refused.json?.code, 'REDIRECT_URL_NOT_WHITELISTED');
    assert.is((await send('https://app.new.example.com/cb')).status, 200);
    assert.match(server.output(), 'DEVELOPMENT ONLY: SMTP_URL is not set, this email was not sent');
  } finally {
    await server.stop();
  }
});

test('project set-rate-limit overrides a limit, puts it back with --default, and refuses unknown names', async () => {
  const env = { AUTHLOG_DATA_DIR: tempDir() };
  const created = await runAuthlog(['project', 'create', '--name', 'limits', '--json'], env);
  const { project_id: id } = JSON.parse(created.stdout) as { project_id: string };
  const set = await runAuthlog(['project', 'set-rate-limit', '--project', id, '--name', 'cli-polls-per-code', '--limit', '30'], env);
  assert.is(set.code, 0, set.stderr);
  assert.is(set.stdout.trim(), `Project ${id}: cli-polls-per-code is 30 per 10 s.`);
  const back = await runAuthlog(['project', 'set-rate-limit', '--project', id, '--name', 'cli-polls-per-code', '--default'], env);
  assert.is(back.stdout.trim(), `Project ${id}: cli-polls-per-code is 15 per 10 s (the default).`);
  const wrong = await runAuthlog(['project', 'set-rate-limit', '--project', id, '--name', 'everything', '--limit', '1'], env);
  assert.is(wrong.code, 2);
  assert.match(wrong.stderr, /^authlog: --name must be one of login-code-guesses-per-address, /);
});

test('npm start\'s defaults: 127.0.0.1:8102 and ./.authlog, when nothing is set', async () => {
  const cwd = tempDir();
  const env: Record<string, string> = { AUTHLOG_DATA_DIR: '', PORT: '', HOST: '' };
  let server;
  try {
    server = await startAuthlogServer(env, cwd);
  } catch (error) {
    // Another authlog may hold 8102 on a developer's machine; CI's is free.
    if (/EADDRINUSE/.test(String(error))) return console.log('  # port 8102 busy here; default port not checked');
    throw error;
  }
  try {
    assert.is(server.url, 'http://127.0.0.1:8102');
    assert.ok(statSync(join(cwd, '.authlog', 'events.db')).isFile());
  } finally {
    await server.stop();
  }
});

test('a bad value stops the start with one line naming the variable', async () => {
  for (const [name, value] of [['PORT', 'eighty'], ['LOG_LEVEL', 'loud'], ['REDIS_URL', 'http://nope'], ['AUTHLOG_SECRET', 'short']] as const) {
    const run = await runAuthlog(['serve'], { AUTHLOG_DATA_DIR: tempDir(), PORT: '0', [name]: value });
    assert.is(run.code, 1, `${name}: ${run.stderr}`);
    const lines = run.stderr.trim().split('\n');
    assert.is(lines.length, 1, run.stderr);
    assert.match(lines[0] ?? '', `authlog: Invalid configuration: ${name} `);
  }
  const run = await runAuthlog(['serve'], { AUTHLOG_DATA_DIR: tempDir(), PORT: '0', EVENTSTORE_URL: 'esdb://127.0.0.1:1?tls=false', AUTHLOG_SECRET: '' });
  assert.is(run.code, 1);
  assert.match(run.stderr, /^authlog: Invalid configuration: AUTHLOG_SECRET is required with EVENTSTORE_URL/);
});

test('project create refuses a missing name or a bad trusted domain with one line, exit 2, and writes nothing', async () => {
  const dataDir = tempDir();
  const noName = await runAuthlog(['project', 'create', '--json'], { AUTHLOG_DATA_DIR: dataDir });
  assert.is(noName.code, 2);
  assert.is(noName.stderr.trim(), 'authlog: project create needs --name NAME');
  const badDomain = await runAuthlog(['project', 'create', '--name', 'x', '--trusted-domain', 'ftp://x'], { AUTHLOG_DATA_DIR: dataDir });
  assert.is(badDomain.code, 2);
  assert.match(badDomain.stderr, /--trusted-domain "ftp:\/\/x" is not an http\(s\) URL/);
  const unknown = await runAuthlog(['project', 'create', '--name', 'x', '--colour', 'red'], { AUTHLOG_DATA_DIR: dataDir });
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /^authlog: Unknown option '--colour'/);
  assert.not.ok(existsSync(join(dataDir, 'events.db')), 'refused commands never opened the store');
  const human = await runAuthlog(['project', 'create', '--name', 'readable'], { AUTHLOG_DATA_DIR: dataDir });
  assert.is(human.code, 0, human.stderr);
  assert.match(human.stdout, /secret_server_key\s+ssk_/);
  assert.match(human.stdout, /shown only now/);
});

test.run();
