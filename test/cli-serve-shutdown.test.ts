// SIGTERM under load (issue #11, acceptance 4): `authlog serve` as its own process gets 200
// concurrent writes (create user) and SIGTERM as soon as the first is answered. Every request
// the server accepted gets its answer, the process exits 0 (its shutdown is bounded: exit 0 means
// it finished within SHUTDOWN_DRAIN_MS + 4 s, under 10 s by default), and a restart on the same
// data dir finds every acknowledged write; a request refused at the door left nothing behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from './support/service.ts';
import { runAuthlog, startAuthlogServer, type ServerProcess } from './support/spawn-authlog.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'authlog-shutdown-'));
const env = { AUTHLOG_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' };
const servers: ServerProcess[] = [];
test.after(() => {
  for (const s of servers) s.child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

const LOAD = 200;

type Outcome = { email: string; requestId: string } & ({ status: number; body: Record<string, unknown>; at: number } | { failure: string });

test(`SIGTERM during ${LOAD} concurrent writes: every accepted request is answered, exit 0, and a restart finds every acknowledged write`, async () => {
  const created = await runAuthlog(['project', 'create', '--name', 'shutdown', '--json'], env);
  assert.is(created.code, 0, created.stderr);
  const project = JSON.parse(created.stdout) as { project_id: string; secret_server_key: string };
  const headers = { 'x-stack-project-id': project.project_id, 'x-stack-secret-server-key': project.secret_server_key, 'content-type': 'application/json' };

  const server = await startAuthlogServer(env);
  servers.push(server);
  let firstAnswered: () => void = () => {};
  const first = new Promise<void>((resolve) => (firstAnswered = resolve));
  const outcomes = Array.from({ length: LOAD }, async (_, i): Promise<Outcome> => {
    const email = `load-${i}@example.com`;
    const requestId = `load-${i}`;
    try {
      const res = await fetch(`${server.url}/api/v1/users`, { method: 'POST', headers: { ...headers, 'x-request-id': requestId }, body: JSON.stringify({ primary_email: email }) });
      const body = (await res.json()) as Record<string, unknown>;
      firstAnswered();
      return { email, requestId, status: res.status, body, at: performance.now() };
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { email, requestId, failure: cause?.code ?? cause?.message ?? String(error) };
    }
  });
  await first;
  const signalled = performance.now();
  const exitCode = await server.stop('SIGTERM');
  const shutdownMs = Math.round(performance.now() - signalled);
  const results = await Promise.all(outcomes);
  const log = server.output();
  assert.is(exitCode, 0, `a clean shutdown exits 0:\n${log.slice(-3000)}`);

  const answered = results.filter((r): r is Extract<Outcome, { status: number }> => 'status' in r);
  const refused = results.filter((r): r is Extract<Outcome, { failure: string }> => 'failure' in r);
  const acknowledged = answered.filter((r) => r.status === 201);
  assert.equal(answered.filter((r) => r.status !== 201).map((r) => `${r.requestId}: ${r.status} ${JSON.stringify(r.body)}`), [], 'every answer is a success');
  const afterSignal = answered.filter((r) => r.at > signalled).length;
  assert.ok(afterSignal > 0, 'the signal came while requests were in flight: some were answered after it');

  // What the server handled, by its request log: each of those got its answer.
  const handled = new Set(
    log
      .split('\n')
      .filter((l) => l.includes('"msg":"request"'))
      .map((l) => (JSON.parse(l) as { requestId?: string }).requestId),
  );
  const answeredIds = new Set(answered.map((r) => r.requestId));
  assert.equal(results.filter((r) => handled.has(r.requestId) && !answeredIds.has(r.requestId)).map((r) => r.requestId), [], 'handled but not answered');
  assert.match(log, /"msg":"closed"/);
  assert.ok(log.split('\n').some((l) => l.includes('"msg":"closed"') && l.includes('"clean":true') && l.includes('"cutRequests":0')), 'the shutdown reports itself clean');
  console.log(`  # ${LOAD} concurrent writes, SIGTERM after the first answer: ${acknowledged.length} acknowledged (${afterSignal} of them after SIGTERM), ${refused.length} refused at the door (${[...new Set(refused.map((r) => r.failure))].join(', ') || 'none'}); exit 0 ${shutdownMs} ms after SIGTERM`);

  // Restart on the same data dir: every acknowledged write is there.
  const again = await startAuthlogServer(env);
  servers.push(again);
  const missing: string[] = [];
  for (const r of acknowledged) {
    const res = await request(again.url, 'GET', `/api/v1/users/${String(r.body.id)}`, { headers });
    if (res.status !== 200 || res.json.primary_email !== r.email) missing.push(`${r.requestId}: ${res.status} ${res.text}`);
  }
  assert.equal(missing, [], 'acknowledged writes lost');
  // A request refused at the door wrote nothing: its email is still free.
  const taken: string[] = [];
  for (const r of refused) {
    const res = await request(again.url, 'POST', '/api/v1/users', { headers, body: { primary_email: r.email } });
    if (res.status !== 201) taken.push(`${r.requestId}: ${res.status} ${res.text}`);
  }
  assert.equal(taken, [], 'writes of requests that got no answer');
  assert.is(await again.stop('SIGTERM'), 0);
});

test('a request that cannot finish within SHUTDOWN_DRAIN_MS is cut: the shutdown says so and exits 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'authlog-shutdown-cut-'));
  const cutEnv = { ...env, AUTHLOG_DATA_DIR: dir, SHUTDOWN_DRAIN_MS: '300' };
  try {
    const server = await startAuthlogServer(cutEnv);
    servers.push(server);
    // A request whose body never finishes arriving: in flight until its connection is cut.
    const { hostname, port } = new URL(server.url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => {});
    socket.write(`POST /api/v1/users HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"primary`);
    const closedByServer = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // The server has the request once its health check on another connection is answered after it.
    assert.is((await request(server.url, 'GET', '/health')).status, 200);
    assert.is(await server.stop('SIGTERM'), 1, server.output().slice(-2000));
    await closedByServer;
    const closed = server
      .output()
      .split('\n')
      .find((l) => l.includes('"msg":"closed"'));
    assert.ok(closed, 'the shutdown is logged');
    const report = JSON.parse(closed!) as { clean: boolean; cutRequests: number };
    assert.is(report.clean, false);
    assert.is(report.cutRequests, 1, closed);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
