// Refresh-token rotation with reuse detection (issue #22): each refresh hands out a successor
// and retires the presented token; a retry within the grace gets the same successor; a retired
// token presented later ends the whole session and says why; the official SDK keeps working.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StackClientApp } from '@stackframe/js';
import { createAdjustableClock } from '../src/clock.ts';
import { setRefreshTokenRotation } from '../src/commands/project/manage-keys.ts';
import { systemOrigin } from '../src/app-context.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { adminHeaders, clientHeaders, serverHeaders, startTestService, type TestService } from './support/service.ts';

const clock = createAdjustableClock();
let service: TestService;
let project: CreatedProject;

test.before(async () => {
  service = await startTestService({}, { clock: clock.now });
  project = await service.createProject('rotation');
  await setRefreshTokenRotation(service.app, project.project_id, 'all', systemOrigin('test'));
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

async function newSession(): Promise<{ refresh_token: string; userId: string }> {
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
  const session = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } });
  assert.is(session.status, 200, session.text);
  return { refresh_token: session.json.refresh_token, userId: user.json.id };
}

const refresh = (token: string) =>
  service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': token } });
const oauthRefresh = (token: string) =>
  service.request('POST', '/api/v1/auth/oauth/token', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, client_id: project.project_id, client_secret: project.publishable_client_key }).toString(),
  });

test('each refresh hands out a successor; a retry within the grace gets the same one; a replay later ends the whole session', async () => {
  const { refresh_token: t0 } = await newSession();
  const first = await refresh(t0);
  assert.is(first.status, 200, first.text);
  const t1 = first.json.refresh_token;
  assert.match(t1, /^rt_[0-9a-z]{48}$/);
  assert.is.not(t1, t0);
  const retry = await refresh(t0);
  assert.is(retry.status, 200, 'a retry within the grace is not reuse');
  assert.is(retry.json.refresh_token, t1, 'and gets the same successor');
  const second = await oauthRefresh(t1);
  assert.is(second.status, 200, second.text);
  const t2 = second.json.refresh_token;
  assert.match(t2, /^rt_/, 'the OAuth token endpoint returns the successor as OAuth does');

  clock.advance(31_000);
  const replay = await refresh(t0);
  assert.is(replay.status, 401, 'a retired token after the grace is refused');
  assert.is(replay.json.code, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  assert.is((await refresh(t2)).status, 401, 'and the whole session ended: the current token too');
  const events = await service.request('GET', '/api/v1/events?type=SessionRevoked', { headers: adminHeaders(project) });
  assert.ok(events.json.items.some((e: { data: { reason: string } }) => e.data.reason === 'refresh-token-reused'), events.text);
});

test('concurrent refreshes with the same token all succeed with one successor', async () => {
  const { refresh_token: t0 } = await newSession();
  const answers = await Promise.all([refresh(t0), refresh(t0), refresh(t0), oauthRefresh(t0)]);
  for (const a of answers) assert.is(a.status, 200, a.text);
  assert.is(new Set(answers.map((a) => a.json.refresh_token)).size, 1);
  assert.is((await refresh(answers[0]!.json.refresh_token)).status, 200);
});

test('the thief who refreshes first ends the session for both when the owner presents the token', async () => {
  const { refresh_token: stolen } = await newSession();
  const thief = await refresh(stolen);
  assert.is(thief.status, 200);
  assert.is((await refresh(thief.json.refresh_token)).status, 200, 'the thief uses the successor');
  clock.advance(31_000);
  assert.is((await refresh(stolen)).status, 401, "the owner's later refresh is reuse");
  assert.is((await refresh(thief.json.refresh_token)).status, 401, "the thief's successor is dead too");
});

test('with rotation off, refresh answers no refresh token and the same one keeps working', async () => {
  const other = await service.createProject('no rotation');
  await setRefreshTokenRotation(service.app, other.project_id, 'none', systemOrigin('test'));
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(other), body: {} });
  const session = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(other), body: { user_id: user.json.id } });
  for (let i = 0; i < 2; i++) {
    const res = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(other), 'x-stack-refresh-token': session.json.refresh_token } });
    assert.is(res.status, 200);
    assert.is(res.json.refresh_token, undefined);
  }
});

test("the official SDK's refresh works with rotation on: it keeps the successor, which refreshes again", async () => {
  const { refresh_token: t0, userId } = await newSession();
  const sdk = new StackClientApp({ baseUrl: service.url, projectId: project.project_id, publishableClientKey: project.publishable_client_key, tokenStore: { accessToken: '', refreshToken: t0 } });
  const accessToken = await sdk.getAccessToken();
  assert.ok(accessToken, 'the SDK refreshed');
  assert.is((await service.app.tokens.verify(accessToken, clock.now(), project.project_id))?.userId, userId);
  // The SDK ignores the answer's refresh_token (upstream never rotates): it keeps its first one,
  // whose successor is never used, so it goes on working — and is not taken for reuse.
  const kept = await (sdk as unknown as { getRefreshToken(): Promise<string | null> }).getRefreshToken();
  assert.is(kept, t0);
  clock.advance(15 * 60_000);
  const later = new StackClientApp({ baseUrl: service.url, projectId: project.project_id, publishableClientKey: project.publishable_client_key, tokenStore: { accessToken: '', refreshToken: t0 } });
  const again = await later.getAccessToken();
  assert.ok(again, 'the SDK refreshes with its token again, a quarter of an hour later');
  assert.is((await service.app.tokens.verify(again, clock.now(), project.project_id))?.userId, userId);
});

test('a retired token whose successor was never used keeps getting that successor; once the successor is used, the retired one is reuse', async () => {
  const { refresh_token: t0 } = await newSession();
  const t1 = (await refresh(t0)).json.refresh_token;
  clock.advance(60 * 60_000);
  const stillT0 = await refresh(t0);
  assert.is(stillT0.status, 200, 'an hour later, the successor unused: a client that ignores refresh_token');
  assert.is(stillT0.json.refresh_token, t1);
  assert.is((await refresh(t1)).status, 200, 'now the successor is used');
  assert.is((await refresh(t0)).status, 200, 'within the grace, a retry that lost the race');
  clock.advance(31_000);
  assert.is((await refresh(t0)).status, 401, 'after it, reuse');
});

test.run();
