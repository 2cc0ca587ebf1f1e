// The HTTP conventions of API.md §1 end to end against the real server: who is calling, errors,
// validation, limits, users (§4), restart, and secrets at rest. Issue #2's acceptance list.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { DISCARD_AFTER_TOO_LARGE_BYTES, MAX_BODY_BYTES } from '../src/http/body.ts';
import { clientHeaders, adminHeaders, rawRequest, serverHeaders, startTestService, storedLog, testEventStore, testReadModel, type ApiResponse, type TestService } from './support/service.ts';

let service: TestService;
let project: CreatedProject;
let other: CreatedProject;

test.before(async () => {
  service = await startTestService();
  project = await service.createProject('demo');
  other = await service.createProject('other');
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

const post = (headers: Record<string, string>, body?: unknown) => service.request('POST', '/api/v1/users', { headers, body });

function assertKnownError(res: ApiResponse, status: number, code: string): void {
  assert.is(res.status, status, `status for ${code}: ${res.text}`);
  assert.is(res.json?.code, code, res.text);
  assert.type(res.json?.error, 'string');
  assert.is(res.headers.get('x-stack-known-error'), code);
  assert.ok(res.headers.get('x-request-id'), 'x-request-id');
  assert.is(res.headers.get('cache-control'), 'no-store');
}

async function head(): Promise<bigint> {
  return service.app.store.headPosition();
}

test('GET /health answers 200 with a request id and cache-control: no-store', async () => {
  const res = await service.request('GET', '/health');
  assert.is(res.status, 200);
  assert.equal(res.json, { status: 'ok' });
  assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  assert.is(res.headers.get('cache-control'), 'no-store');
});

test('GET /ready reports both backends and a projection lag of 0', async () => {
  const res = await service.request('GET', '/ready');
  assert.is(res.status, 200, res.text);
  assert.is(res.json.event_store.kind, testEventStore() === 'sqlite' ? 'sqlite' : 'eventstoredb');
  assert.is(res.json.read_model.kind, testReadModel());
  assert.is(res.json.projection.lag_events, 0);
});

test('project id + secret server key alone (no access type) create a user', async () => {
  const res = await post(serverHeaders(project), { primary_email: 'first@example.com', display_name: 'First' });
  assert.is(res.status, 201, res.text);
  assert.match(res.json.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(
    { ...res.json, id: 'x', signed_up_at_millis: 0, last_active_at_millis: 0 },
    {
      id: 'x',
      primary_email: 'first@example.com',
      display_name: 'First',
      primary_email_verified: false,
      signed_up_at_millis: 0,
      // Upstream's user fields, which the official SDK reads; constant where authlog has no such thing.
      last_active_at_millis: 0,
      profile_image_url: null,
      client_metadata: null,
      client_read_only_metadata: null,
      server_metadata: null,
      primary_email_auth_enabled: true,
      has_password: false,
      auth_with_email: true,
      otp_auth_enabled: true,
      passkey_auth_enabled: false,
      oauth_providers: [],
      selected_team: null,
      selected_team_id: null,
      is_anonymous: false,
      is_restricted: false,
      restricted_reason: null,
      restricted_by_admin: false,
      restricted_by_admin_reason: null,
      restricted_by_admin_private_details: null,
      requires_totp_mfa: false,
      country_code: null,
      risk_scores: { sign_up: { bot: 0, free_trial_abuse: 0 } },
    },
  );
  assert.ok(Math.abs(res.json.signed_up_at_millis - Date.now()) < 60_000);
  assert.is(res.json.last_active_at_millis, res.json.signed_up_at_millis);
});

test('Authorization: Bearer <server key> without a project header names the project by the key', async () => {
  const res = await post({ authorization: `Bearer ${project.secret_server_key}` }, {});
  assert.is(res.status, 201, res.text);
  const fetched = await service.request('GET', `/api/v1/users/${res.json.id}`, { headers: serverHeaders(project) });
  assert.is(fetched.status, 200);
  const elsewhere = await service.request('GET', `/api/v1/users/${res.json.id}`, { headers: serverHeaders(other) });
  assertKnownError(elsewhere, 404, 'USER_NOT_FOUND');
});

test('the super secret admin key is accepted where server access is asked', async () => {
  const res = await post(adminHeaders(project), {});
  assert.is(res.status, 201, res.text);
});

test('the publishable key on a server endpoint → 401 INSUFFICIENT_ACCESS_TYPE with details', async () => {
  const before = await head();
  const res = await post(clientHeaders(project), {});
  assertKnownError(res, 401, 'INSUFFICIENT_ACCESS_TYPE');
  assert.equal(res.json.details, { actual_access_type: 'client', allowed_access_types: ['server', 'admin'] });
  assert.is(res.json.error, "The x-stack-access-type header must be 'server' or 'admin', but was 'client'.");
  assert.is(await head(), before);
});

test('a wrong server key → 401 INVALID_SECRET_SERVER_KEY; a key of another project → the same', async () => {
  assertKnownError(await post({ ...serverHeaders(project), 'x-stack-secret-server-key': 'ssk_wrong' }, {}), 401, 'INVALID_SECRET_SERVER_KEY');
  assertKnownError(
    await post({ 'x-stack-project-id': project.project_id, 'x-stack-secret-server-key': other.secret_server_key }, {}),
    401,
    'INVALID_SECRET_SERVER_KEY',
  );
});

test('an unknown project → 400 CURRENT_PROJECT_NOT_FOUND naming it', async () => {
  const unknown = '00000000-0000-4000-8000-000000000000';
  const res = await post({ ...serverHeaders(project), 'x-stack-project-id': unknown }, {});
  assertKnownError(res, 400, 'CURRENT_PROJECT_NOT_FOUND');
  assert.equal(res.json.details, { project_id: unknown });
  assertKnownError(await post({ ...serverHeaders(project), 'x-stack-project-id': 'not-a-uuid' }, {}), 400, 'CURRENT_PROJECT_NOT_FOUND');
});

test('no credentials → 400 ACCESS_TYPE_REQUIRED; a bad access type → 400 INVALID_ACCESS_TYPE', async () => {
  assertKnownError(await post({}, {}), 400, 'ACCESS_TYPE_REQUIRED');
  assertKnownError(await post({ 'x-stack-project-id': project.project_id }, {}), 400, 'ACCESS_TYPE_REQUIRED');
  assertKnownError(await post({ ...serverHeaders(project), 'x-stack-access-type': 'root' }, {}), 400, 'INVALID_ACCESS_TYPE');
});

test('a declared access type uses only that level\'s credential (the SDK sends its publishable key too)', async () => {
  const both = { ...serverHeaders(project), 'x-stack-publishable-client-key': project.publishable_client_key };
  assert.is((await post({ ...both, 'x-stack-access-type': 'server' }, {})).status, 201);
  assertKnownError(await post({ ...both, 'x-stack-access-type': 'client' }, {}), 401, 'INSUFFICIENT_ACCESS_TYPE');
  assertKnownError(await post({ ...clientHeaders(project), 'x-stack-access-type': 'server' }, {}), 400, 'ACCESS_TYPE_REQUIRED');
});

test('malformed JSON → 400 BODY_PARSING_ERROR and nothing is appended', async () => {
  const before = await head();
  assertKnownError(await post(serverHeaders(project), '{"primary_email": '), 400, 'BODY_PARSING_ERROR');
  assertKnownError(await post({ ...serverHeaders(project), 'content-type': 'application/x-www-form-urlencoded' }, 'a=b'), 400, 'BODY_PARSING_ERROR');
  assert.is(await head(), before);
});

test('an unknown field and wrong types → 400 SCHEMA_ERROR listing every failed rule, nothing appended', async () => {
  const before = await head();
  const res = await post(serverHeaders(project), { primary_email: 5, display_name: [], nickname: 'x' });
  assertKnownError(res, 400, 'SCHEMA_ERROR');
  assert.is(res.json.error, res.json.details.message);
  const lines = (res.json.error as string).split('\n');
  assert.is(lines[0], 'Request validation failed on POST /api/v1/users:');
  assert.equal(lines.slice(1).sort(), [
    '  - body contains unknown properties: nickname',
    '  - body.display_name must be a string (got array)',
    '  - body.primary_email must be a string (got number)',
  ]);
  const badEmail = await post(serverHeaders(project), { primary_email: 'not an email' });
  assertKnownError(badEmail, 400, 'SCHEMA_ERROR');
  assert.match(badEmail.json.error, '  - body.primary_email must be a valid email');
  assertKnownError(await post(serverHeaders(project), [1, 2]), 400, 'SCHEMA_ERROR');
  assert.is(await head(), before);
});

test('a 200 kB body → 413 REQUEST_TOO_LARGE, whether its length is declared or streamed', async () => {
  const before = await head();
  const big = JSON.stringify({ display_name: 'x'.repeat(200_000) });
  assertKnownError(await post(serverHeaders(project), big), 413, 'REQUEST_TOO_LARGE');
  // Ten times: a connection closed under a client still sending lost the 413 only some of the time.
  for (let i = 0; i < 10; i++) {
    const streamed = await fetch(service.url + '/api/v1/users', {
      method: 'POST',
      headers: { ...serverHeaders(project), 'content-type': 'application/json' },
      body: new Blob([big]).stream(),
      duplex: 'half',
    } as RequestInit);
    assert.is(streamed.status, 413);
    assert.is(streamed.headers.get('x-stack-known-error'), 'REQUEST_TOO_LARGE');
    assert.is((await streamed.json() as { code?: string }).code, 'REQUEST_TOO_LARGE');
  }
  assert.is(await head(), before);
});

/**
 * Writes `chunks` on one connection, each once the previous one drained, and resolves when the
 * server closes it: what came back, how many bytes were sent, the socket error if any.
 */
function onOneConnection(chunks: Iterable<string>): Promise<{ raw: string; sent: number; error?: string }> {
  const { hostname, port } = new URL(service.url);
  return new Promise((resolve) => {
    let raw = '';
    let sent = 0;
    let error: string | undefined;
    const socket = connect(Number(port), hostname, async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        sent += Buffer.byteLength(chunk);
        if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r).once('close', r));
      }
    });
    socket.on('data', (d: Buffer) => (raw += d.toString('utf8')));
    socket.on('error', (e: Error & { code?: string }) => (error = e.code ?? e.message));
    socket.on('close', () => resolve({ raw, sent, ...(error ? { error } : {}) }));
  });
}

const requestHead = (lines: string[]) => [...lines, 'host: 127.0.0.1', ...Object.entries(serverHeaders(project)).map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n';

test('after a 413 the rest of the body is read, and the same connection answers the next request', async () => {
  const before = await head();
  const body = JSON.stringify({ display_name: 'x'.repeat(2 * MAX_BODY_BYTES) });
  const declared = requestHead(['POST /api/v1/users HTTP/1.1', 'content-type: application/json', `content-length: ${body.length}`]) + body;
  const parts = [body.slice(0, 60_000), body.slice(60_000, 150_000), body.slice(150_000)];
  const chunked = requestHead(['POST /api/v1/users HTTP/1.1', 'content-type: application/json', 'transfer-encoding: chunked']) + parts.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n';
  const health = 'GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n';
  const { raw, error } = await onOneConnection([declared, chunked, health]);
  const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  assert.equal(statuses, [413, 413, 200], raw.slice(0, 2000));
  assert.is(error, undefined);
  assert.is(raw.match(/x-stack-known-error: REQUEST_TOO_LARGE/gi)?.length, 2);
  assert.match(raw, '{"status":"ok"}');
  assert.is(await head(), before);
});

test('an oversized body that goes on past the discard limit after its 413 has its connection cut', async () => {
  const declaredLength = 50_000_000;
  const chunk = 'x'.repeat(65_536);
  function* body() {
    yield requestHead(['POST /api/v1/users HTTP/1.1', 'content-type: application/json', `content-length: ${declaredLength}`]);
    for (let n = 0; n < declaredLength; n += chunk.length) yield chunk.slice(0, Math.min(chunk.length, declaredLength - n));
  }
  const { raw, sent } = await onOneConnection(body());
  assert.match(raw, /^HTTP\/1\.1 413 /);
  assert.match(raw, /x-stack-known-error: REQUEST_TOO_LARGE/i);
  assert.ok(sent > DISCARD_AFTER_TOO_LARGE_BYTES, `sent ${sent}`);
  assert.ok(sent < declaredLength, `cut only after all ${sent} bytes were sent`);
  assert.is((await service.request('GET', '/health')).status, 200, 'the server is still up');
});

test('a repeated x-stack header → 400 SCHEMA_ERROR; a request Node cannot parse → a JSON 400', async () => {
  const repeated = await rawRequest(
    service.url,
    `POST /api/v1/users HTTP/1.1\ncontent-type: application/json\nx-stack-secret-server-key: ${project.secret_server_key}\nx-stack-secret-server-key: ${other.secret_server_key}`,
    '{}',
  );
  assert.is(repeated.status, 400, repeated.raw);
  assert.match(repeated.raw, /x-stack-known-error: SCHEMA_ERROR/i);
  assert.match(repeated.raw, 'headers.x-stack-secret-server-key must be given once');
  const garbage = await rawRequest(service.url, 'POST /api/v1/users HTTP/1.1\nbad header line');
  assert.is(garbage.status, 400, garbage.raw);
  assert.match(garbage.raw, /x-stack-known-error: MALFORMED_REQUEST/i);
  assert.is((await service.request('GET', '/health')).status, 200, 'the server is still up');
});

test('an unknown route → 404 ROUTE_NOT_FOUND; a wrong method → 405 METHOD_NOT_ALLOWED, both as JSON errors', async () => {
  assertKnownError(await service.request('GET', '/api/v1/nothing-here'), 404, 'ROUTE_NOT_FOUND');
  assertKnownError(await service.request('PUT', '/api/v1/users', { headers: serverHeaders(project), body: {} }), 405, 'METHOD_NOT_ALLOWED');
});

test('20 concurrent creates with one email in different cases → exactly one succeeds, the rest 409', async () => {
  const spellings = Array.from({ length: 20 }, (_, i) => (i % 2 ? 'Race@Example.COM' : 'race@example.com'));
  const results = await Promise.all(spellings.map((email) => post(serverHeaders(project), { primary_email: email })));
  const ok = results.filter((r) => r.status === 201);
  assert.is(ok.length, 1, results.map((r) => r.status).join(','));
  for (const r of results.filter((x) => x.status !== 201)) assertKnownError(r, 409, 'USER_EMAIL_ALREADY_EXISTS');
  // The same address in another project is another user.
  assert.is((await post(serverHeaders(other), { primary_email: 'race@example.com' })).status, 201);
});

test('GET and DELETE a user; a deleted user is gone and its email can sign up again', async () => {
  const created = await post(serverHeaders(project), { primary_email: 'gone@example.com', primary_email_verified: true });
  assert.is(created.status, 201);
  const id = created.json.id as string;
  const got = await service.request('GET', `/api/v1/users/${id}`, { headers: serverHeaders(project) });
  assert.equal(got.json, created.json);
  const deleted = await service.request('DELETE', `/api/v1/users/${id}`, { headers: serverHeaders(project) });
  assert.equal([deleted.status, deleted.json], [200, { success: true }]);
  assertKnownError(await service.request('GET', `/api/v1/users/${id}`, { headers: serverHeaders(project) }), 404, 'USER_NOT_FOUND');
  assertKnownError(await service.request('DELETE', `/api/v1/users/${id}`, { headers: serverHeaders(project) }), 404, 'USER_NOT_FOUND');
  assertKnownError(await service.request('GET', '/api/v1/users/not-a-uuid', { headers: serverHeaders(project) }), 404, 'USER_NOT_FOUND');
  const again = await post(serverHeaders(project), { primary_email: 'Gone@example.com' });
  assert.is(again.status, 201, again.text);
  assert.is.not(again.json.id, id);
});

test('after a restart on the same data dir, projects and users are all there (the log is replayed)', async () => {
  const created = await post(serverHeaders(project), { primary_email: 'durable@example.com' });
  assert.is(created.status, 201);
  await service.stop();
  service = await startTestService({}, { dataDir: service.dataDir });
  const got = await service.request('GET', `/api/v1/users/${created.json.id}`, { headers: serverHeaders(project) });
  assert.is(got.status, 200, got.text);
  assert.equal(got.json, created.json);
  assertKnownError(await post(serverHeaders(project), { primary_email: 'DURABLE@example.com' }), 409, 'USER_EMAIL_ALREADY_EXISTS');
  assert.is((await post(clientHeaders(project), {})).status, 401, 'the publishable key still names the project');
});

test('no issued key appears in the stored event log, while the project id and key digests do', async () => {
  await service.stop();
  const content = await storedLog(service);
  assert.ok(content.includes(project.project_id), 'the test reads the right file');
  assert.ok(content.includes(service.app.hasher.digest('api-key', project.secret_server_key)), 'the digest is what is stored');
  for (const p of [project, other]) {
    for (const key of [p.publishable_client_key, p.secret_server_key, p.super_secret_admin_key]) {
      assert.not.ok(content.includes(key), `key ${key.slice(0, 4)}… found in the event store`);
      assert.not.ok(content.includes(key.slice(4)), 'nor its body without the prefix');
    }
  }
  service = await startTestService({}, { dataDir: service.dataDir });
});

test.run();
