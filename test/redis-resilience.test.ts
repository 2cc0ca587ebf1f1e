// The service on a Redis read model that goes away: flushed while running (it notices and
// projects again), stopped (reads 503 within 5 s, nothing hangs, no 500; writes the event log
// decides alone are still taken, durably), frozen, and back (it recovers without a restart, with
// what was written meanwhile). Issue #6, acceptance 3 and 4. Uses a private redis-server.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { serverHeaders, startTestService, type ApiResponse, type TestService } from './support/service.ts';
import { startPrivateRedis, type PrivateRedis } from './support/private-redis.ts';

let redis: PrivateRedis;
let service: TestService;
let project: CreatedProject;
let userId: string;
/** Users created while Redis was down: in the log at once, in the read model once it is back. */
const createdDuringOutage: string[] = [];

test.before(async () => {
  redis = await startPrivateRedis();
  // A write answers once it is projected or after PROJECTION_WAIT_MS; with Redis down, the latter.
  service = await startTestService({ REDIS_URL: redis.url, REDIS_PREFIX: 'authlog', PROJECTION_WAIT_MS: '1000' });
  project = await service.createProject('resilient');
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: 'kept@example.com' } });
  assert.is(user.status, 201, user.text);
  userId = user.json.id;
});
test.after(async () => {
  await service.stop();
  await service.remove();
  await redis.kill();
});

const getUser = () => service.request('GET', `/api/v1/users/${userId}`, { headers: serverHeaders(project) });

async function until(attempt: () => Promise<ApiResponse>, done: (r: ApiResponse) => boolean, timeoutMs: number): Promise<{ res: ApiResponse; ms: number }> {
  const started = Date.now();
  let res = await attempt();
  while (!done(res) && Date.now() - started < timeoutMs) {
    await new Promise((r) => setTimeout(r, 50));
    res = await attempt();
  }
  return { res, ms: Date.now() - started };
}

test('FLUSHDB while running: the service notices and projects the log again; answers are right again', async () => {
  const client = redis.client();
  await client.flushdb();
  client.disconnect();
  const { res, ms } = await until(getUser, (r) => r.status === 200, 10_000);
  assert.is(res.status, 200, res.text);
  assert.is(res.json.primary_email, 'kept@example.com');
  console.log(`  # after FLUSHDB the read model was right again within ${ms} ms`);
  const dup = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: 'kept@example.com' } });
  assert.is(dup.status, 409, 'uniqueness never depended on the read model');
});

test('Redis stopped: reads answer 503 SERVICE_UNAVAILABLE and writes decided on the log alone 201, within 5 s, none hangs, no 500', async () => {
  await redis.kill();
  const started = Date.now();
  const reads = Array.from({ length: 5 }, () => getUser());
  // The project and its key are known from before (in-process), and a user's creation is decided
  // on the event log (email uniqueness included), so it needs no read model.
  const writes = Array.from({ length: 5 }, (_, i) =>
    service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: `outage-${i}@example.com` } }),
  );
  const [readAnswers, writeAnswers] = await Promise.all([Promise.all(reads), Promise.all(writes)]);
  const ms = Date.now() - started;
  for (const res of readAnswers) {
    assert.is(res.status, 503, res.text);
    assert.is(res.json.code, 'SERVICE_UNAVAILABLE');
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
  }
  for (const res of writeAnswers) {
    assert.is(res.status, 201, res.text);
    createdDuringOutage.push(res.json.id);
  }
  const logged: string[] = [];
  for await (const e of service.app.store.readAll({ filter: { eventTypes: ['UserCreated'] } })) logged.push((e.data as { userId: string }).userId);
  for (const id of createdDuringOutage) assert.ok(logged.includes(id), `user ${id} is in the event log`);
  assert.ok(ms < 5000, `answered within 5 s (took ${ms} ms)`);
  console.log(`  # Redis down: 5 reads answered 503 and 5 writes 201 (durable in the log) in ${ms} ms`);
  const ready = await service.request('GET', '/ready');
  assert.is(ready.status, 503);
  assert.is(ready.json.read_model.ok, false);
});

test('Redis back (empty): the service recovers without a restart', async () => {
  await redis.start();
  const { res, ms } = await until(getUser, (r) => r.status === 200, 15_000);
  assert.is(res.status, 200, res.text);
  console.log(`  # Redis back: answers right again after ${ms} ms`);
  for (const id of createdDuringOutage) {
    const { res: created } = await until(() => service.request('GET', `/api/v1/users/${id}`, { headers: serverHeaders(project) }), (r) => r.status === 200, 5000);
    assert.is(created.status, 200, `user ${id}, written while Redis was down, is in the read model: ${created.text}`);
  }
  assert.is((await service.request('GET', '/ready')).status, 200);
});

test('Redis frozen (accepts, never answers): 503 within 5 s; thawed: recovers', async () => {
  redis.freeze();
  try {
    const started = Date.now();
    const res = await getUser();
    const ms = Date.now() - started;
    assert.is(res.status, 503, res.text);
    assert.ok(ms < 5000, `answered within 5 s (took ${ms} ms)`);
    console.log(`  # Redis frozen: 503 after ${ms} ms`);
  } finally {
    redis.thaw();
  }
  const { res } = await until(getUser, (r) => r.status === 200, 15_000);
  assert.is(res.status, 200, res.text);
});

test.run();
