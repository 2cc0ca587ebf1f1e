// `authlog login`: the reference client of the CLI login. It starts an attempt, shows the login
// code for the person to approve in a browser, polls once a second, and keeps the refresh token
// it receives in a credentials file only the user can read (or prints it with --print).
// Messages go to stderr, so that `--print` leaves stdout holding the token alone.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { UsageError } from './usage.ts';

export interface LoginIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Record<string, string | undefined>;
}

const POLL_INTERVAL_MS = 1000;
/** Shown to the person on the approval page, next to the address the login came from. */
const USER_AGENT = `authlog-login (node ${process.version}; ${process.platform})`;

export function defaultCredentialsPath(env: Record<string, string | undefined>): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'authlog', 'credentials.json');
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  retryAfterSeconds: number | undefined;
}

async function call(api: string, path: string, headers: Record<string, string>, body: unknown): Promise<Answer> {
  const response = await fetch(api.replace(/\/+$/, '') + path, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', 'user-agent': USER_AGENT },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { error: text.slice(0, 200) };
  }
  const retryAfter = Number(response.headers.get('retry-after'));
  return { status: response.status, body: parsed, retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined };
}

const describe = (answer: Answer): string =>
  `${answer.status} ${typeof answer.body.code === 'string' ? answer.body.code + ': ' : ''}${String(answer.body.error ?? JSON.stringify(answer.body))}`;

/** Writes the file whole or not at all (a rename), readable by the user only. */
function saveCredentials(path: string, content: unknown): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(content, null, 2) + '\n', { mode: 0o600 });
  renameSync(temporary, path);
}

export async function loginCommand(args: string[], io: LoginIo): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      api: { type: 'string' },
      project: { type: 'string' },
      key: { type: 'string' },
      print: { type: 'boolean', default: false },
      credentials: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const api = values.api ?? io.env.AUTHLOG_API;
  const projectId = values.project ?? io.env.AUTHLOG_PROJECT_ID;
  const key = values.key ?? io.env.AUTHLOG_PUBLISHABLE_KEY;
  if (!api || !/^https?:\/\//.test(api)) throw new UsageError('login needs --api URL (e.g. http://127.0.0.1:8102)');
  if (!projectId) throw new UsageError('login needs --project PROJECT_ID');
  if (!key) throw new UsageError('login needs --key PUBLISHABLE_CLIENT_KEY');
  const headers = { 'x-stack-project-id': projectId, 'x-stack-publishable-client-key': key };

  const started = await call(api, '/api/v1/auth/cli', headers, {});
  if (started.status !== 200) throw new Error(`could not start the login: ${describe(started)}`);
  const pollingCode = String(started.body.polling_code);
  const loginCode = String(started.body.login_code);
  const expiresAt = String(started.body.expires_at);

  io.err(`To log in, approve this code in your browser: ${loginCode}`);
  const publicUrl = io.env.PUBLIC_URL;
  // The project is in the link: login codes are unique per project only, and the id is no secret.
  if (publicUrl) io.err(`  ${publicUrl.replace(/\/+$/, '')}/cli?project_id=${encodeURIComponent(projectId)}&login_code=${encodeURIComponent(loginCode)}`);
  io.err(`Waiting for approval (the code expires at ${expiresAt})…`);

  for (;;) {
    let answer: Answer;
    try {
      answer = await call(api, '/api/v1/auth/cli/poll', headers, { polling_code: pollingCode });
    } catch (error) {
      // The service may be restarting: keep polling until the code expires.
      io.err(`(could not reach ${api}: ${(error as Error).message}; retrying)`);
      if (Date.now() > Date.parse(expiresAt)) throw new Error('The login code expired before it was approved. Run `authlog login` again.');
      await delay(POLL_INTERVAL_MS);
      continue;
    }
    const status = answer.body.status;
    if (answer.status === 201 && status === 'pending') {
      await delay(POLL_INTERVAL_MS);
      continue;
    }
    if (answer.status === 429) {
      await delay((answer.retryAfterSeconds ?? 1) * 1000);
      continue;
    }
    if (answer.status === 200 && status === 'completed' && typeof answer.body.refresh_token === 'string') {
      const refreshToken = answer.body.refresh_token;
      if (values.print) {
        io.err('Logged in.');
        io.out(refreshToken);
        return;
      }
      const path = values.credentials ?? defaultCredentialsPath(io.env);
      saveCredentials(path, { api, project_id: projectId, refresh_token: refreshToken, saved_at: new Date().toISOString() });
      io.err(`Logged in. The refresh token is in ${path} (readable by you only).`);
      return;
    }
    if (status === 'expired') throw new Error('The login code expired before it was approved. Run `authlog login` again.');
    if (status === 'denied') throw new Error('The login was denied in the browser.');
    if (status === 'used') throw new Error('This login was already used by another poll. Run `authlog login` again.');
    throw new Error(`unexpected answer while polling: ${describe(answer)}`);
  }
}
