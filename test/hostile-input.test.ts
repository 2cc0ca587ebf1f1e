// Hostile input, property-based (fast-check), against the real server: random and wrong-typed
// bodies, oversized and odd-unicode strings, malformed JSON, wrong content types, garbage,
// missing and repeated x-stack-* headers, random methods and paths. Whatever comes in, (1) every
// answer is a documented one (2xx, or a catalogued 4xx in the error shape; 503 only as
// SERVICE_UNAVAILABLE), (2) the server stays up, (3) a rejected request appends nothing to the log.
// Requests run one at a time, so the log's head before and after each request is exact.
// The seed is fixed (FC_SEED=<n> to choose another); fast-check prints it with any counterexample.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import fc from 'fast-check';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { ERROR_CATALOGUE } from '../src/errors.ts';
import { adminHeaders, clientHeaders, serverHeaders, startTestService, type TestService } from './support/service.ts';

const SEED = Number(process.env.FC_SEED ?? 20_240_611);
const RUNS = 250;
const options = { numRuns: RUNS, seed: SEED, includeErrorInReport: true };

let service: TestService;
let project: CreatedProject;
let other: CreatedProject;

test.before(async () => {
  service = await startTestService();
  project = await service.createProject('hostile', ['https://app.example.com']);
  other = await service.createProject('other');
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

/** Fresh real values for each property (the previous one may have deleted its users or signed them out). */
async function realState() {
  const users: { id: string; refreshToken: string; accessToken: string }[] = [];
  for (const email of ['ada@example.com', 'bob@example.com', null]) {
    const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: email } });
    const session = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json?.id } });
    if (session.status === 200) users.push({ id: user.json.id, refreshToken: session.json.refresh_token, accessToken: session.json.access_token });
  }
  const cli = await service.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project) });
  assert.ok(users.length > 0 && cli.status === 200, 'setup');
  return { users, pollingCode: cli.json.polling_code as string, loginCode: cli.json.login_code as string };
}

interface Answer {
  status: number;
  header(name: string): string | null;
  text: string;
}
const newStats = () => ({ tried: 0, ok: 0, rejected: 0, unavailable: 0, codes: {} as Record<string, number> });
type Stats = ReturnType<typeof newStats>;

/** (1) A documented answer: 2xx, or a catalogued error whose status, body and header agree. */
function assertDocumented(a: Answer, method: string, where: string): void {
  if (a.status >= 200 && a.status < 300) return;
  assert.ok(a.status >= 400 && a.status < 600, `undocumented status (0: no answer): ${where}`);
  const code = a.header('x-stack-known-error') ?? '';
  assert.ok(Object.hasOwn(ERROR_CATALOGUE, code), `x-stack-known-error ${JSON.stringify(code)} not in the catalogue: ${where}`);
  assert.is(ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE].status, a.status, `status of ${code}: ${where}`);
  if (a.status >= 500) assert.is(code, 'SERVICE_UNAVAILABLE', `a 5xx: ${where}`);
  if (method === 'HEAD') return;
  // The approval page (/cli) answers people: its errors are whole HTML pages, with the same header.
  if (/^text\/html\b/.test(a.header('content-type') ?? '')) {
    assert.ok(where.includes('/cli'), `an HTML answer outside the approval page: ${where}`);
    assert.match(a.text, /^<!doctype html>/, `page: ${where}`);
    assert.not.match(a.text, /\bat \S+ \(|node_modules|Error:/, `a stack trace on the page: ${where}`);
    return;
  }
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(a.text);
  } catch {
    assert.unreachable(`error body is not JSON: ${where}`);
  }
  const { code: bodyCode, error, details, ...rest } = body;
  assert.is(bodyCode, code, `body code vs header: ${where}`);
  assert.type(error, 'string', where);
  assert.ok(details === undefined || (typeof details === 'object' && details !== null && !Array.isArray(details)), `details: ${where}`);
  assert.equal(Object.keys(rest), [], `extra fields in the error body: ${where}`);
}

/** One request, checked for (1), then (3) nothing appended when rejected, then (2) GET /health still 200. */
async function exchange(stats: Stats, method: string, what: string, send: () => Promise<Answer>): Promise<void> {
  const before = await service.app.store.headPosition();
  const answer = await send();
  const where = `${what} → ${answer.status} ${answer.text.slice(0, 300)}`;
  stats.tried++;
  assertDocumented(answer, method, where);
  if (answer.status < 300) stats.ok++;
  else if (answer.status < 500) stats.rejected++;
  else stats.unavailable++;
  const code = answer.header('x-stack-known-error') ?? String(answer.status);
  stats.codes[code] = (stats.codes[code] ?? 0) + 1;
  if (answer.status >= 400) assert.is(await service.app.store.headPosition(), before, `a rejected request appended to the log: ${where}`);
  assert.is((await service.request('GET', '/health')).status, 200, `server down after ${where}`);
}

async function viaFetch(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const res = await service.request(method, path, { headers, body });
  return { status: res.status, header: (n) => res.headers.get(n), text: res.text };
}

/**
 * Exactly the bytes given (repeated headers, raw paths, non-ASCII header bytes). Not support's
 * `rawRequest`: it half-closes the socket, and Node then drops the answer to any request still in
 * progress. The request asks `connection: close`; status 0 means no answer within 10 s.
 */
function viaSocket(method: string, target: string, headerLines: string[], body = ''): Promise<Answer> {
  const { hostname, port } = new URL(service.url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => {
      const head = [`${method} ${target} HTTP/1.1`, ...headerLines, `host: ${hostname}`, `content-length: ${Buffer.byteLength(body)}`, 'connection: close'];
      socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
    });
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const end = raw.indexOf('\r\n\r\n');
      const headers = new Map<string, string>();
      for (const line of raw.slice(0, Math.max(end, 0)).split('\r\n').slice(1)) headers.set(line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim());
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
      resolve({ status, header: (n) => headers.get(n) ?? null, text: end < 0 ? raw : raw.slice(end + 4) });
    });
  });
}

function report(name: string, s: Stats): void {
  console.log(`  # ${name}: ${s.tried} requests, ${s.ok} 2xx, ${s.rejected} 4xx, ${s.unavailable} 503, no other 5xx`);
  const top = Object.entries(s.codes).sort((a, b) => b[1] - a[1]).slice(0, 8);
  console.log(`  #   most frequent answers: ${top.map(([c, n]) => `${c} ${n}`).join(', ')}`);
}

// ---- generators ----
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const oddChar = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), loneSurrogate, fc.constantFrom('\u0000', '\u202e', '\ufeff', '\u200b', 'e\u0301', '"', '\\', '%', '/', '\n'));
const oddString = fc.string({ unit: oddChar, maxLength: 40 });
/** 50–150 kB when encoded: some under the 100 kB limit, most over it. */
const hugeString = fc
  .tuple(fc.integer({ min: 50_000, max: 150_000 }), fc.constantFrom('x', 'é', '😀', '\u0000', '"'))
  .map(([bytes, c]) => c.repeat(Math.ceil(bytes / Buffer.byteLength(c))));
const garbage = fc.oneof(fc.string({ maxLength: 30 }), oddString, fc.uuid(), fc.constantFrom('', ' ', 'null', 'pck_', 'ssk_x', 'sak_', 'Bearer', 'a.b.c'));
/** %-encoded, with lone surrogates as U+FFFD (encodeURIComponent throws on them). */
const encode = (s: string): string => encodeURIComponent(Buffer.from(s, 'utf8').toString('utf8'));
const anyJson = fc.oneof({ weight: 4, arbitrary: fc.jsonValue() }, fc.anything().map((v) => JSON.parse(JSON.stringify(v) ?? 'null') as unknown));
const pick = <T>(...values: T[]) => fc.constantFrom(...values);

function generators(real: Awaited<ReturnType<typeof realState>>) {
  const userId = fc.oneof(pick(...real.users.map((u) => u.id)), fc.uuid(), garbage);
  const pathId = fc.oneof(userId, oddString.map(encode), pick('..', '%2e%2e', '%E0%A4%A', '%00', '%uD800'));
  const query = (names: string[]) =>
    fc
      .array(fc.tuple(pick(...names, 'x'), fc.oneof(userId, garbage, fc.date({ noInvalidDate: true }).map((d) => d.toISOString()))), { maxLength: 4 })
      .map((pairs) => (pairs.length ? '?' + pairs.map(([k, v]) => `${k}=${encode(v)}`).join('&') : ''));
  const email = fc.oneof(pick('ada@example.com', 'ADA@Example.com', 'bob@example.com'), fc.emailAddress(), garbage);
  const millis = fc.oneof(fc.integer(), fc.double(), pick(0, 1000, 3_600_000, 1e300, -1));
  const refreshToken = pick(...real.users.map((u) => u.refreshToken));
  const accessToken = pick(...real.users.map((u) => u.accessToken));
  // Every endpoint of the README, with the fields its body may have and plausible values for them.
  const endpoints: { method: string; path: fc.Arbitrary<string>; fields?: Record<string, fc.Arbitrary<unknown>> }[] = [
    { method: 'POST', path: pick('/api/v1/users'), fields: { primary_email: fc.oneof(email, fc.constant(null)), display_name: fc.oneof(oddString, fc.constant(null)), primary_email_verified: fc.boolean() } },
    { method: 'GET', path: pathId.map((id) => `/api/v1/users/${id}`) },
    { method: 'DELETE', path: pathId.map((id) => `/api/v1/users/${id}`) },
    { method: 'POST', path: pick('/api/v1/auth/sessions', '/auth/sessions'), fields: { user_id: userId, expires_in_millis: millis, is_impersonation: fc.boolean() } },
    { method: 'POST', path: pick('/api/v1/auth/sessions/current/refresh') },
    { method: 'DELETE', path: pick('/api/v1/auth/sessions/current') },
    { method: 'GET', path: query(['user_id']).map((q) => `/api/v1/auth/sessions${q}`) },
    { method: 'DELETE', path: fc.tuple(pathId, query(['user_id'])).map(([id, q]) => `/api/v1/auth/sessions/${id}${q}`) },
    { method: 'GET', path: fc.oneof(pick(project.project_id), pathId).map((id) => `/api/v1/projects/${id}/.well-known/jwks.json`) },
    { method: 'POST', path: pick('/api/v1/auth/cli'), fields: { expires_in_millis: millis } },
    { method: 'POST', path: pick('/api/v1/auth/cli/complete'), fields: { login_code: fc.oneof(pick(real.loginCode, 'KTRW-BNQX'), garbage), refresh_token: fc.oneof(refreshToken, garbage) } },
    { method: 'POST', path: pick('/api/v1/auth/cli/poll'), fields: { polling_code: fc.oneof(pick(real.pollingCode), garbage) } },
    { method: 'POST', path: pick('/api/v1/auth/otp/send-sign-in-code'), fields: { email, callback_url: fc.oneof(pick('https://app.example.com/cb', 'javascript:alert(1)'), fc.webUrl(), garbage) } },
    { method: 'POST', path: pick('/api/v1/auth/otp/sign-in/check-code', '/api/v1/auth/otp/sign-in'), fields: { code: fc.oneof(fc.string({ unit: pick(...'abcdef0123456789XYZ'), minLength: 45, maxLength: 45 }), garbage) } },
    { method: 'GET', path: query(['user_id', 'actor', 'since', 'until', 'as_of']).map((q) => `/api/v1/audit/impersonations${q}`) },
    { method: 'GET', path: query(['stream', 'category', 'type', 'from', 'limit']).map((q) => `/api/v1/events${q}`) },
    { method: 'GET', path: pick('/health', '/ready') },
  ];
  const credentialValue = fc.oneof(
    pick(project.publishable_client_key, project.secret_server_key, project.super_secret_admin_key, other.secret_server_key, project.project_id, other.project_id),
    refreshToken,
    accessToken,
    garbage,
  );
  const stackNames = ['project-id', 'access-type', 'publishable-client-key', 'secret-server-key', 'super-secret-admin-key', 'admin-access-token', 'access-token', 'refresh-token'].map((n) => `x-stack-${n}`);
  const validCredentials = fc
    .tuple(pick(clientHeaders(project), serverHeaders(project), adminHeaders(project)), fc.record({ 'x-stack-access-token': accessToken, 'x-stack-refresh-token': refreshToken }, { requiredKeys: [] }))
    .map(([keys, user]) => Object.entries({ ...keys, ...user }));
  /** Header pairs: most often a real project's valid keys (and a user's tokens), else real values and garbage mixed. */
  const credentials = fc.oneof(
    { weight: 3, arbitrary: validCredentials },
    fc.array(fc.tuple(pick(...stackNames), fc.oneof(credentialValue, pick('client', 'server', 'admin', 'root'))), { maxLength: 5 }),
    fc.tuple(pick('authorization'), credentialValue.map((v) => `Bearer ${v}`)).map((pair) => [pair]),
  );
  /** A body of the endpoint's shape, each field plausible, or wrong-typed, odd or huge; sometimes an unknown field. */
  const shapedBody = (fields: Record<string, fc.Arbitrary<unknown>>) =>
    fc
      .tuple(
        fc.record(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, fc.oneof({ weight: 6, arbitrary: v }, anyJson, oddString, hugeString)])), { requiredKeys: [] }),
        fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, garbage),
      )
      .map(([body, extra]) => (extra === undefined ? body : { ...body, nickname: extra }));
  const endpoint = pick(...endpoints).chain((e) => fc.record({ method: fc.constant(e.method), path: e.path, shaped: shapedBody(e.fields ?? {}) }));
  return { endpoint, credentials, validCredentials, stackNames, credentialValue };
}

const printable = (pairs: [string, string][]) => Object.fromEntries(pairs.map(([k, v]) => [k, v.replace(/[^\x20-\x7e]/g, '?')]));
const headerLines = (pairs: [string, string][]) => pairs.map(([k, v]) => `${k}: ${v.replace(/[\r\n]/g, ' ')}`);

test('random JSON, wrong-typed and oversized bodies on every endpoint get a documented answer; a rejection appends nothing', async () => {
  const g = generators(await realState());
  const stats = newStats();
  const body = fc.oneof({ weight: 3, arbitrary: fc.constant('shaped' as const) }, anyJson, hugeString.map((s) => ({ display_name: s })), fc.constant(undefined));
  await fc.assert(
    fc.asyncProperty(g.endpoint, g.credentials, body, async ({ method, path, shaped }, credentials, chosen) => {
      const value = chosen === 'shaped' ? shaped : chosen;
      const sent = method === 'GET' || value === undefined ? undefined : JSON.stringify(value);
      const what = `${method} ${path} ${JSON.stringify(credentials)} body ${(sent ?? '').slice(0, 200)}`;
      await exchange(stats, method, what, () => viaFetch(method, path, printable(credentials), sent));
    }),
    options,
  );
  report('bodies', stats);
  assert.ok(stats.ok > 0 && stats.rejected > 0, 'some requests got through to the commands, some were rejected');
});

test('malformed JSON text and wrong content types get a documented answer; a rejection appends nothing', async () => {
  const g = generators(await realState());
  const stats = newStats();
  const malformed = fc.oneof(
    fc.json().chain((j) => fc.nat(Math.max(0, j.length - 1)).map((cut) => j.slice(0, cut) || '{')),
    fc.tuple(fc.json(), pick(',', '}', ']', "'", '\u0000', 'undefined')).map(([j, junk]) => j + junk),
    pick('{"a":', "{'a':1}", 'NaN', '[1,]', '\ufeff{}', '{"user_id": }', 'a=b&c=d', '<xml/>', '--x\r\nContent-Disposition: form-data'),
    oddString.filter((s) => s.trim() !== ''),
  );
  const contentType = pick(undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/vnd.api+json', 'application/json; charset=latin1', 'text/html', 'application/jsonx', '*/*', 'json');
  const body = fc.oneof(malformed, fc.jsonValue().map((v) => JSON.stringify(v)));
  await fc.assert(
    fc.asyncProperty(g.endpoint.filter((e) => e.method !== 'GET'), g.validCredentials, body, contentType, async ({ method, path }, credentials, text, type) => {
      const headers = { ...printable(credentials), ...(type ? { 'content-type': type } : {}) };
      await exchange(stats, method, `${method} ${path} content-type ${String(type)} body ${JSON.stringify(text.slice(0, 200))}`, () => viaFetch(method, path, headers, text));
    }),
    options,
  );
  report('malformed bodies and content types', stats);
});

test('garbage, missing and repeated x-stack-* headers (any bytes but CR/LF) get a documented answer; a rejection appends nothing', async () => {
  const g = generators(await realState());
  const stats = newStats();
  const otherNames = pick('authorization', 'content-type', 'x-request-id', 'user-agent', 'x-forwarded-for', 'X-Stack-Project-Id', 'X-STACK-ACCESS-TYPE');
  const header = fc.oneof(fc.tuple(pick(...g.stackNames), g.credentialValue), fc.tuple(otherNames, fc.oneof(g.credentialValue, g.credentialValue.map((v) => `Bearer ${v}`))));
  const valid = fc.oneof(g.validCredentials, fc.constant([] as [string, string][]));
  await fc.assert(
    fc.asyncProperty(g.endpoint, valid, fc.array(header, { maxLength: 6 }), fc.nat(3), async ({ method, path, shaped }, pairs, extra, repeat) => {
      // Bodies stay small here: the 413 path is the first property's, through fetch.
      const json = JSON.stringify(shaped);
      const body = method === 'GET' || Buffer.byteLength(json) > 60_000 ? '' : json;
      const lines = headerLines([...pairs, ...extra, ...pairs.slice(0, repeat)]);
      if (body) lines.push('content-type: application/json');
      await exchange(stats, method, `${method} ${path} headers ${JSON.stringify(lines).slice(0, 600)}`, () => viaSocket(method, path, lines, body));
    }),
    options,
  );
  report('headers', stats);
});

const segment = fc.oneof(
  pick('api', 'v1', 'users', 'auth', 'sessions', 'current', 'refresh', 'cli', 'poll', 'otp', 'projects', '.well-known', 'jwks.json', 'events', 'health', '..', '.', ''),
  pick('%2e%2e', '%2F', '%00', '%E0%A4%A', '%ZZ', '%', '%uD800', '..%2f..', '~', '*', ';', '?', '?user_id=%'),
  fc.uuid(),
  fc.string({ unit: oddChar, maxLength: 8 }).map(encode),
);
const randomPath = fc.oneof(
  { weight: 4, arbitrary: fc.array(segment, { maxLength: 8 }).map((s) => '/' + s.join('/')) },
  fc.tuple(fc.integer({ min: 1_000, max: 20_000 }), pick('a', '%2e', '../')).map(([n, s]) => '/api/v1/users/' + s.repeat(Math.ceil(n / s.length))),
  pick('*', '//', '/api/v1/users/../../etc/passwd', 'http://evil.example/api/v1/users', '/health?' + 'a=1&'.repeat(2_000)),
  pick('/cli', '/cli/approve', '/cli/otp', '/cli?project_id=%ZZ&login_code=%00', '/cli?project_id=a&project_id=b', '/cli/../api/v1/users'),
);

async function methodsAndPaths(name: string, method: fc.Arbitrary<string>): Promise<void> {
  const g = generators(await realState());
  const stats = newStats();
  const body = fc.oneof(fc.constant(''), fc.jsonValue().map((v) => JSON.stringify(v)));
  await fc.assert(
    fc.asyncProperty(method, randomPath, g.credentials, body, async (m, path, credentials, text) => {
      const lines = [...headerLines(credentials), 'content-type: application/json'];
      await exchange(stats, m, `${m} ${path.slice(0, 300)} ${JSON.stringify(credentials)} body ${text.slice(0, 200)}`, () => viaSocket(m, path, lines, text));
    }),
    options,
  );
  report(name, stats);
}

test('the router\'s methods on random paths (traversal, %-encodings, very long) get a documented answer; a rejection appends nothing', async () => {
  await methodsAndPaths('methods the router knows, random paths', pick('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'get', 'FOO', 'G ET'));
});

test('methods Node accepts but no route serves (TRACE, PROPFIND, M-SEARCH…) get a documented 4xx, not a 500', async () => {
  await methodsAndPaths('other HTTP methods, random paths', pick('TRACE', 'PROPFIND', 'M-SEARCH', 'PURGE', 'COPY', 'MOVE', 'LOCK', 'SEARCH', 'REPORT', 'MKCOL'));
});

test.run();
