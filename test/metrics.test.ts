// GET /metrics (issue #11, acceptance 2): off unless configured; behind its token, or alone on
// its own port; the counters move with the requests made; the projection-lag gauges rise while
// projections are stopped and return to 0 once they catch up.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { clientHeaders, request, serverHeaders, startTestService, type TestService } from './support/service.ts';
import { startEsdbDouble } from './support/esdb-double.ts';
import { createAdjustableClock } from '../src/clock.ts';
import type { ServiceOptions } from '../src/main.ts';

const TOKEN = 'metrics-test-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const services: TestService[] = [];

async function start(env: Record<string, string>, options: ServiceOptions = {}): Promise<TestService> {
  const service = await startTestService(env, options);
  services.push(service);
  return service;
}
test.after(async () => {
  for (const s of services) {
    await s.stop();
    await s.remove();
  }
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the sample with this name and (at least) these labels; 0 when there is none yet. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found?.value ?? 0;
}

async function scrape(url: string, headers: Record<string, string> = auth): Promise<Sample[]> {
  const res = await request(url, 'GET', '/metrics', { headers });
  assert.is(res.status, 200, res.text);
  assert.match(res.headers.get('content-type') ?? '', 'text/plain');
  return parseMetrics(res.text);
}

test('/metrics is off unless METRICS_TOKEN or METRICS_PORT is set: 404 ROUTE_NOT_FOUND', async () => {
  const service = await start({});
  const res = await service.request('GET', '/metrics');
  assert.is(res.status, 404);
  assert.is(res.json.code, 'ROUTE_NOT_FOUND');
  assert.is(service.metricsUrl, undefined);
});

test('with METRICS_TOKEN, /metrics needs the bearer token: none or a wrong one is 401 INVALID_METRICS_TOKEN', async () => {
  const service = await start({ METRICS_TOKEN: TOKEN });
  const refused: Record<string, string>[] = [{}, { authorization: 'Bearer not-the-token' }, { authorization: TOKEN }];
  for (const headers of refused) {
    const res = await service.request('GET', '/metrics', { headers });
    assert.is(res.status, 401, JSON.stringify(headers));
    assert.is(res.json.code, 'INVALID_METRICS_TOKEN');
    assert.not.match(res.text, 'authlog_http_requests_total');
  }
  assert.ok((await scrape(service.url)).length > 0);
});

test('the counters move with requests: requests by route and status, latency, events appended by type, rate-limit refusals', async () => {
  // A frozen clock: the 16 polls below fall in one fixed rate-limit window however slow the machine.
  const frozenAt = Date.now();
  const service = await start({ METRICS_TOKEN: TOKEN }, { clock: createAdjustableClock(() => frozenAt).now });
  const project = await service.createProject('metrics');
  const created = { method: 'POST', route: '/api/v1/users', status: '201' };
  const before = await scrape(service.url);

  for (let i = 0; i < 3; i++) {
    const res = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: `m${i}@example.com` } });
    assert.is(res.status, 201, res.text);
  }
  assert.is((await service.request('GET', '/api/v1/users/not-a-uuid', { headers: serverHeaders(project) })).status, 404);
  assert.is((await service.request('GET', '/nowhere')).status, 404);
  // CLI polls are limited per polling code (15 per 10 s by default): the 16th is refused.
  const statuses: number[] = [];
  for (let i = 0; i < 16; i++) statuses.push((await service.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: 'poll_metrics' } })).status);
  assert.equal(statuses, [...Array<number>(15).fill(400), 429]);

  const after = await scrape(service.url);
  const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
  assert.is(delta('authlog_http_requests_total', created), 3);
  assert.is(delta('authlog_http_request_duration_seconds_count', created), 3);
  assert.ok(delta('authlog_http_request_duration_seconds_sum', created) > 0, 'latency is recorded');
  assert.is(delta('authlog_http_requests_total', { method: 'GET', route: '/api/v1/users/:userId', status: '404' }), 1, 'by route template, not by path');
  assert.is(delta('authlog_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }), 1);
  assert.is(delta('authlog_http_requests_total', { method: 'POST', route: '/api/v1/auth/cli/poll', status: '429' }), 1);
  assert.is(delta('authlog_rate_limit_refusals_total', { limit: 'cli-poll' }), 1);
  assert.is(delta('authlog_events_appended_total', { type: 'UserCreated' }), 3);
  assert.ok(after.every((s) => !s.labels.route?.includes('not-a-uuid')), 'no raw path becomes a label');
  // Each scrape counts itself too: the earlier one is in the later one.
  assert.is(delta('authlog_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }), 1);
});

test('projection lag: events and seconds rise while projections are stopped, and return to 0 when they catch up', async () => {
  // A write waits 1 ms for its projection, then answers anyway: the write is durable either way.
  const service = await start({ METRICS_TOKEN: TOKEN, PROJECTION_WAIT_MS: '1' });
  const project = await service.createProject('lag');
  let samples = await scrape(service.url);
  assert.is(value(samples, 'authlog_projection_lag_events'), 0);
  assert.is(value(samples, 'authlog_projection_lag_seconds'), 0);

  await service.app.projections.stop();
  for (let i = 0; i < 3; i++) assert.is((await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} })).status, 201);
  await new Promise((resolve) => setTimeout(resolve, 20));
  samples = await scrape(service.url);
  const behind = value(samples, 'authlog_projection_lag_events');
  assert.ok(behind >= 3, `the read model is behind by the writes made: ${behind}`);
  assert.ok(value(samples, 'authlog_projection_lag_seconds') > 0, 'the oldest unapplied event has an age');

  await service.app.projections.start();
  samples = await scrape(service.url);
  assert.is(value(samples, 'authlog_projection_lag_events'), 0);
  assert.is(value(samples, 'authlog_projection_lag_seconds'), 0);
  console.log(`  # lag while stopped: ${behind} events; 0 after catching up`);
});

test('with METRICS_PORT, /metrics is served on that port only, and backend errors are counted by backend', async () => {
  const double = await startEsdbDouble();
  try {
    const service = await start({ METRICS_PORT: '0', EVENTSTORE_URL: double.url, EVENTSTORE_TIMEOUT_MS: '500', AUTHLOG_SECRET: 'metrics-test-secret-0123456789-abcdefghijkl' });
    const project = await service.createProject('port');
    assert.ok(service.metricsUrl && service.metricsUrl !== service.url, `a separate listener: ${service.metricsUrl}`);
    assert.is((await service.request('GET', '/metrics')).status, 404, 'not on the API port');
    const before = await scrape(service.metricsUrl!, {});
    await double.stop();
    const res = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
    assert.is(res.status, 503, res.text);
    const after = await scrape(service.metricsUrl!, {});
    assert.is(value(after, 'authlog_backend_errors_total', { backend: 'event_store' }) - value(before, 'authlog_backend_errors_total', { backend: 'event_store' }), 1);
    assert.is(value(after, 'authlog_http_requests_total', { method: 'POST', route: '/api/v1/users', status: '503' }), 1);
  } finally {
    await double.stop();
  }
});

test.run();
