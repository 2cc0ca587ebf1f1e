// The service on the EventStoreDB adapter when EventStoreDB goes away (the gRPC double stopped)
// or hangs (a double that accepts connections and never answers): requests answer 503 within
// 5 s, nothing is half written, and the service recovers without a restart. Issue #6, acceptance 5.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { serverHeaders, startTestService, type TestService } from './support/service.ts';
import { startEsdbDouble, type EsdbDouble } from './support/esdb-double.ts';

let double: EsdbDouble;
let service: TestService;
let project: CreatedProject;

test.before(async () => {
  double = await startEsdbDouble();
  service = await startTestService({ EVENTSTORE_URL: double.url, AUTHLOG_SECRET: 'esdb-outage-test-secret-0123456789-abcdefgh' });
  project = await service.createProject('outage');
});
test.after(async () => {
  await service.stop();
  await service.remove();
  await double.stop();
});

const createUser = (email: string) => service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: email } });

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work();
  return { value, ms: Date.now() - started };
}

test('EventStoreDB down: writes answer 503 SERVICE_UNAVAILABLE within 5 s; back: they work again', async () => {
  assert.is((await createUser('before@example.com')).status, 201);
  await double.stop();
  const { value: res, ms } = await timed(() => createUser('during@example.com'));
  assert.is(res.status, 503, res.text);
  assert.is(res.json.code, 'SERVICE_UNAVAILABLE');
  assert.ok(ms < 5000, `took ${ms} ms`);
  console.log(`  # EventStoreDB down: 503 after ${ms} ms`);
  await double.restart();
  let again = await createUser('during@example.com');
  for (let i = 0; again.status !== 201 && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    again = await createUser('during@example.com');
  }
  assert.is(again.status, 201, `the refused write left nothing behind that blocks its email: ${again.text}`);
});

test('EventStoreDB silent (accepts, never answers): 503 within 5 s, and the server stays up', async () => {
  await double.stop();
  const silent = await startEsdbDouble({ silent: true, port: double.port });
  try {
    const { value: res, ms } = await timed(() => createUser('silent@example.com'));
    assert.is(res.status, 503, res.text);
    assert.ok(ms < 5000, `took ${ms} ms`);
    console.log(`  # EventStoreDB silent: 503 after ${ms} ms`);
    assert.is((await service.request('GET', '/health')).status, 200);
  } finally {
    await silent.stop();
  }
  await double.restart();
  let again = await createUser('silent@example.com');
  for (let i = 0; again.status !== 201 && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    again = await createUser('silent@example.com');
  }
  assert.is(again.status, 201, again.text);
});

test.run();
