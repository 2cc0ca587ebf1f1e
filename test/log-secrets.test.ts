// "Callers pass ids and digests, never secrets" (src/log.ts), end to end: the service's log at
// debug level, captured through a CLI login (over HTTP, then with the `authlog login` command as a
// user runs it), a sign-in with a code, a session's life, a wrong key
// and malformed bodies, plus the stderr of `authlog project create`, holds none of the keys,
// tokens, codes or the server secret issued on the way. The search is paired with proof that the
// capture is real: a `request` line for every route driven.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../src/log.ts';
import { resolveServerSecret } from '../src/server-secret.ts';
import { LOG_MAILER_BANNER } from '../src/mail/log-mailer.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import type { OutgoingMail } from '../src/mail/mailer.ts';
import { clientHeaders, serverHeaders, startTestService, type ApiResponse, type TestService } from './support/service.ts';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childEnv, runAuthlog } from './support/spawn-authlog.ts';

const CALLBACK = 'https://app.example.com/auth/callback';
const lines: string[] = [];
const mails: OutgoingMail[] = [];
let service: TestService;
let project: CreatedProject;
let other: CreatedProject;
const cliDir = mkdtempSync(join(tmpdir(), 'authlog-log-secrets-'));

/** Secrets searched for as substrings (with and without their typed prefix). */
const secrets = new Map<string, string>();
/** OTPs: 6 characters could occur by chance in a long log, so they are searched as whole words. */
const otps: string[] = [];
/** The x-request-id of every response, each of which must have its request line. */
const requestIds: string[] = [];

function issued(what: string, value: string): void {
  assert.ok(value && value.length >= 8, `${what} was issued: ${value}`);
  secrets.set(value, what);
  const prefix = /^(pck_|ssk_|sak_|rt_|poll_)/.exec(value)?.[1];
  if (prefix) secrets.set(value.slice(prefix.length), `${what} without ${prefix}`);
}
const issuedKeys = (p: CreatedProject, name: string) => {
  for (const k of ['publishable_client_key', 'secret_server_key', 'super_secret_admin_key'] as const) issued(`${name} ${k}`, p[k]);
};
const issuedAccessToken = (what: string, jwt: string) => issued(`${what} (signature)`, jwt.split('.')[2] ?? '');

test.before(async () => {
  // A recording mailer, not the development log mailer: that one writes the whole mail, code
  // included, to the log on purpose (see the last test), which would defeat this search.
  service = await startTestService({}, { log: createLogger('debug', (line) => lines.push(line)), mailer: { send: async (m) => void mails.push(m), close: async () => {} } });
  project = await service.createProject('secrets', ['https://app.example.com']);
  other = await service.createProject('other');
  issuedKeys(project, 'project');
  issuedKeys(other, 'other project');
  issued('server secret', resolveServerSecret(service.config).value);
});
test.after(async () => {
  await service.stop();
  await service.remove();
  rmSync(cliDir, { recursive: true, force: true });
});

async function send(method: string, path: string, body?: unknown, headers = clientHeaders(project), status = 200): Promise<ApiResponse> {
  const res = await service.request(method, path, { headers, ...(body === undefined ? {} : { body }) });
  assert.is(res.status, status, `${method} ${path}: ${res.text}`);
  requestIds.push(res.headers.get('x-request-id') ?? '');
  return res;
}

test('a CLI login, a sign-in with a code and a session\'s life, each issuing secrets, succeed', async () => {
  // A browser session: create, refresh, later sign out.
  const user = (await send('POST', '/api/v1/users', { primary_email: 'ada@example.com', primary_email_verified: true }, serverHeaders(project), 201)).json;
  const browser = (await send('POST', '/api/v1/auth/sessions', { user_id: user.id }, serverHeaders(project))).json;
  issued('browser refresh token', browser.refresh_token);
  issuedAccessToken('browser access token', browser.access_token);
  const refreshed = (await send('POST', '/api/v1/auth/sessions/current/refresh', undefined, { ...clientHeaders(project), 'x-stack-refresh-token': browser.refresh_token })).json;
  issuedAccessToken('refreshed access token', refreshed.access_token);

  // CLI login: initiate, poll (pending), complete with the refresh token, poll (the CLI's token).
  const cli = (await send('POST', '/api/v1/auth/cli', {})).json;
  issued('polling code', cli.polling_code);
  issued('login code', cli.login_code);
  issued('login code without dash', cli.login_code.replace('-', ''));
  await send('POST', '/api/v1/auth/cli/poll', { polling_code: cli.polling_code }, clientHeaders(project), 201);
  await send('POST', '/api/v1/auth/cli/complete', { login_code: cli.login_code, refresh_token: browser.refresh_token });
  const claimed = (await send('POST', '/api/v1/auth/cli/poll', { polling_code: cli.polling_code })).json;
  issued('CLI refresh token', claimed.refresh_token);

  // Sign-in code: send, one wrong guess, check, sign in.
  await send('POST', '/api/v1/auth/otp/send-sign-in-code', { email: 'grace@example.com', callback_url: CALLBACK });
  const code = /[?&]code=([0-9a-z]{45})\b/.exec(mails.at(-1)?.text ?? '')?.[1] ?? '';
  issued('sign-in code', code);
  issued('sign-in code as typed', code.slice(0, 6).toUpperCase() + code.slice(6));
  otps.push(code.slice(0, 6));
  const wrong = (code.startsWith('zzzzzz') ? 'yyyyyy' : 'zzzzzz') + code.slice(6);
  assert.equal((await send('POST', '/api/v1/auth/otp/sign-in', { code: wrong }, clientHeaders(project), 404)).json.code, 'VERIFICATION_CODE_NOT_FOUND');
  assert.equal((await send('POST', '/api/v1/auth/otp/sign-in/check-code', { code })).json, { is_code_valid: true });
  const signedIn = (await send('POST', '/api/v1/auth/otp/sign-in', { code })).json;
  issued('sign-in refresh token', signedIn.refresh_token);
  issuedAccessToken('sign-in access token', signedIn.access_token);

  await send('DELETE', '/api/v1/auth/sessions/current', undefined, { ...clientHeaders(project), 'x-stack-access-token': refreshed.access_token });
});

test('a full CLI login with the `authlog login` command: it shows a code, a user approves it, the CLI gets its refresh token', async () => {
  const bin = fileURLToPath(new URL('../bin/authlog.mjs', import.meta.url));
  const pollLines = () => lines.filter((l) => l.includes('"msg":"request"') && l.includes('"route":"/api/v1/auth/cli/poll"')).length;
  const pollsBefore = pollLines();
  const child = spawn(process.execPath, [bin, 'login', '--print', '--api', service.url, '--project', project.project_id, '--key', project.publishable_client_key], {
    env: childEnv({ LOG_LEVEL: 'debug' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const shown = new Promise<string>((resolve) =>
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const code = /approve this code in your browser: ([A-Z]{4}-[A-Z]{4})/.exec(stderr)?.[1];
      if (code) resolve(code);
    }),
  );
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const loginCode = await shown;
    issued('`authlog login` login code', loginCode);
    issued('`authlog login` login code without dash', loginCode.replace('-', ''));
    // The person approves in a browser: a session of theirs completes the attempt.
    const user = (await send('POST', '/api/v1/users', { display_name: 'cli user' }, serverHeaders(project), 201)).json;
    const browser = (await send('POST', '/api/v1/auth/sessions', { user_id: user.id }, serverHeaders(project))).json;
    issued('`authlog login` approver refresh token', browser.refresh_token);
    issuedAccessToken('`authlog login` approver access token', browser.access_token);
    await send('POST', '/api/v1/auth/cli/complete', { login_code: loginCode, refresh_token: browser.refresh_token });
    assert.is(await exited, 0, stderr);
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
  }
  const token = stdout.trim();
  assert.match(token, /^rt_[0-9a-z]{48}$/);
  issued('`authlog login` CLI refresh token', token);
  // The CLI's own polls reached the server and are in the captured log.
  // The CLI's own polls (at least the one that got the token) reached the server and are in the captured log.
  assert.ok(pollLines() > pollsBefore, 'the CLI\'s polls are logged');
});

test('a wrong key and malformed bodies carrying secrets are refused', async () => {
  const wrongKey = { 'x-stack-project-id': project.project_id, 'x-stack-secret-server-key': other.secret_server_key };
  assert.is((await send('POST', '/api/v1/users', {}, wrongKey, 401)).json.code, 'INVALID_SECRET_SERVER_KEY');
  const cut = `{"login_code": "BCDF-GHJK", "refresh_token": "${[...secrets.keys()].find((s) => s.startsWith('rt_'))}"`;
  assert.is((await send('POST', '/api/v1/auth/cli/complete', cut, clientHeaders(project), 400)).json.code, 'BODY_PARSING_ERROR');
  const extra = { polling_code: 'poll_x', note: project.super_secret_admin_key };
  assert.is((await send('POST', '/api/v1/auth/cli/poll', extra, clientHeaders(project), 400)).json.code, 'SCHEMA_ERROR');
});

test('`authlog project create` prints its keys on stdout only; its stderr at debug level is searched too', async () => {
  const run = await runAuthlog(['project', 'create', '--name', 'x', '--json'], { AUTHLOG_DATA_DIR: cliDir, LOG_LEVEL: 'debug' });
  assert.is(run.code, 0, run.stderr);
  assert.is(run.stdout.trim().split('\n').length, 1, 'one JSON line on stdout');
  const created = JSON.parse(run.stdout) as CreatedProject;
  issuedKeys(created, 'CLI-created project');
  // The command got no AUTHLOG_SECRET, so it generated one into its data dir.
  issued('CLI data dir server secret', readFileSync(join(cliDir, 'secret'), 'utf8').trim());
  for (const line of run.stderr.split('\n').filter(Boolean)) lines.push(line);
  console.log(`  # authlog project create: ${run.ms} ms, ${run.stderr.split('\n').filter(Boolean).length} stderr lines`);
});

test('the debug log has a request line for every route driven, and holds none of the secrets issued', () => {
  const entries = lines.map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      assert.unreachable(`a log line that is not JSON: ${line}`);
      return {};
    }
  });
  const requests = new Set(entries.filter((e) => e.level === 'info' && e.msg === 'request').map((e) => `${e.method} ${e.route} ${e.status}`));
  for (const expected of [
    'POST /api/v1/users 201',
    'POST /api/v1/users 401',
    'POST /api/v1/auth/sessions 200',
    'POST /api/v1/auth/sessions/current/refresh 200',
    'DELETE /api/v1/auth/sessions/current 200',
    'POST /api/v1/auth/cli 200',
    'POST /api/v1/auth/cli/poll 201',
    'POST /api/v1/auth/cli/poll 200',
    'POST /api/v1/auth/cli/poll 400',
    'POST /api/v1/auth/cli/complete 200',
    'POST /api/v1/auth/cli/complete 400',
    'POST /api/v1/auth/otp/send-sign-in-code 200',
    'POST /api/v1/auth/otp/sign-in/check-code 200',
    'POST /api/v1/auth/otp/sign-in 404',
    'POST /api/v1/auth/otp/sign-in 200',
  ]) {
    assert.ok(requests.has(expected), `no request line for ${expected}; have:\n${[...requests].sort().join('\n')}`);
  }

  const log = lines.join('\n');
  const lower = log.toLowerCase();
  const leaks = [...secrets].filter(([value]) => log.includes(value) || lower.includes(value.toLowerCase())).map(([, what]) => what);
  for (const otp of otps) if (new RegExp(`(?<![0-9a-z])${otp}(?![0-9a-z])`, 'i').test(log)) leaks.push(`OTP ${otp}`);
  assert.equal(leaks, [], `secrets in the log: ${leaks.join(', ')}`);
  // The capture is this test's: every request it sent has its line, by request id.
  const logged = new Set(entries.map((e) => e.requestId));
  assert.equal(requestIds.filter((id) => !logged.has(id)), [], 'requests without a log line');
  console.log(`  # ${lines.length} log lines (${requests.size} distinct request lines) searched for ${secrets.size} secret forms and ${otps.length} OTP`);
});

test('the development log mailer (SMTP_URL unset) is the one deliberate exception: it logs the code inside its banner', async () => {
  const devLines: string[] = [];
  const dev = await startTestService({}, { log: createLogger('debug', (line) => devLines.push(line)) });
  try {
    const p = await dev.createProject('dev', ['https://app.example.com']);
    const res = await dev.request('POST', '/api/v1/auth/otp/send-sign-in-code', { headers: clientHeaders(p), body: { email: 'dev@example.com', callback_url: CALLBACK } });
    assert.is(res.status, 200, res.text);
    const start = devLines.indexOf(`----- ${LOG_MAILER_BANNER} -----`);
    assert.ok(start >= 0, 'the mail is written to the log, under its banner');
    assert.match(devLines.slice(start).join('\n'), new RegExp(`code=[0-9a-z]{6}${res.json.nonce}`));
    assert.ok(devLines.some((l) => l.includes('"mail":"log (development only)"')), 'the start-up line says mail goes to the log');
  } finally {
    await dev.stop();
    await dev.remove();
  }
});

test.run();
