// Crash recovery (issue acceptance): SIGKILL `authlog serve` during a mixed load, restart it. It
// resumes from the checkpoint, every acknowledged write is in the log exactly once, and the read
// model equals one built by a fresh replay of the log. For the Redis and the memory read model.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openSqliteEventStore, type SqliteEventStore } from '../src/store/sqlite-event-store.ts';
import { createRedisReadModel } from '../src/readmodel/redis-read-model.ts';
import { createMemoryReadModel } from '../src/readmodel/memory-read-model.ts';
import { ProjectionRunner } from '../src/projections/runner.ts';
import { allProjectors, projectionFilter } from '../src/projections/all-projections.ts';
import { createHasher } from '../src/crypto/digests.ts';
import { request, type ApiResponse } from './support/service.ts';
import { runAuthlog, startAuthlogServer, type ServerProcess } from './support/spawn-authlog.ts';
import { checkRedisOrExplain, testRedisUrl } from './support/redis-check.ts';

const unavailable = await checkRedisOrExplain();
if (unavailable !== undefined) {
  console.error(unavailable);
  process.exit(1);
}

const LOOPS = 8;
const LOAD_MS = 1500;
const redisUrl = testRedisUrl();
const admin = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
admin.on('error', () => {});
const dirs: string[] = [];
const prefixes: string[] = [];
const servers: ServerProcess[] = [];

type Project = { project_id: string; publishable_client_key: string; secret_server_key: string };
const asServer = (p: Project) => ({ 'x-stack-project-id': p.project_id, 'x-stack-secret-server-key': p.secret_server_key });
const asClient = (p: Project) => ({ 'x-stack-project-id': p.project_id, 'x-stack-publishable-client-key': p.publishable_client_key });
const killAll = () => servers.forEach((s) => s.child.exitCode === null && s.child.signalCode === null && s.child.kill('SIGKILL'));
type Acked = { users: string[]; sessions: { id: string; refreshToken: string }[]; pollingCodes: string[]; refreshes: number };

test.after(async () => {
  killAll();
  for (const prefix of prefixes) {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.unlink(...keys);
    } while (cursor !== '0');
  }
  admin.disconnect();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function crashEnv(withRedis: boolean): Record<string, string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'authlog-crash-'));
  dirs.push(dataDir);
  const prefix = `authlog-test-crash-${randomUUID()}`;
  if (withRedis) prefixes.push(prefix);
  // Empty values count as unset: nothing from this process's environment leaks into the server.
  return { AUTHLOG_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', EVENTSTORE_URL: '', AUTHLOG_SECRET: randomBytes(24).toString('hex'),
    REDIS_URL: withRedis ? redisUrl : '', REDIS_PREFIX: withRedis ? prefix : '' };
}

async function serve(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startAuthlogServer(env);
  servers.push(server);
  return server;
}

/** Runs `fn` over `items`, `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => { while (next < items.length) await fn(items[next++]!); }));
}

/** Creates a project with the CLI while the server runs; resolves once the server accepts its key. */
async function createProject(server: ServerProcess, env: Record<string, string>): Promise<Project> {
  const created = await runAuthlog(['project', 'create', '--name', 'crash', '--json'], env);
  assert.is(created.code, 0, created.stderr);
  const project = JSON.parse(created.stdout) as Project;
  // The load starts hundreds of CLI logins from one address: above the per-address and
  // per-project initiation caps, which are not what this test is about.
  for (const name of ['cli-initiations-per-address', 'cli-initiations-per-project']) {
    const raised = await runAuthlog(['project', 'set-rate-limit', '--project', project.project_id, '--name', name, '--limit', '1000000'], env);
    assert.is(raised.code, 0, raised.stderr);
  }
  const headers = asServer(project);
  const deadline = Date.now() + 1000;
  let res = await request(server.url, 'POST', '/api/v1/users', { headers, body: {} });
  while (res.status !== 201 && Date.now() < deadline) {
    await delay(20);
    res = await request(server.url, 'POST', '/api/v1/users', { headers, body: {} });
  }
  assert.is(res.status, 201, `the server did not accept the CLI's project within 1 s: ${res.text}`);
  return project;
}

/**
 * LOOPS concurrent clients create users, sessions for them, refresh those, and initiate CLI
 * logins, for LOAD_MS; then the server is SIGKILLed with requests in flight. Only 2xx answers
 * count as acknowledged; a network error after the kill is simply not acknowledged.
 */
async function loadThenKill(server: ServerProcess, project: Project): Promise<{ acked: Acked; lost: number; killedAfterMs: number }> {
  const acked: Acked = { users: [], sessions: [], pollingCodes: [], refreshes: 0 };
  const unexpected: string[] = [];
  const runId = randomUUID().slice(0, 8);
  let killed = false;
  let lost = 0;
  const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<ApiResponse | undefined> => {
    try {
      const res = await request(server.url, method, path, { headers, body });
      if (res.status >= 200 && res.status < 300) return res;
      unexpected.push(`${method} ${path} → ${res.status} ${res.text}`);
    } catch (error) {
      if (killed) lost++;
      else unexpected.push(`${method} ${path} failed before the kill: ${(error as Error).message}`);
    }
    return undefined;
  };
  const loop = async (n: number) => {
    for (let i = 0; ; i++) {
      const user = await call('POST', '/api/v1/users', asServer(project), { primary_email: `crash-${runId}-${n}-${i}@example.com` });
      if (!user) return;
      acked.users.push(user.json.id);
      const session = await call('POST', '/api/v1/auth/sessions', asServer(project), { user_id: user.json.id });
      if (!session) return;
      acked.sessions.push({ id: String(decodeJwt(session.json.access_token).refresh_token_id), refreshToken: session.json.refresh_token });
      const refreshed = await call('POST', '/api/v1/auth/sessions/current/refresh', { ...asClient(project), 'x-stack-refresh-token': session.json.refresh_token });
      if (!refreshed) return;
      acked.refreshes++;
      const cli = await call('POST', '/api/v1/auth/cli', asClient(project), {});
      if (!cli) return;
      acked.pollingCodes.push(cli.json.polling_code);
    }
  };
  const started = performance.now();
  const loops = Array.from({ length: LOOPS }, (_, n) => loop(n));
  await delay(LOAD_MS);
  // On a loaded machine LOAD_MS may not be enough for a meaningful load: kill only once every
  // loop got at least two users through (the assertions below need more than LOOPS).
  while (acked.users.length <= 2 * LOOPS && unexpected.length === 0) await delay(50);
  killed = true;
  const killedAfterMs = Math.round(performance.now() - started);
  const exit = server.stop('SIGKILL');
  await Promise.all(loops);
  assert.is(await exit, null, 'killed by the signal, not exited');
  assert.equal(unexpected, [], 'every request before the kill answered 2xx');
  return { acked, lost, killedAfterMs };
}

/** Restarts on the same data and waits for /ready with lag 0; returns the server and how long it took. */
async function restart(env: Record<string, string>): Promise<{ server: ServerProcess; listeningMs: number; readyMs: number; ready: any }> {
  const started = performance.now();
  const server = await serve(env);
  const listeningMs = Math.round(performance.now() - started);
  let ready = await request(server.url, 'GET', '/ready');
  while ((ready.status !== 200 || ready.json?.projection?.lag_events !== 0) && performance.now() - started < 5000) {
    await delay(50);
    ready = await request(server.url, 'GET', '/ready');
  }
  assert.is(ready.status, 200, ready.text);
  assert.is(ready.json.projection.lag_events, 0, ready.text);
  assert.is(ready.json.projection.checkpoint, ready.json.projection.head, ready.text);
  return { server, listeningMs, readyMs: Math.round(performance.now() - started), ready: ready.json };
}

/** Every acknowledged write answers over HTTP: the user reads, the session refreshes, the polling code polls pending. */
async function assertAcknowledgedServed(url: string, project: Project, acked: Acked): Promise<void> {
  const missing: string[] = [];
  await eachLimited(acked.users, 8, async (id) => {
    const res = await request(url, 'GET', `/api/v1/users/${id}`, { headers: asServer(project) });
    if (res.status !== 200 || res.json.id !== id) missing.push(`user ${id}: ${res.status} ${res.text}`);
  });
  await eachLimited(acked.sessions, 8, async (s) => {
    const res = await request(url, 'POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...asClient(project), 'x-stack-refresh-token': s.refreshToken } });
    const sid = res.status === 200 ? decodeJwt(res.json.access_token).refresh_token_id : undefined;
    if (sid !== s.id) missing.push(`session ${s.id}: ${res.status} ${res.text}`);
  });
  await eachLimited(acked.pollingCodes, 8, async (code) => {
    const res = await request(url, 'POST', '/api/v1/auth/cli/poll', { headers: asClient(project), body: { polling_code: code } });
    if (res.status !== 201 || res.json.status !== 'pending') missing.push(`polling code ${code.slice(0, 9)}…: ${res.status} ${res.text}`);
  });
  assert.equal(missing, [], 'every acknowledged write is served after the restart');
}

/** Reads the log directly: no event id twice, each acknowledged creation (and a session's first use) exactly once. */
async function assertLogHoldsEachAckOnce(store: SqliteEventStore, secret: string, acked: Acked): Promise<number> {
  const ids = new Set<string>();
  const duplicateIds: string[] = [];
  const creations = new Map<string, number>();
  let events = 0;
  for await (const e of store.readAll()) {
    events++;
    if (ids.has(e.id)) duplicateIds.push(e.id);
    ids.add(e.id);
    const d = e.data as Record<string, unknown>;
    const key =
      e.type === 'UserCreated' ? `user:${d.userId}` : e.type === 'SessionCreated' ? `session:${d.sessionId}` : e.type === 'CliAuthInitiated' ? `cli:${d.pollingCodeDigest}`
      : e.type === 'SessionActivityRecorded' ? `activity:${d.sessionId}` : undefined;
    if (key) creations.set(key, (creations.get(key) ?? 0) + 1);
  }
  assert.equal(duplicateIds, [], 'no event id appears twice in the log');
  assert.equal([...creations].filter(([, n]) => n !== 1), [], 'no creation (or first use of a session) is logged twice');
  const hasher = createHasher(secret);
  const expected = [
    ...acked.users.map((id) => `user:${id}`),
    ...acked.sessions.flatMap((s) => [`session:${s.id}`, `activity:${s.id}`]), // every session was refreshed, by the load or the check
    ...acked.pollingCodes.map((code) => `cli:${hasher.digest('polling-code', code)}`),
  ];
  assert.equal(expected.filter((k) => creations.get(k) !== 1), [], 'every acknowledged creation is in the log exactly once');
  return events;
}

/**
 * Starts a server on an empty log (timing the start), creates a project, loads it and kills it
 * mid-load; checks there was load to lose. Call inside the test's try: `killAll` cleans up.
 */
async function serveLoadAndKill(env: Record<string, string>) {
  const firstStarted = performance.now();
  const first = await serve(env);
  const firstStartMs = Math.round(performance.now() - firstStarted);
  const project = await createProject(first, env);
  const { acked, lost, killedAfterMs } = await loadThenKill(first, project);
  assert.ok(acked.users.length > LOOPS, `too little load before the kill: ${acked.users.length} users`);
  assert.ok(lost > 0, 'requests were in flight at the kill');
  return { firstStartMs, project, acked, lost, killedAfterMs };
}

const ackedWrites = (a: Acked) => a.users.length + a.sessions.length + a.refreshes + a.pollingCodes.length;

test('Redis read model: after SIGKILL mid-load the restart resumes from its checkpoint, every acknowledged write is logged once, and the digest equals a fresh replay', async () => {
  const env = crashEnv(true);
  try {
    const { firstStartMs, project, acked, lost, killedAfterMs } = await serveLoadAndKill(env);

    // What the killed server left: a checkpoint in Redis, at or behind the log's durable head.
    const store = openSqliteEventStore(join(env.AUTHLOG_DATA_DIR!, 'events.db'), { readOnly: true });
    const redis = createRedisReadModel({ url: redisUrl, prefix: env.REDIS_PREFIX!, now: Date.now });
    // Watches every apply script sent for this prefix, by the position of its first event
    // (arguments: prefix, generation, now, the checkpoint it expects at least, the log identity,
    // then the events).
    const monitor = await admin.monitor();
    const applied: bigint[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[3] === `${env.REDIS_PREFIX}:{rm}:gen` && args[4] === `${env.REDIS_PREFIX}:{rm}:building` && /^\d{20}$/.test(args[10] ?? '')) applied.push(BigInt(args[10]!));
    });
    try {
      const checkpointAtKill = await redis.checkpoint();
      const headAtKill = await store.headPosition(projectionFilter);
      const behind: bigint[] = [];
      for await (const e of store.readAll({ fromPosition: checkpointAtKill, filter: projectionFilter })) behind.push(e.position);
      assert.ok(checkpointAtKill > 0n && checkpointAtKill <= headAtKill, `checkpoint ${checkpointAtKill}, head ${headAtKill}`);

      const { server, listeningMs, readyMs, ready } = await restart(env);
      assert.is(ready.projection.head, String(headAtKill), 'nothing was appended by the restart itself');
      await assertAcknowledgedServed(server.url, project, acked);
      assert.is(await server.stop('SIGTERM'), 0, 'a clean stop exits 0');
      await delay(200); // MONITOR lines arrive asynchronously
      assert.ok(applied.every((p, i) => p > checkpointAtKill && (i === 0 || p > applied[i - 1]!)), `applies after restart start at ${applied.join(', ')}; checkpoint was ${checkpointAtKill}`);
      if (behind.length > 0) assert.is(applied[0], behind[0], 'the restart applied from the first event after the checkpoint');

      const events = await assertLogHoldsEachAckOnce(store, env.AUTHLOG_SECRET!, acked);
      const head = await store.headPosition(projectionFilter);
      assert.is(await redis.checkpoint(), head, 'the Redis checkpoint is the log head');
      const fresh = createMemoryReadModel({ now: Date.now });
      const replay = new ProjectionRunner({ store, readModel: fresh, projector: allProjectors, filter: projectionFilter });
      await replay.start();
      await replay.stop();
      assert.is(await fresh.checkpoint(), head);
      const [redisDigest, freshDigest] = [await redis.digest(), await fresh.digest()];
      assert.is(redisDigest, freshDigest, 'the Redis read model equals a fresh replay of the log');
      console.log(`  # redis: ${ackedWrites(acked)} writes acknowledged in ${killedAfterMs} ms (${acked.users.length} users, ${acked.sessions.length} sessions, ${acked.refreshes} refreshes, ${acked.pollingCodes.length} CLI logins); ${lost} requests lost to SIGKILL`);
      console.log(`  # redis: checkpoint at kill ${checkpointAtKill} of head ${headAtKill} (${behind.length} events behind); restart listening in ${listeningMs} ms, ready with lag 0 in ${readyMs} ms (a start on an empty log: ${firstStartMs} ms)`);
      console.log(`  # redis: after the restart ${applied.length} apply scripts, first at position ${applied[0] ?? 'none'}, none at or below the checkpoint`);
      console.log(`  # redis: ${events} events in the log, none duplicated; digest ${redisDigest.slice(0, 16)}… equals the fresh replay's`);
    } finally {
      monitor.disconnect();
      await redis.close();
      await store.close();
    }
  } finally {
    killAll();
  }
});

test('memory read model: after SIGKILL mid-load the restart rebuilds from the log, serves every acknowledged write, and logs each once', async () => {
  const env = crashEnv(false);
  try {
    const { firstStartMs, project, acked, lost, killedAfterMs } = await serveLoadAndKill(env);
    const store = openSqliteEventStore(join(env.AUTHLOG_DATA_DIR!, 'events.db'), { readOnly: true });
    try {
      const headAtKill = await store.headPosition(projectionFilter);
      const { server, listeningMs, readyMs, ready } = await restart(env);
      assert.match(server.output(), '"readModel":"memory"');
      assert.is(ready.projection.checkpoint, String(headAtKill), 'the rebuilt memory model reached the head left by the kill');
      await assertAcknowledgedServed(server.url, project, acked);
      assert.is(await server.stop('SIGTERM'), 0, 'a clean stop exits 0');
      const events = await assertLogHoldsEachAckOnce(store, env.AUTHLOG_SECRET!, acked);
      console.log(`  # memory: ${ackedWrites(acked)} writes acknowledged in ${killedAfterMs} ms; ${lost} requests lost to SIGKILL`);
      console.log(`  # memory: log holds ${events} events (rebuilt at start), listening in ${listeningMs} ms, ready with lag 0 in ${readyMs} ms (a start on an empty log: ${firstStartMs} ms); none duplicated`);
    } finally {
      await store.close();
    }
  } finally {
    killAll();
  }
});

test.run();
