// Issue 18's two operator stories, with real `authlog serve` processes and a real Redis (a prefix
// of the test's own): (1) a fresh data dir started beside the Redis of an earlier one, and (2) a
// data dir restored from a copy taken earlier, written to differently, while Redis moved on.
// Every project, user and session of the current log is found; nothing of the other history is;
// the read model is rebuilt exactly once (counted by its log line), and an ordinary restart on
// the same log and Redis does not rebuild.
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FOREIGN_READ_MODEL_MSG } from '../src/projections/read-model-ownership.ts';
import { checkRedisOrExplain, testRedisUrl } from './support/redis-check.ts';
import { deleteRedisKeys, request } from './support/service.ts';
import { runAuthlog, startAuthlogServer, type ServerProcess } from './support/spawn-authlog.ts';

const unavailable = await checkRedisOrExplain();
if (unavailable !== undefined) {
  console.error(unavailable);
  process.exit(1);
}

const root = mkdtempSync(join(tmpdir(), 'authlog-ownership-e2e-'));
const prefixes: string[] = [];
const servers: ServerProcess[] = [];
const SECRET = 'authlog-ownership-e2e-secret-0123456789-abcdefghijklmnop';

/** The same secret for every data dir: only the read model decides what is found. */
function envFor(dataDir: string, prefix: string): Record<string, string> {
  return { AUTHLOG_DATA_DIR: dataDir, REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix, AUTHLOG_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' };
}

function newPrefix(): string {
  const prefix = `authlog-test-ownership-e2e-${randomUUID()}`;
  prefixes.push(prefix);
  return prefix;
}

async function serve(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startAuthlogServer(env);
  servers.push(server);
  return server;
}

async function stop(server: ServerProcess): Promise<void> {
  // serve installs its SIGTERM handler just after it logs "listening": one answer proves it has.
  assert.is((await request(server.url, 'GET', '/health')).status, 200);
  const code = await server.stop('SIGTERM');
  assert.is(code, 0, `a clean stop:\n${server.output().split('\n').slice(-8).join('\n')}`);
}

/** Rebuild warnings the server printed, with their verdicts. */
function rebuilds(server: ServerProcess): string[] {
  const verdicts: string[] = [];
  for (const line of server.output().split('\n')) {
    if (!line.includes(FOREIGN_READ_MODEL_MSG)) continue;
    const entry = JSON.parse(line) as { msg?: string; level?: string; verdict?: string };
    if (entry.msg === FOREIGN_READ_MODEL_MSG) verdicts.push(String(entry.verdict));
  }
  return verdicts;
}

interface Project {
  project_id: string;
  publishable_client_key: string;
  secret_server_key: string;
}

async function createProject(env: Record<string, string>, name: string): Promise<Project> {
  const created = await runAuthlog(['project', 'create', '--name', name, '--json'], env);
  assert.is(created.code, 0, created.stderr);
  return JSON.parse(created.stdout) as Project;
}

const server = (p: Project) => ({ 'x-stack-project-id': p.project_id, 'x-stack-secret-server-key': p.secret_server_key });
const client = (p: Project) => ({ 'x-stack-project-id': p.project_id, 'x-stack-publishable-client-key': p.publishable_client_key });

/** A user of the project, created over HTTP once the server has projected the project (CLI-created). */
async function createUser(url: string, p: Project): Promise<string> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const res = await request(url, 'POST', '/api/v1/users', { headers: server(p), body: {} });
    if (res.status === 201) return res.json.id as string;
    if (Date.now() > deadline) assert.unreachable(`the project created by the CLI never became usable: ${res.status} ${res.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function createSession(url: string, p: Project, userId: string): Promise<string> {
  const res = await request(url, 'POST', '/api/v1/auth/sessions', { headers: server(p), body: { user_id: userId } });
  assert.is(res.status, 200, res.text);
  return res.json.refresh_token as string;
}

const refresh = (url: string, p: Project, token: string) =>
  request(url, 'POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...client(p), 'x-stack-refresh-token': token } });
const getUser = (url: string, p: Project, userId: string) => request(url, 'GET', `/api/v1/users/${userId}`, { headers: server(p) });

/** Found: its server key works (a user is created in it). */
async function assertProjectFound(url: string, p: Project, what: string): Promise<void> {
  const res = await request(url, 'POST', '/api/v1/users', { headers: server(p), body: {} });
  assert.is(res.status, 201, `${what}: ${res.text}`);
}

async function assertProjectNotFound(url: string, p: Project, what: string): Promise<void> {
  const res = await request(url, 'POST', '/api/v1/users', { headers: server(p), body: {} });
  assert.is(res.status, 400, `${what}: ${res.status} ${res.text}`);
  assert.is(res.json?.code, 'CURRENT_PROJECT_NOT_FOUND', what);
}

function copyLog(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) if (name.startsWith('events.db')) copyFileSync(join(from, name), join(to, name));
}

test('a fresh data dir beside an old Redis: rebuilt once, the new log fully found, the old one not; a restart does not rebuild', async () => {
  const prefix = newPrefix();
  const oldDir = join(root, 'old');
  const oldEnv = envFor(oldDir, prefix);
  let s = await serve(oldEnv);
  const oldProject = await createProject(oldEnv, 'old');
  const oldUser = await createUser(s.url, oldProject);
  const oldSession = await createSession(s.url, oldProject, oldUser);
  assert.equal(rebuilds(s), [], 'a first start on an empty Redis does not rebuild');
  await stop(s);

  const newEnv = envFor(join(root, 'fresh'), prefix);
  s = await serve(newEnv);
  assert.equal(rebuilds(s), ['another log'], 'rebuilt once, because it was another log');
  const project = await createProject(newEnv, 'new');
  const user = await createUser(s.url, project);
  const session = await createSession(s.url, project, user);
  assert.is((await refresh(s.url, project, session)).status, 200);
  assert.is((await getUser(s.url, project, user)).status, 200);
  await assertProjectNotFound(s.url, oldProject, 'the old log\'s project');
  assert.is.not((await refresh(s.url, oldProject, oldSession)).status, 200, 'the old log\'s session does not refresh');
  const ready = await request(s.url, 'GET', '/ready');
  assert.is(ready.status, 200, ready.text);
  assert.is(ready.json.projection.rebuilding, undefined);
  await stop(s);

  const status = await runAuthlog(['projections', 'status'], newEnv);
  assert.is(status.code, 0, status.stderr);
  assert.match(status.stdout, /verdict: same log/);
  const logId = /log identity: (\S+)/.exec(status.stdout)?.[1];
  assert.ok(logId, status.stdout);
  assert.ok(status.stdout.includes(`read model built from log: ${logId}`), status.stdout);
  const beside = await runAuthlog(['projections', 'status'], oldEnv);
  assert.match(beside.stdout, /verdict: another log/, 'the old data dir beside this Redis is told apart');

  s = await serve(newEnv);
  assert.equal(rebuilds(s), [], 'an ordinary restart on the same log and Redis does not rebuild');
  await assertProjectFound(s.url, project, 'after the restart');
  assert.is((await refresh(s.url, project, session)).status, 200, 'its session refreshes after the restart');
  await stop(s);
});

test('a log restored from an earlier copy and written to since, beside a Redis that moved on: rebuilt once, only the restored history found', async () => {
  const prefix = newPrefix();
  const dataDir = join(root, 'restored');
  const backup = join(root, 'backup');
  const env = envFor(dataDir, prefix);
  let s = await serve(env);
  const kept = await createProject(env, 'kept');
  const keptUser = await createUser(s.url, kept);
  const keptSession = await createSession(s.url, kept, keptUser);
  await stop(s);
  copyLog(dataDir, backup);

  s = await serve(env);
  const lost = await createProject(env, 'lost');
  const lostUser = await createUser(s.url, kept);
  const lostSession = await createSession(s.url, kept, lostUser);
  assert.equal(rebuilds(s), []);
  await stop(s);

  for (const name of readdirSync(dataDir)) if (name.startsWith('events.db')) rmSync(join(dataDir, name));
  copyLog(backup, dataDir);
  assert.ok(existsSync(join(dataDir, 'events.db')));
  // Written while stopped, on the restored copy: more events than were lost, so the read model's
  // checkpoint is not past the log's head, but its position now holds another event.
  const different: Project[] = [];
  for (let i = 1; i <= 4; i++) different.push(await createProject(env, `different ${i}`));

  s = await serve(env);
  const verdicts = rebuilds(s);
  assert.equal(verdicts, ['other history'], 'rebuilt exactly once, because the log holds another history');
  await assertProjectFound(s.url, kept, 'the project from before the copy');
  for (const p of different) await assertProjectFound(s.url, p, 'a project written on the restored copy');
  assert.is((await getUser(s.url, kept, keptUser)).status, 200);
  assert.is((await refresh(s.url, kept, keptSession)).status, 200, 'a session the log holds refreshes');
  await assertProjectNotFound(s.url, lost, 'a project the restored log does not hold');
  assert.is((await getUser(s.url, kept, lostUser)).status, 404, 'a user the restored log does not hold');
  assert.is.not((await refresh(s.url, kept, lostSession)).status, 200, 'a session the restored log does not hold does not refresh');
  await stop(s);

  s = await serve(env);
  assert.equal(rebuilds(s), [], 'the next restart does not rebuild');
  await stop(s);
});

test.after(async () => {
  for (const s of servers) s.child.kill('SIGKILL');
  for (const prefix of prefixes) await deleteRedisKeys(testRedisUrl(), prefix);
  rmSync(root, { recursive: true, force: true });
});

test.run();
