// Audit and operations (issue #7): the impersonation audit replayed from the log (HTTP and CLI,
// as of a past instant), its cost over 100k events, `events tail --follow`, `projections
// rebuild` over 100k events, and admin-only access.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeJwt } from 'jose';
import { createAdjustableClock } from '../src/clock.ts';
import { changeProject } from '../src/commands/project/change-project.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { systemOrigin } from '../src/app-context.ts';
import { createRedisReadModel } from '../src/readmodel/redis-read-model.ts';
import { adminHeaders, clientHeaders, deleteRedisKeys, serverHeaders, startTestService, type TestService } from './support/service.ts';
import { childEnv, runAuthlog } from './support/spawn-authlog.ts';
import { writeBulkSessionLog } from './support/bulk-log.ts';
import { signInPerson } from './support/sign-in-person.ts';
import { testRedisUrl } from './support/redis-check.ts';

const bin = fileURLToPath(new URL('../bin/authlog.mjs', import.meta.url));
const T0 = Date.parse('2026-11-01T10:00:00.000Z');
const clock = createAdjustableClock(() => T0);
let service: TestService;
let project: CreatedProject;
const dirs: string[] = [];

test.before(async () => {
  // SQLite + memory here whatever the test matrix says: the CLI reads the same data dir.
  service = await startTestService({}, { clock: clock.now });
  project = await service.createProject('audited');
});
test.after(async () => {
  await service.stop();
  await service.remove();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'authlog-audit-'));
  dirs.push(dir);
  return dir;
};

const newUser = async (body: Record<string, unknown> = {}) => (await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body })).json.id as string;
// Ids only: the tokens may be past their 10 minutes by the time the test reads them.
const sessionIdOf = async (accessToken: string) => String(decodeJwt(accessToken).refresh_token_id);

/** The access token a refresh token gets now, or undefined when it is refused. */
async function refreshWith(refreshToken: string): Promise<string | undefined> {
  const res = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': refreshToken } });
  return res.status === 200 ? (res.json.access_token as string) : undefined;
}

interface Scenario {
  admin: string;
  a: string;
  b: string;
  adminSession: string;
  aSession: string;
  aCliSession: string;
  aCliRefreshToken: string;
  bSession: string;
  keyActor: string;
}

/** A CLI login approved with `refreshToken`'s session: the CLI's new refresh token and its session. */
async function cliLoginApprovedBy(refreshToken: string): Promise<{ refreshToken: string; sessionId: string }> {
  const started = await service.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project), body: {} });
  const completed = await service.request('POST', '/api/v1/auth/cli/complete', { headers: clientHeaders(project), body: { login_code: started.json.login_code, refresh_token: refreshToken } });
  assert.is(completed.status, 200, completed.text);
  const polled = await service.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: started.json.polling_code } });
  assert.is(polled.json.status, 'completed', polled.text);
  const accessToken = await refreshWith(polled.json.refresh_token);
  assert.ok(accessToken, 'the CLI session refreshes');
  return { refreshToken: polled.json.refresh_token, sessionId: await sessionIdOf(accessToken) };
}
let scenario: Scenario;

test('the scripted scenario gives exactly its rows, with actors and times, over HTTP', async () => {
  const admin = await newUser({ primary_email: 'admin@audited.example', primary_email_verified: true });
  const a = await newUser();
  const b = await newUser();
  // 10:00 a server key creates a session for the admin (an audited row, never admin rights), and
  // the admin signs in themselves (not audited: no one acts for anyone).
  const own = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: admin } });
  const signedIn = await signInPerson(service.app, project.project_id, 'admin@audited.example');
  const added = await changeProject(service.app, { type: 'AddAdmin', projectId: project.project_id, userId: admin }, systemOrigin('test'));
  await service.app.projections.waitFor(added.position!, 2000);
  const asAdmin = { 'x-stack-project-id': project.project_id, 'x-stack-admin-access-token': signedIn.accessToken, 'user-agent': 'audit-test/1' };
  const refreshedAdmin = async () => {
    const res = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': signedIn.refreshToken } });
    return { ...asAdmin, 'x-stack-admin-access-token': res.json.access_token as string };
  };

  clock.advance(60_000); // 10:01 the admin impersonates A
  const impersonation = await service.request('POST', '/api/v1/auth/sessions', { headers: asAdmin, body: { user_id: a, is_impersonation: true } });
  assert.is(impersonation.status, 200, impersonation.text);
  clock.advance(30_000); // 10:01:30 a CLI login approved from the impersonation session
  const aCli = await cliLoginApprovedBy(impersonation.json.refresh_token);
  clock.advance(30_000); // 10:02 a server key creates a session for B
  const forB = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: b } });
  clock.advance(60 * 60_000); // 11:02 A's impersonation is revoked by the admin
  const aSession = await sessionIdOf(impersonation.json.access_token);
  const revoked = await service.request('DELETE', `/api/v1/auth/sessions/${aSession}?user_id=${a}`, { headers: await refreshedAdmin() });
  assert.is(revoked.status, 200, revoked.text);

  // The server key's actor name, as an impersonation token of it carries it.
  const keyToken = (await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: b, is_impersonation: true } })).json.access_token;
  const keyActor = (decodeJwt(keyToken).act as { sub: string }).sub;
  const aCliSession = aCli.sessionId;
  scenario = { admin, a, b, adminSession: await sessionIdOf(own.json.access_token), aSession, aCliSession, aCliRefreshToken: aCli.refreshToken, bSession: await sessionIdOf(forB.json.access_token), keyActor };

  const res = await service.request('GET', `/api/v1/audit/impersonations?until=${encodeURIComponent(new Date(T0 + 62 * 60_000).toISOString())}`, { headers: adminHeaders(project) });
  assert.is(res.status, 200, res.text);
  const rows = res.json.items as Record<string, unknown>[];
  assert.equal(rows.map((r) => [r.session_id, r.user_id, r.actor, r.is_impersonation, r.created_at, r.revoked_at, r.revoked_by, r.live]), [
    [scenario.adminSession, admin, keyActor, false, '2026-11-01T10:00:00.000Z', null, null, true],
    [aSession, a, `admin-user:${admin}`, true, '2026-11-01T10:01:00.000Z', '2026-11-01T11:02:00.000Z', `admin-user:${admin}`, false],
    [aCliSession, a, `admin-user:${admin}`, true, '2026-11-01T10:01:30.000Z', '2026-11-01T11:02:00.000Z', `admin-user:${admin}`, false],
    [scenario.bSession, b, keyActor, false, '2026-11-01T10:02:00.000Z', null, null, true],
  ]);
  assert.is(rows[1]!.ip, '127.0.0.1');
  assert.is(rows[1]!.user_agent, 'audit-test/1');
  assert.is(rows[1]!.revoke_reason, 'revoked');
  // The CLI session: derived from the impersonation, carrying its whole actor chain, ended with it.
  assert.equal([rows[2]!.via, rows[2]!.parent_session_id, rows[2]!.actor_chain, rows[2]!.revoke_reason], ['cli-login', aSession, [`admin-user:${admin}`, `admin-user:${admin}`], 'parent-revoked']);
  assert.equal([rows[1]!.via, rows[1]!.parent_session_id, rows[1]!.actor_chain], ['sessions-api', null, [`admin-user:${admin}`]]);
  assert.is(await refreshWith(scenario.aCliRefreshToken), undefined, 'the CLI session ended with its parent');

  const onlyAdmin = await service.request('GET', `/api/v1/audit/impersonations?actor=admin-user:${admin}`, { headers: adminHeaders(project) });
  assert.equal(onlyAdmin.json.items.map((r: { session_id: string }) => r.session_id), [aSession, aCliSession]);
  const asOf = await service.request('GET', `/api/v1/audit/impersonations?user_id=${a}&as_of=${encodeURIComponent('2026-11-01T10:30:00Z')}`, { headers: adminHeaders(project) });
  assert.equal(asOf.json.items.map((r: { revoked_at: string | null; live: boolean }) => [r.revoked_at, r.live]), [[null, true], [null, true]], 'both live as of 10:30');
});

test('the CLI gives the same rows as JSON lines, and --as-of between creation and revocation shows it live', async () => {
  const env = { AUTHLOG_DATA_DIR: service.dataDir };
  const all = await runAuthlog(['audit', 'impersonations', '--project', project.project_id, '--user', scenario.a, '--json'], env);
  assert.is(all.code, 0, all.stderr);
  const rows = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(rows.map((r) => [r.session_id, r.actor, r.revoked_at, r.revoke_reason]), [
    [scenario.aSession, `admin-user:${scenario.admin}`, '2026-11-01T11:02:00.000Z', 'revoked'],
    [scenario.aCliSession, `admin-user:${scenario.admin}`, '2026-11-01T11:02:00.000Z', 'parent-revoked'],
  ]);
  const then = await runAuthlog(['audit', 'impersonations', '--user', scenario.a, '--as-of', '2026-11-01T10:30:00Z', '--json'], env);
  const thenRows = then.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(thenRows.map((r) => [r.session_id, r.live, r.revoked_at]), [[scenario.aSession, true, null], [scenario.aCliSession, true, null]]);
  const table = await runAuthlog(['audit', 'impersonations', '--actor', `admin-user:${scenario.admin}`], env);
  assert.match(table.stdout.split('\n')[0] ?? '', /^created\s+actor\s+user/);
  assert.match(table.stdout, scenario.a);
  assert.match(table.stderr, /2 sessions from \d+ events in \d+ ms/);
});

test('only admin access reaches the audit and the events (client and server → 401)', async () => {
  for (const path of ['/api/v1/audit/impersonations', '/api/v1/events']) {
    for (const headers of [clientHeaders(project), serverHeaders(project)]) {
      const res = await service.request('GET', path, { headers });
      assert.is(res.status, 401, `${path}: ${res.text}`);
      assert.is(res.json.code, 'INSUFFICIENT_ACCESS_TYPE');
    }
    assert.is((await service.request('GET', path, { headers: adminHeaders(project) })).status, 200);
  }
  const other = await service.createProject('other');
  const events = await service.request('GET', '/api/v1/events?category=session&limit=1000', { headers: adminHeaders(other) });
  assert.equal(events.json.items, [], "another project's admin sees none of this project's events");
  const mine = await service.request('GET', `/api/v1/events?stream=session-${scenario.aSession}`, { headers: adminHeaders(project) });
  assert.equal(mine.json.items.map((e: { type: string }) => e.type), ['SessionCreated', 'SessionRevoked']);
  assert.is(mine.json.items[0].metadata.actor.id, scenario.admin);
});

test('events tail --follow shows a new event within 1 s', async () => {
  const child = spawn(process.execPath, [bin, 'events', 'tail', '--follow', '-n', '0', '--type', 'UserCreated'], {
    env: childEnv({ AUTHLOG_DATA_DIR: service.dataDir }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let following: () => void = () => {};
  const live = new Promise<void>((resolve) => (following = resolve));
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => d.toString().includes('(following new events') && following());
  try {
    await live; // it has read the log and follows from its end
    const userId = await newUser();
    const appendedAt = Date.now();
    while (!output.includes(userId) && Date.now() - appendedAt < 3000) await new Promise((r) => setTimeout(r, 10));
    const ms = Date.now() - appendedAt;
    assert.ok(output.includes(userId), `the new UserCreated was not shown: ${output}`);
    assert.ok(ms <= 1000, `shown after ${ms} ms`);
    console.log(`  # events tail --follow showed a new event ${ms} ms after it was appended`);
    assert.match(output, /UserCreated {2}by server-key:/);
  } finally {
    child.kill('SIGINT');
  }
});

test('the audit over 100k events streams the log and prints its time', async () => {
  const dir = tempDir();
  const log = writeBulkSessionLog(join(dir, 'events.db'), 100_000, Date.now());
  // Streaming: the process holds the rows that match, not the 100k events. Proved with a heap the
  // events cannot fit in: the audit streams in under 48 MB of V8 old space on Node 20, 24 and 26,
  // while one that first collects the events into an array runs out of memory below 128 MB. (RSS
  // was no proof: it counts garbage not yet collected, and Node 24 let it reach 316 MB in a
  // streaming run when the machine was busy.)
  const heapCap = 80;
  const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=${heapCap}`.trim();
  const run = await runAuthlog(['audit', 'impersonations', '--user', log.userId, '--json'], { AUTHLOG_DATA_DIR: dir, NODE_OPTIONS: nodeOptions });
  assert.is(run.code, 0, `with a ${heapCap} MB heap: ${run.stderr.slice(-2000)}`);
  const rows = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { user_id: string });
  assert.ok(rows.length >= 30 && rows.every((r) => r.user_id === log.userId), `${rows.length} rows`);
  const summary = /(\d+) sessions from (\d+) events in (\d+) ms \(RSS (\d+) MB\)/.exec(run.stderr);
  assert.is(Number(summary?.[2]), 100_000);
  console.log(`  # audit over ${summary?.[2]} events with a ${heapCap} MB heap: ${summary?.[3]} ms, RSS ${summary?.[4]} MB (${rows.length} rows for one user)`);
});

test('projections rebuild over 100k events shows progress and ends with the same read-model content', async () => {
  const dir = tempDir();
  writeBulkSessionLog(join(dir, 'events.db'), 100_000, Date.now());
  const prefix = `authlog-test-rebuild-${randomUUID()}`;
  const env = { AUTHLOG_DATA_DIR: dir, REDIS_URL: testRedisUrl(), REDIS_PREFIX: prefix };
  const digest = async () => {
    const rm = createRedisReadModel({ url: testRedisUrl(), prefix, now: Date.now });
    try {
      return { digest: await rm.digest(), checkpoint: await rm.checkpoint() };
    } finally {
      await rm.close();
    }
  };
  try {
    const first = await runAuthlog(['projections', 'rebuild'], env);
    assert.is(first.code, 0, first.stderr);
    const before = await digest();
    assert.ok(before.checkpoint > 0n);
    const second = await runAuthlog(['projections', 'rebuild'], env);
    assert.is(second.code, 0, second.stderr);
    assert.match(second.stderr, /rebuild: \d+\/100000 events {2}\d+\/s {2}ETA/);
    assert.match(second.stdout, /rebuilt the read model from 100000 events in \d+ ms/);
    const after = await digest();
    assert.equal(after, before, 'the same content and checkpoint');
    console.log(`  # ${second.stdout.trim()}`);
    const status = await runAuthlog(['projections', 'status'], env);
    assert.match(status.stdout, /lag 0 events/);
  } finally {
    await deleteRedisKeys(testRedisUrl(), prefix);
  }
});

test.run();
