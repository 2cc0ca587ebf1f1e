// `authlog login` against a running server (issue #4, acceptance 8): it shows a code, another
// party approves it, and the CLI stores its refresh token in a 0600 file or prints it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAdjustableClock } from '../src/clock.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { clientHeaders, serverHeaders, startTestService, type TestService } from './support/service.ts';
import { childEnv } from './support/spawn-authlog.ts';

const bin = fileURLToPath(new URL('../bin/authlog.mjs', import.meta.url));
const clock = createAdjustableClock();
let service: TestService;
let project: CreatedProject;
const dir = mkdtempSync(join(tmpdir(), 'authlog-login-'));

test.before(async () => {
  service = await startTestService({}, { clock: clock.now });
  project = await service.createProject('login');
});
test.after(async () => {
  await service.stop();
  await service.remove();
  rmSync(dir, { recursive: true, force: true });
});

interface LoginRun {
  /** Resolves with the login code once the CLI has shown it. */
  code: Promise<string>;
  done: Promise<{ exit: number | null; stdout: string; stderr: string }>;
}

function startLogin(extra: string[], env: Record<string, string> = {}): LoginRun {
  const child = spawn(process.execPath, [bin, 'login', '--api', service.url, '--project', project.project_id, '--key', project.publishable_client_key, ...extra], {
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let found: (code: string) => void = () => {};
  const code = new Promise<string>((resolve) => (found = resolve));
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    const match = /approve this code in your browser: ([A-Z]{4}-[A-Z]{4})/.exec(stderr);
    if (match?.[1]) found(match[1]);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const done = new Promise<{ exit: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (exit) => {
      clearTimeout(timer);
      resolve({ exit, stdout, stderr });
    }),
  );
  return { code, done };
}

async function approve(loginCode: string): Promise<string> {
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
  const browser = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } });
  const res = await service.request('POST', '/api/v1/auth/cli/complete', { headers: clientHeaders(project), body: { login_code: loginCode, refresh_token: browser.json.refresh_token } });
  assert.is(res.status, 200, res.text);
  return user.json.id as string;
}

async function userOfRefreshToken(refreshToken: string): Promise<string | undefined> {
  const res = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': refreshToken } });
  assert.is(res.status, 200, res.text);
  return (await service.app.tokens.verify(res.json.access_token, clock.now()))?.userId;
}

test('authlog login completes when another party approves, and keeps the token in a 0600 file', async () => {
  const path = join(dir, 'nested', 'credentials.json');
  const run = startLogin(['--credentials', path], { PUBLIC_URL: 'https://auth.example.com' });
  const loginCode = await run.code;
  const userId = await approve(loginCode);
  const result = await run.done;
  assert.is(result.exit, 0, result.stderr);
  assert.match(result.stderr, `https://auth.example.com/cli?project_id=${project.project_id}&login_code=${loginCode}`);
  assert.match(result.stderr, `The refresh token is in ${path}`);
  assert.is(result.stdout, '', 'nothing secret on stdout');
  assert.is(statSync(path).mode & 0o777, 0o600);
  const saved = JSON.parse(readFileSync(path, 'utf8')) as { api: string; project_id: string; refresh_token: string };
  assert.is(saved.api, service.url);
  assert.is(saved.project_id, project.project_id);
  assert.is(await userOfRefreshToken(saved.refresh_token), userId);
});

test('authlog login --print prints the refresh token alone on stdout', async () => {
  const run = startLogin(['--print']);
  const userId = await approve(await run.code);
  const result = await run.done;
  assert.is(result.exit, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  assert.is(lines.length, 1);
  assert.match(lines[0] ?? '', /^rt_[0-9a-z]{48}$/);
  assert.is(await userOfRefreshToken(lines[0]!), userId);
});

test('authlog login says clearly when the code expired, exit 1', async () => {
  const run = startLogin(['--print']);
  await run.code;
  clock.advance(15 * 60_000);
  const result = await run.done;
  assert.is(result.exit, 1);
  assert.match(result.stderr, 'authlog: The login code expired before it was approved. Run `authlog login` again.');
  assert.is(result.stdout, '');
});

test('authlog login with a wrong key fails with one line naming the error', async () => {
  const child = spawn(process.execPath, [bin, 'login', '--api', service.url, '--project', project.project_id, '--key', 'pck_wrong'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = await new Promise((resolve) => child.on('close', resolve));
  assert.is(exit, 1);
  assert.is(stderr.trim(), 'authlog: could not start the login: 401 INVALID_PUBLISHABLE_CLIENT_KEY: The publishable client key is not valid for this project.');
});

test.run();
