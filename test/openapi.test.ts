// The OpenAPI document (issue #11): it validates, it describes exactly the routes the routers
// have, and what each route really answers matches its description — every documented success
// status is driven and its body parsed with the documented schema; every error answered has a
// documented code, status and body shape.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Router from '@koa/router';
import { validate } from '@readme/openapi-parser';
import { routersFor } from '../src/http/app.ts';
import { ROUTE_DESCRIPTIONS } from '../src/http/route-catalogue.ts';
import { documentedErrors, type RouteDescription } from '../src/http/route-description.ts';
import { buildOpenApiDocument, errorBody, openApiPath } from '../src/http/openapi-document.ts';
import { ERROR_CATALOGUE, type ErrorCode } from '../src/errors.ts';
import type { AppState } from '../src/http/app-state.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import type { OutgoingMail } from '../src/mail/mailer.ts';
import { adminHeaders, clientHeaders, serverHeaders, startTestService, type ApiResponse, type TestService } from './support/service.ts';
import { startEsdbDouble } from './support/esdb-double.ts';

const METRICS_TOKEN = 'openapi-test-metrics-token-0123456789';
const CALLBACK = 'https://app.example.com/cb';
const mails: OutgoingMail[] = [];
let service: TestService;
let project: CreatedProject;

test.before(async () => {
  service = await startTestService({ METRICS_TOKEN }, { mailer: { send: async (m) => void mails.push(m), close: async () => {} } });
  project = await service.createProject('openapi', ['https://app.example.com']);
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

const key = (method: string, path: string) => `${method} ${path}`;

/** `METHOD path` of every route the routers register (HEAD comes with GET and is not described apart). */
function routerRoutes(routers: readonly Router<AppState>[]): Set<string> {
  const out = new Set<string>();
  for (const router of routers) {
    for (const layer of router.stack) for (const method of layer.methods) if (method !== 'HEAD') out.add(key(method, String(layer.path)));
  }
  return out;
}
const describedRoutes = (routes: readonly RouteDescription[]) => new Set(routes.map((r) => key(r.method, r.path)));
const missing = (from: Set<string>, other: Set<string>) => [...from].filter((k) => !other.has(k)).sort();

test('GET /api/v1/openapi.json is a valid OpenAPI 3.1 document, the one built from the route descriptions', async () => {
  const res = await service.request('GET', '/api/v1/openapi.json');
  assert.is(res.status, 200, res.text);
  assert.is(res.json.openapi, '3.1.0');
  assert.equal(res.json, JSON.parse(JSON.stringify(buildOpenApiDocument())));
  const result = await validate(res.json);
  assert.ok(result.valid, `invalid: ${JSON.stringify(result, null, 1).slice(0, 2000)}`);
  // And the validator does fail a broken document (a response without its description).
  const broken = structuredClone(res.json);
  delete broken.paths['/health'].get.responses['200'].description;
  assert.is((await validate(broken)).valid, false, 'the validator catches a broken document');
});

test('every route the routers have is described and in the document, and nothing else is', async () => {
  const routers = routersFor(service.app);
  const registered = routerRoutes(routers);
  const described = describedRoutes(ROUTE_DESCRIPTIONS);
  assert.equal(missing(registered, described), [], 'routes without a description (add one next to the handler and list it in route-catalogue.ts)');
  assert.equal(missing(described, registered), [], 'descriptions of routes that do not exist');
  assert.is(described.size, ROUTE_DESCRIPTIONS.length, 'no route is described twice');

  const doc = (await service.request('GET', '/api/v1/openapi.json')).json as { paths: Record<string, Record<string, { summary?: string; responses?: object }>> };
  const inDocument = new Set(Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => key(m.toUpperCase(), path))));
  assert.equal([...inDocument].sort(), [...registered].map((k) => k.replace(/^(\S+) (.*)$/, (_, m: string, p: string) => key(m, openApiPath(p)))).sort());
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) assert.ok(op.summary && op.responses, `${method} ${path} has a summary and responses`);
  }

  // The comparison does catch a route added without a description.
  const extra = new Router<AppState>();
  extra.get('/api/v1/undescribed', (ctx) => void (ctx.body = {}));
  assert.equal(missing(routerRoutes([...routers, extra]), described), ['GET /api/v1/undescribed']);
});

// ---- real answers against the descriptions -------------------------------------------------

const descriptionOf = new Map(ROUTE_DESCRIPTIONS.map((r) => [key(r.method, r.path), r]));
/** `route status` (e.g. `POST /api/v1/auth/cli/poll 201`) of every answer checked. */
const seen = new Set<string>();
const errorsSeen = new Map<string, Set<ErrorCode>>();

/** Sends the request to the route (named by its template), checks the answer against the route's description. */
async function call(route: string, path: string, options: { headers?: Record<string, string>; body?: unknown; status: number }, base = service): Promise<ApiResponse> {
  const description = descriptionOf.get(route);
  assert.ok(description, `no description for ${route}`);
  const method = route.split(' ')[0]!;
  const res = await base.request(method, path, { ...(options.headers ? { headers: options.headers } : {}), ...(options.body === undefined ? {} : { body: options.body }) });
  assert.is(res.status, options.status, `${route} (${path}): ${res.text}`);
  checkAnswer(description, res, `${route} (${path})`);
  seen.add(`${route} ${res.status}`);
  return res;
}

function checkAnswer(route: RouteDescription, res: ApiResponse, where: string): void {
  const documented = route.responses[res.status];
  if (documented) {
    const body = documented.contentType === 'text/plain' ? res.text : res.json;
    const parsed = documented.schema.safeParse(body);
    assert.ok(parsed.success, `${where} ${res.status}: the body does not match the documented schema: ${parsed.error?.message}\n${res.text.slice(0, 500)}`);
    assert.match(res.headers.get('content-type') ?? '', documented.contentType ?? 'application/json');
    return;
  }
  const codes = documentedErrors(route);
  const code = res.json?.code as ErrorCode;
  assert.ok(codes.includes(code), `${where} answered ${res.status} ${code ?? res.text.slice(0, 200)}, which its description does not list`);
  assert.is(ERROR_CATALOGUE[code].status, res.status, `${where}: ${code} has the catalogue's status`);
  assert.is(res.headers.get('x-stack-known-error'), code);
  const parsed = errorBody(codes).safeParse(res.json);
  assert.ok(parsed.success, `${where}: the error body does not match: ${parsed.error?.message}`);
  const key = `${route.method} ${route.path}`;
  errorsSeen.set(key, (errorsSeen.get(key) ?? new Set()).add(code));
}

test('operations, metrics, the document and users answer as described', async () => {
  await call('GET /health', '/health', { status: 200 });
  await call('GET /api/v1/audit/checkpoint-keys', '/api/v1/audit/checkpoint-keys', { status: 200 });
  await call('GET /ready', '/ready', { status: 200 });
  await call('GET /api/v1/openapi.json', '/api/v1/openapi.json', { status: 200 });
  await call('GET /metrics', '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` }, status: 200 });
  await call('GET /metrics', '/metrics', { headers: { authorization: 'Bearer wrong-token' }, status: 401 });

  const server = serverHeaders(project);
  const user = (await call('POST /api/v1/users', '/api/v1/users', { headers: server, body: { primary_email: 'doc@example.com', display_name: 'Doc' }, status: 201 })).json;
  await call('POST /api/v1/users', '/api/v1/users', { headers: server, body: { primary_email: 'DOC@example.com' }, status: 409 });
  await call('POST /api/v1/users', '/api/v1/users', { headers: clientHeaders(project), body: {}, status: 401 });
  await call('GET /api/v1/users/:userId', `/api/v1/users/${user.id}`, { headers: server, status: 200 });
  await call('GET /api/v1/users/:userId', '/api/v1/users/00000000-0000-4000-8000-000000000000', { headers: server, status: 404 });
  const doomed = (await call('POST /api/v1/users', '/api/v1/users', { headers: server, status: 201 })).json;
  await call('DELETE /api/v1/users/:userId', `/api/v1/users/${doomed.id}`, { headers: server, status: 200 });
  await call('DELETE /api/v1/users/:userId', `/api/v1/users/${doomed.id}`, { headers: server, status: 404 });
  await call('GET /api/v1/projects/:projectId/.well-known/jwks.json', `/api/v1/projects/${project.project_id}/.well-known/jwks.json`, { status: 200 });
  await call('GET /api/v1/projects/:projectId/.well-known/jwks.json', '/api/v1/projects/nope/.well-known/jwks.json', { status: 400 });
});

test('user updates, listing, the own user and project config answer as described', async () => {
  const server = serverHeaders(project);
  const admin = adminHeaders(project);
  const user = (await call('POST /api/v1/users', '/api/v1/users', { headers: server, body: { primary_email: 'patch@example.com' }, status: 201 })).json;
  await call('PATCH /api/v1/users/:userId', `/api/v1/users/${user.id}`, { headers: server, body: { display_name: 'Patched' }, status: 200 });
  await call('PATCH /api/v1/users/:userId', `/api/v1/users/${user.id}`, { headers: server, body: { primary_email: 'doc@example.com' }, status: 409 });
  await call('PATCH /api/v1/users/:userId', '/api/v1/users/00000000-0000-4000-8000-000000000000', { headers: server, body: {}, status: 404 });
  await call('GET /api/v1/users', '/api/v1/users?limit=1', { headers: server, status: 200 });
  await call('GET /api/v1/users', '/api/v1/users?limit=0', { headers: server, status: 400 });
  await call('GET /api/v1/projects/current/config', '/api/v1/projects/current/config', { headers: admin, status: 200 });
  await call('GET /api/v1/projects/current/config', '/api/v1/projects/current/config', { headers: server, status: 401 });
  await call('PATCH /api/v1/projects/current/config', '/api/v1/projects/current/config', { headers: admin, body: { client_user_deletion_enabled: true }, status: 200 });
  await call('PATCH /api/v1/projects/current/config', '/api/v1/projects/current/config', { headers: admin, body: { nope: true }, status: 400 });
  const session = (await call('POST /api/v1/auth/sessions', '/api/v1/auth/sessions', { headers: server, body: { user_id: user.id }, status: 200 })).json;
  const own = { ...clientHeaders(project), 'x-stack-access-token': session.access_token };
  await call('PATCH /api/v1/users/me', '/api/v1/users/me', { headers: own, body: { display_name: 'Me' }, status: 200 });
  await call('PATCH /api/v1/users/me', '/api/v1/users/me', { headers: own, body: { primary_email_verified: true }, status: 400 });
  await call('DELETE /api/v1/users/me', '/api/v1/users/me', { headers: clientHeaders(project), status: 400 });
  await call('DELETE /api/v1/users/me', '/api/v1/users/me', { headers: own, status: 200 });
});

test('sessions answer as described', async () => {
  const server = serverHeaders(project);
  const user = (await call('POST /api/v1/users', '/api/v1/users', { headers: server, body: {}, status: 201 })).json;
  const a = (await call('POST /api/v1/auth/sessions', '/api/v1/auth/sessions', { headers: server, body: { user_id: user.id }, status: 200 })).json;
  const b = (await call('POST /auth/sessions', '/auth/sessions', { headers: server, body: { user_id: user.id, is_impersonation: true }, status: 200 })).json;
  await call('POST /auth/sessions', '/auth/sessions', { headers: clientHeaders(project), body: { user_id: user.id }, status: 401 });
  await call('POST /api/v1/auth/sessions', '/api/v1/auth/sessions', { headers: server, body: { user_id: '00000000-0000-4000-8000-000000000000' }, status: 400 });
  await call('POST /api/v1/auth/sessions', '/api/v1/auth/sessions', { headers: server, body: { user_id: user.id, extra: 1 }, status: 400 });
  const refresh = '/api/v1/auth/sessions/current/refresh';
  await call(`POST ${refresh}`, refresh, { headers: { ...clientHeaders(project), 'x-stack-refresh-token': a.refresh_token }, status: 200 });
  await call(`POST ${refresh}`, refresh, { headers: { ...clientHeaders(project), 'x-stack-refresh-token': 'rt_unknown' }, status: 401 });
  const own = { ...clientHeaders(project), 'x-stack-access-token': a.access_token };
  const list = (await call('GET /api/v1/auth/sessions', `/api/v1/auth/sessions?user_id=${user.id}`, { headers: own, status: 200 })).json;
  assert.is(list.items.length, 1, 'the impersonation session is not listed to the user');
  await call('GET /api/v1/auth/sessions', `/api/v1/auth/sessions?user_id=${user.id}`, { headers: adminHeaders(project), status: 200 });
  await call('GET /api/v1/auth/sessions', '/api/v1/auth/sessions?user_id=00000000-0000-4000-8000-000000000000', { headers: own, status: 403 });
  await call('DELETE /api/v1/auth/sessions/:sessionId', `/api/v1/auth/sessions/${list.items[0].id}?user_id=${user.id}`, { headers: own, status: 400 });
  const bId = (await service.app.tokens.verify(b.access_token, service.app.clock()))?.sessionId;
  await call('DELETE /api/v1/auth/sessions/:sessionId', `/api/v1/auth/sessions/${bId}?user_id=${user.id}`, { headers: adminHeaders(project), status: 200 });
  await call('DELETE /api/v1/auth/sessions/:sessionId', `/api/v1/auth/sessions/${bId}?user_id=${user.id}`, { headers: adminHeaders(project), status: 404 });
  await call('GET /api/v1/users/me', '/api/v1/users/me', { headers: own, status: 200 });
  await call('GET /api/v1/users/me', '/api/v1/users/me', { headers: clientHeaders(project), status: 400 });
  const token = '/api/v1/auth/oauth/token';
  const form = (refreshToken: string) => ({
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: project.project_id, client_secret: project.publishable_client_key }).toString(),
  });
  await call(`POST ${token}`, token, { ...form(a.refresh_token), status: 200 });
  await call(`POST ${token}`, token, { ...form('rt_unknown'), status: 401 });
  await call('DELETE /api/v1/auth/sessions/current', '/api/v1/auth/sessions/current', { headers: clientHeaders(project), status: 400 });
  await call('DELETE /api/v1/auth/sessions/current', '/api/v1/auth/sessions/current', { headers: own, status: 200 });
});

test('CLI authentication answers as described: pending, completed, used, and its errors', async () => {
  const client = clientHeaders(project);
  const server = serverHeaders(project);
  const user = (await call('POST /api/v1/users', '/api/v1/users', { headers: server, body: {}, status: 201 })).json;
  const browser = (await call('POST /api/v1/auth/sessions', '/api/v1/auth/sessions', { headers: server, body: { user_id: user.id }, status: 200 })).json;
  const started = (await call('POST /api/v1/auth/cli', '/api/v1/auth/cli', { headers: client, status: 200 })).json;
  await call('POST /api/v1/auth/cli', '/api/v1/auth/cli', { headers: client, body: { expires_in_millis: 1 }, status: 400 });
  await call('POST /api/v1/auth/cli/poll', '/api/v1/auth/cli/poll', { headers: client, body: { polling_code: started.polling_code }, status: 201 });
  await call('POST /api/v1/auth/cli/complete', '/api/v1/auth/cli/complete', { headers: client, body: { login_code: 'BBBB-BBBB', refresh_token: browser.refresh_token }, status: 400 });
  await call('POST /api/v1/auth/cli/complete', '/api/v1/auth/cli/complete', { headers: client, body: { login_code: started.login_code, refresh_token: browser.refresh_token }, status: 200 });
  const completed = (await call('POST /api/v1/auth/cli/poll', '/api/v1/auth/cli/poll', { headers: client, body: { polling_code: started.polling_code }, status: 200 })).json;
  assert.is(completed.status, 'completed');
  assert.is((await call('POST /api/v1/auth/cli/poll', '/api/v1/auth/cli/poll', { headers: client, body: { polling_code: started.polling_code }, status: 200 })).json.status, 'used');
  await call('POST /api/v1/auth/cli/poll', '/api/v1/auth/cli/poll', { headers: client, body: { polling_code: 'poll_unknown' }, status: 400 });

  // Upstream's dialect, for requests with a client-version header: the same documented statuses.
  const sdk = { ...client, 'x-hexclave-client-version': 'js @stackframe/js@2.8.108' };
  const again = (await call('POST /api/v1/auth/cli', '/api/v1/auth/cli', { headers: client, status: 200 })).json;
  const waiting = await call('POST /api/v1/auth/cli/poll', '/api/v1/auth/cli/poll', { headers: sdk, body: { polling_code: again.polling_code }, status: 200 });
  assert.equal(waiting.json, { status: 'waiting' });
  await call('POST /api/v1/auth/cli/complete', '/api/v1/auth/cli/complete', { headers: client, body: { login_code: again.login_code, refresh_token: browser.refresh_token }, status: 200 });
  const success = await call('POST /api/v1/auth/cli/poll', '/api/v1/auth/cli/poll', { headers: sdk, body: { polling_code: again.polling_code }, status: 201 });
  assert.is(success.json.status, 'success');

  // Started anonymously: check, hand the anonymous session over, and their errors.
  const anonymous = (await call('POST /api/v1/auth/anonymous/sign-up', '/api/v1/auth/anonymous/sign-up', { headers: client, status: 200 })).json;
  await call('POST /api/v1/auth/cli', '/api/v1/auth/cli', { headers: client, body: { anon_refresh_token: 'rt_unknown' }, status: 400 });
  const anon = (await call('POST /api/v1/auth/cli', '/api/v1/auth/cli', { headers: client, body: { anon_refresh_token: anonymous.refresh_token }, status: 200 })).json;
  const complete = (body: object, status: number) => call('POST /api/v1/auth/cli/complete', '/api/v1/auth/cli/complete', { headers: client, body, status });
  assert.equal((await complete({ login_code: anon.login_code, mode: 'check' }, 200)).json, { cli_session_state: 'anonymous' });
  await complete({ login_code: again.login_code, mode: 'claim-anon-session' }, 400);
  assert.ok((await complete({ login_code: anon.login_code, mode: 'claim-anon-session' }, 200)).json.access_token);
  await complete({ login_code: anon.login_code, refresh_token: anonymous.refresh_token }, 403);
});

test('sign-in codes answer as described', async () => {
  const client = clientHeaders(project);
  await call('POST /api/v1/auth/otp/send-sign-in-code', '/api/v1/auth/otp/send-sign-in-code', { headers: client, body: { email: 'otp@example.com', callback_url: CALLBACK }, status: 200 });
  await call('POST /api/v1/auth/otp/send-sign-in-code', '/api/v1/auth/otp/send-sign-in-code', { headers: client, body: { email: 'otp@example.com', callback_url: 'https://evil.example.net/' }, status: 400 });
  const code = /[?&]code=([0-9a-z]{45})\b/.exec(mails.at(-1)?.text ?? '')?.[1] ?? '';
  assert.is(code.length, 45, 'the mail holds the code');
  await call('POST /api/v1/auth/otp/sign-in/check-code', '/api/v1/auth/otp/sign-in/check-code', { headers: client, body: { code }, status: 200 });
  await call('POST /api/v1/auth/otp/sign-in/check-code', '/api/v1/auth/otp/sign-in/check-code', { headers: client, body: { code: 'short' }, status: 400 });
  await call('POST /api/v1/auth/otp/sign-in', '/api/v1/auth/otp/sign-in', { headers: client, body: { code }, status: 200 });
  await call('POST /api/v1/auth/otp/sign-in', '/api/v1/auth/otp/sign-in', { headers: client, body: { code }, status: 409 });
  await call('POST /api/v1/auth/otp/sign-in', '/api/v1/auth/otp/sign-in', { headers: client, body: { code: 'x'.repeat(45) }, status: 404 });
});

test('audit and events answer as described', async () => {
  const admin = adminHeaders(project);
  await call('GET /api/v1/audit/impersonations', '/api/v1/audit/impersonations', { headers: admin, status: 200 });
  await call('GET /api/v1/audit/impersonations', '/api/v1/audit/impersonations', { headers: serverHeaders(project), status: 401 });
  const events = (await call('GET /api/v1/events', '/api/v1/events?limit=50', { headers: admin, status: 200 })).json;
  assert.ok(events.items.length > 0);
  await call('GET /api/v1/events', '/api/v1/events?from=abc', { headers: admin, status: 400 });
});

test('project keys and signing keys answer as described', async () => {
  const own = await service.createProject('keys');
  const admin = adminHeaders(own);
  const keys = (await call('GET /api/v1/projects/current/keys', '/api/v1/projects/current/keys', { headers: admin, status: 200 })).json;
  assert.is(keys.items.length, 3);
  await call('POST /api/v1/projects/current/keys/rotate', '/api/v1/projects/current/keys/rotate', { headers: admin, body: { kind: 'client', grace_seconds: 60 }, status: 200 });
  await call('POST /api/v1/projects/current/keys/rotate', '/api/v1/projects/current/keys/rotate', { headers: admin, body: { kind: 'root' }, status: 400 });
  const server = keys.items.find((k: { kind: string }) => k.kind === 'server');
  await call('PATCH /api/v1/projects/current/keys/:keyId', `/api/v1/projects/current/keys/${server.id}`, { headers: admin, body: { revoked: true }, status: 200 });
  await call('PATCH /api/v1/projects/current/keys/:keyId', `/api/v1/projects/current/keys/${crypto.randomUUID()}`, { headers: admin, body: { revoked: true }, status: 404 });
  await call('POST /api/v1/projects/current/signing-keys/rotate', '/api/v1/projects/current/signing-keys/rotate', { headers: admin, status: 200 });
  await call('POST /api/v1/projects/current/signing-keys/rotate', '/api/v1/projects/current/signing-keys/rotate', { headers: admin, status: 409 });
});

test('every route that needs credentials answers ACCESS_TYPE_REQUIRED as described when none are sent', async () => {
  for (const route of ROUTE_DESCRIPTIONS.filter((r) => r.access === 'client' || r.access === 'server' || r.access === 'admin')) {
    const path = route.path.replace(/:(\w+)/g, '00000000-0000-4000-8000-000000000000');
    const res = await call(key(route.method, route.path), path, { ...(route.method === 'GET' ? {} : { body: {} }), status: 400 });
    assert.is(res.json.code, 'ACCESS_TYPE_REQUIRED');
  }
});

test('a backend down: /ready answers its documented 503 and a write the documented SERVICE_UNAVAILABLE', async () => {
  const double = await startEsdbDouble();
  const down = await startTestService({ EVENTSTORE_URL: double.url, EVENTSTORE_TIMEOUT_MS: '500', AUTHLOG_SECRET: 'openapi-test-secret-0123456789-abcdefghijkl' });
  try {
    const p = await down.createProject('down');
    await double.stop();
    const ready = await call('GET /ready', '/ready', { status: 503 }, down);
    assert.is(ready.json.event_store.ok, false);
    await call('POST /api/v1/users', '/api/v1/users', { headers: serverHeaders(p), body: {}, status: 503 }, down);
  } finally {
    await down.stop();
    await down.remove();
    await double.stop();
  }
});

test('every documented success status was answered and checked, and every route was seen to answer an error', () => {
  const expected = ROUTE_DESCRIPTIONS.flatMap((r) => Object.keys(r.responses).map((status) => `${key(r.method, r.path)} ${status}`));
  assert.equal(expected.filter((e) => !seen.has(e)).sort(), [], 'documented responses never driven');
  const withErrors = ROUTE_DESCRIPTIONS.filter((r) => documentedErrors(r).length > 0).map((r) => key(r.method, r.path));
  assert.equal(withErrors.filter((k) => !errorsSeen.has(k)).sort(), [], 'routes whose errors were never driven');
  console.log(`  # ${seen.size} route/status pairs checked against the document; ${[...errorsSeen.values()].reduce((n, s) => n + s.size, 0)} route/error-code pairs`);
});

test.run();
