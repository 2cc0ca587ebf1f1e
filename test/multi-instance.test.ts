// Several authlog instances on one log and one Redis (how it scales past one machine): a CLI
// login initiated on one, completed on a second, polled on a third works, and its token is
// handed out once however the polls are spread. Issue #6, acceptance 6.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { clientHeaders, deleteRedisKeys, serverHeaders, startTestService, type TestService } from './support/service.ts';
import { testRedisUrl } from './support/redis-check.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'authlog-multi-'));
const env = { REDIS_URL: testRedisUrl(), REDIS_PREFIX: `authlog-test-multi-${randomUUID()}` };
let instances: TestService[] = [];
let project: CreatedProject;

test.before(async () => {
  // One SQLite file shared by three services, as three processes on one machine would share it.
  for (let i = 0; i < 3; i++) instances.push(await startTestService(env, { dataDir }));
  project = await instances[0]!.createProject('multi');
});
test.after(async () => {
  for (const instance of instances) await instance.stop();
  await instances[0]!.remove();
  await deleteRedisKeys(env.REDIS_URL, env.REDIS_PREFIX);
  instances = [];
});

const on = (i: number) => instances[i % instances.length]!;

test('a CLI login initiated on one instance, completed on a second and polled on a third works, once', async () => {
  const user = await on(0).request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
  assert.is(user.status, 201, user.text);
  const browser = await on(1).request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } });
  assert.is(browser.status, 200, browser.text);

  const started = await on(0).request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project) });
  assert.is(started.status, 200, started.text);
  const pending = await on(2).request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: started.json.polling_code } });
  assert.is(pending.status, 201, pending.text);
  const completed = await on(1).request('POST', '/api/v1/auth/cli/complete', {
    headers: clientHeaders(project),
    body: { login_code: started.json.login_code, refresh_token: browser.json.refresh_token },
  });
  assert.is(completed.status, 200, completed.text);

  // The approval is visible on every instance at once (read-your-writes across instances), and
  // of 30 polls spread over the three, exactly one gets the token.
  const polls = await Promise.all(
    Array.from({ length: 30 }, (_, i) => on(i).request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: started.json.polling_code } })),
  );
  // At most 15 polls per 10 s per code pass the limit, counted in Redis for all instances (the
  // window may turn during the burst, hence no exact count); the rest 429.
  const answered = polls.filter((p) => p.status === 200);
  assert.ok(answered.length >= 1 && answered.length <= 2 * 15, polls.map((p) => p.status).join(','));
  for (const p of polls.filter((x) => x.status !== 200)) assert.is(p.json.code, 'RATE_LIMITED');
  const tokens = answered.filter((p) => p.json.refresh_token !== undefined);
  assert.is(tokens.length, 1, answered.map((p) => p.json.status).join(','));
  assert.is(answered.filter((p) => p.json.status === 'used').length, answered.length - 1);

  const refreshed = await on(2).request('POST', '/api/v1/auth/sessions/current/refresh', {
    headers: { ...clientHeaders(project), 'x-stack-refresh-token': tokens[0]!.json.refresh_token },
  });
  assert.is(refreshed.status, 200, refreshed.text);
});

test('a write on one instance is read on the next request to another, and all agree on the digest', async () => {
  for (let i = 0; i < 10; i++) {
    const created = await on(i).request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: `u${i}@example.com` } });
    assert.is(created.status, 201, created.text);
    const read = await on(i + 1).request('GET', `/api/v1/users/${created.json.id}`, { headers: serverHeaders(project) });
    assert.is(read.status, 200, `written on ${i % 3}, read on ${(i + 1) % 3}: ${read.text}`);
  }
  const digests = new Set(await Promise.all(instances.map((s) => s.app.readModel.digest())));
  assert.is(digests.size, 1, 'one Redis read model, projected by three instances');
});

test.run();
