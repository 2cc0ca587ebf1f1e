// The service on a Redis read model that goes away: flushed while running (it notices and
// projects again), stopped (503 within 5 s, nothing hangs, no 500), frozen, and back (it recovers
// without a restart). Issue #6, acceptance 3 and 4. Uses a private redis-server.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { serverHeaders, startTestService, type ApiResponse, type TestService } from './support/service.ts';
import { startPrivateRedis, type PrivateRedis } from './support/private-redis.ts';

let redis: PrivateRedis;
let service: TestService;
let project: CreatedProject;
let userId: string;

test.before(async () => {
  redis = await startPrivateRedis();
  service = await startTestService({ REDIS_URL: redis.url, REDIS_PREFIX: 'authlog' });
  project = await service.createProject('resilient');
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: 'kept@example.com' } });
  assert.is(user.status, 200, user.text);
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

test('Redis stopped: requests answer 503 SERVICE_UNAVAILABLE within 5 s, none hangs, no 500', async () => {
  await redis.kill();
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      i % 2 ? getUser() : service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} }),
    ),
  );
  const ms = Date.now() - started;
  for (const res of answers) {
    assert.is(res.status, 503, res.text);
    assert.is(res.json.code, 'SERVICE_UNAVAILABLE');
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
  }
  assert.ok(ms < 5000, `answered within 5 s (took ${ms} ms)`);
  console.log(`  # Redis down: 10 requests answered 503 in ${ms} ms`);
  const ready = await service.request('GET', '/ready');
  assert.is(ready.status, 503);
  assert.is(ready.json.read_model.ok, false);
});

test('Redis back (empty): the service recovers without a restart', async () => {
  await redis.start();
  const { res, ms } = await until(getUser, (r) => r.status === 200, 15_000);
  assert.is(res.status, 200, res.text);
  console.log(`  # Redis back: answers right again after ${ms} ms`);
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
