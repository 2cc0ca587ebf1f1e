// The official Stack Auth SDK (@stackframe/js, unchanged, from npm) pointed at authlog by its
// base URL only (issue #12): it sends x-hexclave-* headers, asks for error statuses as 200 with
// the real one in a header, polls in upstream's dialect, refreshes through OAuth's token
// endpoint, and validates every access token's claims. Plain HTTP clients keep the reference
// page's dialect (the HTTP suites prove that, untouched).
import { test as uvuTest } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeJwt } from 'jose';
import { StackClientApp, StackServerApp } from '@stackframe/js';
import { KnownErrors } from '@stackframe/stack-shared';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { clientHeaders, serverHeaders, startTestService, type TestService } from './support/service.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp-receiver.ts';

const CALLBACK = 'https://app.example.com/handler/magic-link-callback';

// The SDK's known errors carry a `details` field, which uvu takes for an assertion's diff and
// then prints nothing at all: turn them into plain errors so a failure says what happened.
const test = (name: string, fn: () => Promise<void>) =>
  uvuTest(name, async () => {
    try {
      await fn();
    } catch (error) {
      if (error instanceof assert.Assertion || !(error instanceof Error)) throw error;
      throw new Error(`${error.name}: ${error.message}`, { cause: error });
    }
  });

let smtp: SmtpReceiver;
let service: TestService;
let project: CreatedProject;

uvuTest.before(async () => {
  smtp = await startSmtpReceiver();
  service = await startTestService({ SMTP_URL: smtp.url });
  project = await service.createProject('SDK', ['https://app.example.com']);
});
uvuTest.after(async () => {
  await service.stop();
  await service.remove();
  await smtp.stop();
});

const clientApp = () =>
  new StackClientApp({ baseUrl: service.url, projectId: project.project_id, publishableClientKey: project.publishable_client_key, tokenStore: 'memory' });

const serverApp = () =>
  new StackServerApp({
    baseUrl: service.url,
    projectId: project.project_id,
    publishableClientKey: project.publishable_client_key,
    secretServerKey: project.secret_server_key,
    tokenStore: 'memory',
  });

/** The SDK's own request layer (headers, error-status override, error decoding), as promptCliLogin uses it. */
const requestLayerOf = (app: StackClientApp) =>
  (app as unknown as { _interface: { sendClientRequest(path: string, init: RequestInit, session: null): Promise<Response> } })._interface;

/** What `run` rejected with; undefined when it resolved. */
async function rejection(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  return undefined;
}

async function newUser(email: string): Promise<string> {
  const res = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: email } });
  assert.is(res.status, 201, res.text);
  return res.json.id;
}

/** A browser session of the user, as the person approving a CLI login has. */
async function browserSession(userId: string): Promise<{ refresh_token: string; access_token: string }> {
  const res = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: userId } });
  assert.is(res.status, 200, res.text);
  return res.json;
}

/** Verified against the project's JWKS over HTTP, as any resource server would. */
async function verifiedSubject(accessToken: string): Promise<string | undefined> {
  return (await service.app.tokens.verify(accessToken, Date.now(), project.project_id))?.userId;
}

test('promptCliLogin: the SDK polls in its own dialect, the login is approved through /auth/cli/complete, and its refresh token refreshes', async () => {
  const userId = await newUser('cli@example.com');
  const browser = await browserSession(userId);
  const app = clientApp();
  let approved: Promise<unknown> | undefined;
  // promptCliLogin polls every 2 s until it has an answer; a broken dialect would poll forever.
  const gaveUp = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('promptCliLogin did not resolve within 30 s')), 30_000).unref());
  const result = await Promise.race([
    app.promptCliLogin({
      appUrl: 'https://app.example.com',
      promptLink: (_url: string, loginCode: string) => {
        approved = service.request('POST', '/api/v1/auth/cli/complete', {
          headers: clientHeaders(project),
          body: { login_code: loginCode, refresh_token: browser.refresh_token },
        });
      },
    }),
    gaveUp,
  ]);
  assert.ok(approved, 'the SDK showed a login code');
  const completed = (await approved) as { status: number };
  assert.is(completed.status, 200);
  assert.is(result.status, 'ok', JSON.stringify(result));
  const refreshToken = (result as { data: string }).data;
  assert.match(refreshToken, /^rt_[0-9a-z]{48}$/);

  // The SDK refreshes with it (OAuth's token endpoint) and holds a token its own schema accepts.
  const cli = new StackClientApp({
    baseUrl: service.url,
    projectId: project.project_id,
    publishableClientKey: project.publishable_client_key,
    tokenStore: { accessToken: '', refreshToken },
  });
  const accessToken = await cli.getAccessToken();
  assert.ok(accessToken, 'the SDK got an access token for the refresh token');
  assert.is(await verifiedSubject(accessToken), userId);
  assert.is(decodeJwt(accessToken).email, 'cli@example.com');
});

test("user.getActiveSessions() and user.revokeSession() (GET/DELETE /auth/sessions?user_id=me) list and end the user's own sessions", async () => {
  const userId = await newUser('sessions@example.com');
  const other = await browserSession(userId);
  const mine = await browserSession(userId);
  const app = new StackClientApp({
    baseUrl: service.url,
    projectId: project.project_id,
    publishableClientKey: project.publishable_client_key,
    tokenStore: { accessToken: mine.access_token, refreshToken: mine.refresh_token },
  });
  const user = await app.getUser();
  assert.ok(user, 'the SDK reads the signed-in user');
  const sessions = await user.getActiveSessions();
  assert.is(sessions.length, 2);
  const current = sessions.filter((s) => s.isCurrentSession);
  assert.is(current.length, 1, 'one is the current session');
  for (const s of sessions) assert.ok(s.lastUsedAt instanceof Date && !Number.isNaN(s.lastUsedAt.getTime()), 'lastUsedAt is a time, never null');
  const otherSession = sessions.find((s) => !s.isCurrentSession);
  assert.ok(otherSession);
  await user.revokeSession(otherSession.id);
  assert.equal((await user.getActiveSessions()).map((s) => s.id), current.map((s) => s.id));
  const refreshed = await service.request('POST', '/api/v1/auth/sessions/current/refresh', {
    headers: { ...clientHeaders(project), 'x-stack-refresh-token': other.refresh_token },
  });
  assert.is(refreshed.status, 401, 'the revoked session no longer refreshes');
  // Signing out, and again: the second is upstream's 401, which the SDK takes as signed out.
  await user.signOut({ redirectUrl: 'https://app.example.com' }).catch(() => undefined);
  const again = await service.request('DELETE', '/api/v1/auth/sessions/current', { headers: { ...clientHeaders(project), 'x-stack-access-token': mine.access_token } });
  assert.is(again.status, 401, again.text);
});

test('an anonymous user from getUser({ or: "anonymous" }) starts promptCliLogin with anonRefreshToken; the approval checks, claims the anonymous session, and a person completes', async () => {
  const cliApp = clientApp();
  const anonymous = await cliApp.getUser({ or: 'anonymous' });
  assert.ok(anonymous, 'the SDK signed up anonymously');
  assert.is(anonymous.isAnonymous, true);
  const anonRefreshToken = (await anonymous.currentSession.getTokens()).refreshToken;
  assert.ok(anonRefreshToken);
  const personId = await newUser('anon-cli@example.com');
  const person = await browserSession(personId);
  let approval: Promise<{ check: unknown; claim: { status: number; json: { access_token: string } }; complete: { status: number } }> | undefined;
  const gaveUp = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('promptCliLogin did not resolve within 30 s')), 30_000).unref());
  // What upstream's approval page (cli-auth-confirm) sends, in its order.
  const approve = async (loginCode: string) => {
    const send = (body: object) => service.request('POST', '/api/v1/auth/cli/complete', { headers: clientHeaders(project), body: { login_code: loginCode, ...body } });
    const check = (await send({ mode: 'check' })).json;
    const claim = await send({ mode: 'claim-anon-session' });
    const complete = await send({ refresh_token: person.refresh_token });
    return { check, claim, complete };
  };
  const result = await Promise.race([
    cliApp.promptCliLogin({ appUrl: 'https://app.example.com', anonRefreshToken, promptLink: (_url: string, loginCode: string) => void (approval = approve(loginCode)) }),
    gaveUp,
  ]);
  assert.ok(approval, 'the SDK showed a login code');
  const approved = await approval;
  assert.equal(approved.check, { cli_session_state: 'anonymous' });
  assert.is(approved.claim.status, 200);
  assert.is(decodeJwt(approved.claim.json.access_token).sub, anonymous.id, 'the browser got a session of the CLI’s anonymous user');
  assert.is(approved.complete.status, 200);
  assert.is(result.status, 'ok', JSON.stringify(result));
  const cli = new StackClientApp({ baseUrl: service.url, projectId: project.project_id, publishableClientKey: project.publishable_client_key, tokenStore: { accessToken: '', refreshToken: (result as { data: string }).data } });
  assert.is(await verifiedSubject((await cli.getAccessToken()) ?? ''), personId);
});

test('the SDK\'s server side creates an impersonation session for a user, and its tokens work', async () => {
  const userId = await newUser('impersonated@example.com');
  const server = serverApp();
  const user = await server.getUser(userId);
  assert.ok(user, 'the SDK reads the user');
  assert.is(user.id, userId);
  assert.is(user.primaryEmail, 'impersonated@example.com');
  const session = await user.createSession({ isImpersonation: true, expiresInMillis: 60 * 60_000 });
  const tokens = await session.getTokens();
  assert.ok(tokens.accessToken && tokens.refreshToken);
  const claims = decodeJwt(tokens.accessToken);
  assert.is(claims.sub, userId);
  assert.match(String((claims.act as { sub?: string } | undefined)?.sub), /^server-key:/, 'the token names who impersonates');
  // The refresh token works, and the session is listed as an impersonation session to admins.
  const refreshed = await service.request('POST', '/api/v1/auth/sessions/current/refresh', {
    headers: { ...clientHeaders(project), 'x-hexclave-refresh-token': tokens.refreshToken },
  });
  assert.is(refreshed.status, 200, refreshed.text);
  assert.is(await verifiedSubject(refreshed.json.access_token), userId);
});

test('sendMagicLinkEmail + signInWithMagicLink with the code from the mail sign the user in', async () => {
  const app = clientApp();
  const email = 'magic@example.com';
  const before = smtp.messages.length;
  const sent = await app.sendMagicLinkEmail(email, { callbackUrl: CALLBACK });
  assert.is(sent.status, 'ok', JSON.stringify(sent));
  const mail = await smtp.waitForMail((m) => smtp.messages.indexOf(m) >= before && m.to.includes(email));
  const code = new RegExp(`${CALLBACK.replace(/[.?/]/g, '\\$&')}\\?code=([0-9a-z]{45})`).exec(mail.text)?.[1];
  assert.ok(code, 'the mail holds the magic link');
  const signedIn = await app.signInWithMagicLink(code, { noRedirect: true });
  assert.is(signedIn.status, 'ok', JSON.stringify(signedIn));
  const accessToken = await app.getAccessToken();
  assert.ok(accessToken, 'the SDK holds the new session');
  const userId = await verifiedSubject(accessToken);
  assert.ok(userId);
  const stored = await service.request('GET', `/api/v1/users/${userId}`, { headers: serverHeaders(project) });
  assert.is(stored.json.primary_email, email, 'signed up with the mail\'s address');
});

test('an unknown polling code reaches the SDK as its known error INVALID_POLLING_CODE', async () => {
  const unknown = await rejection(() =>
    requestLayerOf(clientApp()).sendClientRequest(
      '/auth/cli/poll',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ polling_code: 'poll_unknown' }) },
      null,
    ),
  );
  assert.ok(KnownErrors.InvalidPollingCodeError.isInstance(unknown), `got ${String(unknown)}`);
});

test('x-hexclave-* headers are the x-stack-* headers; both with different values is a 400', async () => {
  const hexclave = {
    'x-hexclave-project-id': project.project_id,
    'x-hexclave-access-type': 'server',
    'x-hexclave-secret-server-key': project.secret_server_key,
  };
  const created = await service.request('POST', '/api/v1/users', { headers: hexclave, body: {} });
  assert.is(created.status, 201, created.text);
  const same = await service.request('POST', '/api/v1/users', { headers: { ...hexclave, 'x-stack-project-id': project.project_id }, body: {} });
  assert.is(same.status, 201, 'the same value under both names is fine');
  const differ = await service.request('POST', '/api/v1/users', {
    headers: { ...hexclave, 'x-stack-secret-server-key': 'ssk_other' },
    body: {},
  });
  assert.is(differ.status, 400, differ.text);
  assert.is(differ.json.code, 'SCHEMA_ERROR');
  assert.match(differ.json.error, 'x-stack-secret-server-key and headers.x-hexclave-secret-server-key must not differ');
});

test('override-error-status: a 4xx is answered 200 with the real status in both actual-status headers; 2xx and plain clients unchanged', async () => {
  for (const header of ['x-stack-override-error-status', 'x-hexclave-override-error-status']) {
    const res = await service.request('POST', '/api/v1/auth/cli/poll', { headers: { ...clientHeaders(project), [header]: 'true' }, body: { polling_code: 'poll_nope' } });
    assert.is(res.status, 200);
    assert.is(res.headers.get('x-stack-actual-status'), '400');
    assert.is(res.headers.get('x-hexclave-actual-status'), '400');
    assert.is(res.headers.get('x-stack-known-error'), 'INVALID_POLLING_CODE');
    assert.is(res.json.code, 'INVALID_POLLING_CODE');
  }
  const plain = await service.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: 'poll_nope' } });
  assert.is(plain.status, 400);
  assert.is(plain.headers.get('x-stack-actual-status'), null);
  const ok = await service.request('POST', '/api/v1/auth/cli', { headers: { ...clientHeaders(project), 'x-stack-override-error-status': 'true' } });
  assert.is(ok.status, 200);
  assert.is(ok.headers.get('x-stack-actual-status'), null);
});

test('the poll dialect follows the client-version header: upstream\'s 200 waiting / 201 success for SDKs, the reference page\'s for others', async () => {
  const userId = await newUser('dialect@example.com');
  const browser = await browserSession(userId);
  const sdkHeaders = { ...clientHeaders(project), 'x-hexclave-client-version': 'js @stackframe/js@2.8.108' };
  const poll = (pollingCode: string, headers: Record<string, string>) =>
    service.request('POST', '/api/v1/auth/cli/poll', { headers, body: { polling_code: pollingCode } });
  for (const [headers, pending, success] of [
    [sdkHeaders, { status: 200, body: { status: 'waiting' } }, { status: 201, name: 'success' }],
    [{ ...clientHeaders(project), 'x-stack-client-version': 'js @stackframe/js@2.8.108' }, { status: 200, body: { status: 'waiting' } }, { status: 201, name: 'success' }],
    [clientHeaders(project), { status: 201, body: { status: 'pending' } }, { status: 200, name: 'completed' }],
  ] as const) {
    const started = await service.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project) });
    const waiting = await poll(started.json.polling_code, headers);
    assert.is(waiting.status, pending.status);
    assert.equal(waiting.json, pending.body);
    await service.request('POST', '/api/v1/auth/cli/complete', { headers: clientHeaders(project), body: { login_code: started.json.login_code, refresh_token: browser.refresh_token } });
    const done = await poll(started.json.polling_code, headers);
    assert.is(done.status, success.status);
    assert.is(done.json.status, success.name);
    assert.match(done.json.refresh_token, /^rt_/);
    const used = await poll(started.json.polling_code, headers);
    assert.is(used.status, 200);
    assert.equal(used.json, { status: 'used' });
  }
});

test('a wrong key, a taken email and a malformed body reach the SDK as its own known errors, not as crashes', async () => {
  const wrongKey = new StackClientApp({ baseUrl: service.url, projectId: project.project_id, publishableClientKey: 'pck_wrong', tokenStore: 'memory' });
  const badKey = await rejection(() => requestLayerOf(wrongKey).sendClientRequest('/auth/cli', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, null));
  assert.ok(KnownErrors.InvalidPublishableClientKey.isInstance(badKey), `got ${String(badKey)}`);
  const badBody = await rejection(() => requestLayerOf(clientApp()).sendClientRequest('/auth/cli', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }, null));
  assert.ok(KnownErrors.BodyParsingError.isInstance(badBody), `got ${String(badBody)}`);
  await newUser('taken@example.com');
  const server = serverApp();
  const taken = await rejection(() => server.createUser({ primaryEmail: 'taken@example.com' }));
  assert.ok(KnownErrors.UserWithEmailAlreadyExists.isInstance(taken), `got ${String(taken)}`);
});

/** A client app signed in through a mailed magic link (the SDK's own calls), and the user's id. */
async function signedInApp(app: StackClientApp, email: string): Promise<string> {
  const before = smtp.messages.length;
  const sent = await app.sendMagicLinkEmail(email, { callbackUrl: CALLBACK });
  assert.is(sent.status, 'ok', JSON.stringify(sent));
  const mail = await smtp.waitForMail((m) => smtp.messages.indexOf(m) >= before && m.to.includes(email));
  const code = /[?&]code=([0-9a-z]{45})/.exec(mail.text)?.[1];
  assert.ok(code, 'the mail holds the magic link');
  const signedIn = await app.signInWithMagicLink(code, { noRedirect: true });
  assert.is(signedIn.status, 'ok', JSON.stringify(signedIn));
  const userId = await verifiedSubject((await app.getAccessToken()) ?? '');
  assert.ok(userId);
  return userId;
}

test("the client user's update() changes the display name (PATCH /users/me); getUser() and the server read it back", async () => {
  const app = clientApp();
  const userId = await signedInApp(app, 'updater@example.com');
  const user = await app.getUser({ or: 'throw' });
  await user.update({ displayName: 'Ada Updated' });
  const stored = await service.request('GET', `/api/v1/users/${userId}`, { headers: serverHeaders(project) });
  assert.is(stored.json.display_name, 'Ada Updated');
  const reread = await app.getUser({ or: 'throw' });
  assert.is(reread.displayName, 'Ada Updated');
});

test("the server app's listUsers pages through the project's users (GET /users with limit and cursor)", async () => {
  const listing = await service.createProject('SDK listing', ['https://app.example.com']);
  const server = new StackServerApp({
    baseUrl: service.url,
    projectId: listing.project_id,
    publishableClientKey: listing.publishable_client_key,
    secretServerKey: listing.secret_server_key,
    tokenStore: 'memory',
  });
  const created: string[] = [];
  for (const email of ['l1@example.com', 'l2@example.com', 'l3@example.com']) created.push((await server.createUser({ primaryEmail: email })).id);
  const all = await server.listUsers();
  assert.equal(new Set(all.map((u) => u.id)), new Set(created));
  const first = await server.listUsers({ limit: 2 });
  assert.is(first.length, 2);
  assert.type(first.nextCursor, 'string');
  const rest = await server.listUsers({ limit: 2, cursor: first.nextCursor ?? undefined });
  assert.equal(new Set([...first, ...rest].map((u) => u.id)), new Set(created));
  assert.is(rest.nextCursor, null);
});

test('an SDK app built without a publishable key signs in, reads its user and refreshes, on a project that does not require one', async () => {
  const keyless = new StackClientApp({ baseUrl: service.url, projectId: project.project_id, tokenStore: 'memory' });
  const userId = await signedInApp(keyless, 'keyless-sdk@example.com');
  const user = await keyless.getUser({ or: 'throw' });
  assert.is(user.id, userId);
  // A fresh app with only the refresh token: the SDK refreshes through OAuth's token endpoint.
  const { refreshToken } = await user.currentSession.getTokens();
  const later = new StackClientApp({ baseUrl: service.url, projectId: project.project_id, tokenStore: { accessToken: '', refreshToken: refreshToken ?? '' } });
  assert.is(await verifiedSubject((await later.getAccessToken()) ?? ''), userId);
});

uvuTest.run();
