// Single-use operations under load, over loopback against the in-process service: in each round
// one CLI login attempt is completed by 8 users at once and then polled 40 times at once, and one
// sign-in code is used by 20 requests at once; rounds run three at a time. Every race must have
// exactly one winner, and the log must hold exactly one completion, claim, use and session each.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAdjustableClock } from '../src/clock.ts';
import { changeProject } from '../src/commands/project/change-project.ts';
import { systemOrigin } from '../src/app-context.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import type { OutgoingMail } from '../src/mail/mailer.ts';
import { nonceDigestOf, nonceOf } from '../src/commands/sign-in-code/sign-in-code-streams.ts';
import { clientHeaders, request, serverHeaders, startTestService, type ApiResponse, type TestService } from './support/service.ts';

const ROUNDS = Number(process.env.STRESS_ROUNDS ?? 20);
const ROUNDS_AT_ONCE = 3;
const APPROVERS = 8;
const POLLS = 40;
const SIGN_INS = 20;
const CALLBACK = 'https://app.example.com/auth/callback';

// Frozen, moved by 15 minutes between batches of rounds so the sign-in-code send limit per
// address (30 per 15 minutes) never binds, however many rounds run.
const frozenAt = Date.now();
const clock = createAdjustableClock(() => frozenAt);
const mails: OutgoingMail[] = [];
let service: TestService;
let project: CreatedProject;
let connections = 0;
const figures = { requests: 0, winners: 0, losers: 0, rateLimited: 0 };

interface RoundOutcome {
  pollingCode: string;
  /** The user whose complete answered 200, and the token the one winning poll received. */
  approverId: string;
  cliRefreshToken: string;
  signInCode: string;
  signInUserId: string;
  signInRefreshToken: string;
}
const outcomes: RoundOutcome[] = [];

test.before(async () => {
  service = await startTestService({}, { clock: clock.now, mailer: { send: async (m) => void mails.push(m), close: async () => {} } });
  service.server.on('connection', () => connections++);
  project = await service.createProject('stress', ['https://app.example.com']);
  // What is under test is single use, not the guess limits (http-cli-auth and http-sign-in-codes
  // prove those): every guess holds a unit of its address's budget while it is evaluated, so 24
  // concurrent right guesses from one address would meet the default of 10.
  const roomy = { limit: 100_000, windowMs: 600_000 };
  await changeProject(
    service.app,
    { type: 'SetRateLimits', projectId: project.project_id, rateLimits: { 'login-code-guesses-per-address': roomy, 'sign-in-guesses-per-address': roomy, 'sign-in-guesses-per-email-address': roomy, 'cli-initiations-per-address': roomy } },
    systemOrigin('test'),
  );
});
test.after(async () => {
  await service.stop();
  await service.remove();
});

async function call(path: string, body: unknown, headers = clientHeaders(project)): Promise<ApiResponse> {
  figures.requests++;
  return request(service.url, 'POST', path, { headers, body });
}

const summary = (results: ApiResponse[]): string => results.map((r) => `${r.status} ${r.text}`).join('\n');

async function browserUser(): Promise<{ userId: string; refreshToken: string }> {
  const user = await call('/api/v1/users', {}, serverHeaders(project));
  assert.is(user.status, 201, user.text);
  const session = await call('/api/v1/auth/sessions', { user_id: user.json.id }, serverHeaders(project));
  assert.is(session.status, 200, session.text);
  return { userId: user.json.id, refreshToken: session.json.refresh_token };
}

/** One attempt, completed by APPROVERS users at once, then polled POLLS times at once. */
async function cliLoginRace(): Promise<Pick<RoundOutcome, 'pollingCode' | 'approverId' | 'cliRefreshToken'>> {
  const approvers = await Promise.all(Array.from({ length: APPROVERS }, browserUser));
  const started = await call('/api/v1/auth/cli', {});
  assert.is(started.status, 200, started.text);
  const { login_code, polling_code } = started.json;

  const completes = await Promise.all(approvers.map((a) => call('/api/v1/auth/cli/complete', { login_code, refresh_token: a.refreshToken })));
  const completed = completes.flatMap((r, i) => (r.status === 200 ? [i] : []));
  assert.is(completed.length, 1, summary(completes));
  for (const r of completes) {
    if (r.status !== 200) assert.equal([r.status, r.json?.code], [400, 'INVALID_LOGIN_CODE'], r.text);
  }

  const polls = await Promise.all(Array.from({ length: POLLS }, () => call('/api/v1/auth/cli/poll', { polling_code })));
  const withToken = polls.filter((r) => r.json?.refresh_token !== undefined);
  assert.is(withToken.length, 1, summary(polls));
  assert.equal([withToken[0]!.status, withToken[0]!.json.status], [200, 'completed']);
  for (const r of polls) {
    if (r === withToken[0]) continue;
    // A losing poll learns the attempt is used; a per-polling-code poll limit, where the service
    // has one, refuses some of 40 simultaneous polls before they race. Neither carries a token.
    if (r.status === 429) {
      assert.is(r.json?.code, 'RATE_LIMITED', r.text);
      figures.rateLimited++;
    } else {
      assert.equal([r.status, r.json], [200, { status: 'used' }], r.text);
      figures.losers++;
    }
  }
  figures.winners += 2;
  figures.losers += APPROVERS - 1;
  return { pollingCode: polling_code, approverId: approvers[completed[0]!]!.userId, cliRefreshToken: withToken[0]!.json.refresh_token };
}

/** One sign-in code, mailed to a fresh address, used by SIGN_INS requests at once. */
async function signInCodeRace(round: number): Promise<Pick<RoundOutcome, 'signInCode' | 'signInUserId' | 'signInRefreshToken'>> {
  const email = `stress-${round}@example.com`;
  const sent = await call('/api/v1/auth/otp/send-sign-in-code', { email, callback_url: CALLBACK });
  assert.is(sent.status, 200, sent.text);
  const mail = mails.find((m) => m.to === email);
  const code = /[?&]code=([0-9a-z]{45})\b/.exec(mail?.text ?? '')?.[1];
  assert.ok(code, `no sign-in code in the mail to ${email}`);

  // The same code as the link carries it and as a person types it (OTP in capitals): one code.
  const tries = await Promise.all(Array.from({ length: SIGN_INS }, (_, i) => call('/api/v1/auth/otp/sign-in', { code: i % 2 ? code.toUpperCase() : code })));
  const won = tries.filter((r) => r.status === 200);
  assert.is(won.length, 1, summary(tries));
  for (const r of tries) {
    if (r.status !== 200) assert.equal([r.status, r.json?.code], [409, 'VERIFICATION_CODE_ALREADY_USED'], r.text);
  }
  assert.is(won[0]!.json.is_new_user, true);
  figures.winners += 1;
  figures.losers += SIGN_INS - 1;
  return { signInCode: code, signInUserId: won[0]!.json.user_id, signInRefreshToken: won[0]!.json.refresh_token };
}

async function round(n: number): Promise<void> {
  const [cli, otp] = await Promise.all([cliLoginRace(), signInCodeRace(n)]);
  outcomes.push({ ...cli, ...otp });
}

test(`${ROUNDS} rounds, ${ROUNDS_AT_ONCE} at a time: every login code, poll and sign-in code has exactly one winner`, async () => {
  const started = performance.now();
  for (let first = 0; first < ROUNDS; first += ROUNDS_AT_ONCE) {
    const batch = Array.from({ length: Math.min(ROUNDS_AT_ONCE, ROUNDS - first) }, (_, i) => round(first + i));
    await Promise.all(batch);
    clock.advance(15 * 60_000);
  }
  const seconds = (performance.now() - started) / 1000;
  assert.is(outcomes.length, ROUNDS);
  assert.ok(connections > ROUNDS_AT_ONCE, `separate connections were used (${connections})`);
  console.log(`  # ${ROUNDS} rounds, ${ROUNDS_AT_ONCE} at a time, over ${connections} TCP connections`);
  console.log(`  # requests sent: ${figures.requests} in ${seconds.toFixed(2)} s (${Math.round(figures.requests / seconds)}/s)`);
  console.log(`  # contested requests: ${figures.winners} winners, ${figures.losers} losers; ${figures.rateLimited} polls refused 429 before racing`);
});

test('the log holds exactly one completion and claim per attempt, one use per code, and one session for each', async () => {
  const events: { type: string; data: any }[] = [];
  const types = ['CliAuthInitiated', 'LoginCodeCompleted', 'CliAuthClaimed', 'SignInCodeUsed', 'SessionCreated'];
  for await (const e of service.app.store.readAll({ filter: { eventTypes: types } })) events.push({ type: e.type, data: e.data });
  const ofType = (type: string) => events.filter((e) => e.type === type).map((e) => e.data);
  const sessions = ofType('SessionCreated');
  const sessionById = (id: string) => sessions.filter((s) => s.sessionId === id);
  const digest = (purpose: 'polling-code' | 'refresh-token', value: string) => service.app.hasher.digest(purpose, value);

  for (const o of outcomes) {
    const initiated = ofType('CliAuthInitiated').filter((d) => d.pollingCodeDigest === digest('polling-code', o.pollingCode));
    assert.is(initiated.length, 1);
    const cliAuthId = initiated[0].cliAuthId;
    const completions = ofType('LoginCodeCompleted').filter((d) => d.cliAuthId === cliAuthId);
    assert.is(completions.length, 1, `attempt ${cliAuthId}: ${completions.length} completions`);
    assert.is(completions[0].userId, o.approverId, 'the completion names the one approver answered 200');
    const claims = ofType('CliAuthClaimed').filter((d) => d.cliAuthId === cliAuthId);
    assert.is(claims.length, 1, `attempt ${cliAuthId}: ${claims.length} claims`);
    const cliSessions = sessions.filter((s) => s.cliAuthId === cliAuthId);
    assert.is(cliSessions.length, 1, `attempt ${cliAuthId}: ${cliSessions.length} sessions`);
    assert.equal(sessionById(claims[0].sessionId), cliSessions, 'the claim names the one session');
    assert.equal([cliSessions[0].via, cliSessions[0].userId], ['cli-login', o.approverId]);
    assert.is(cliSessions[0].refreshTokenDigest, digest('refresh-token', o.cliRefreshToken), 'the token the winning poll got is that session\'s');

    const stream = `signInCode-${nonceDigestOf(service.app, nonceOf(o.signInCode))}`;
    const uses = ofType('SignInCodeUsed').filter((d) => d.nonceDigest === nonceDigestOf(service.app, nonceOf(o.signInCode)));
    assert.is(uses.length, 1, `${stream}: ${uses.length} uses`);
    const codeSessions = sessions.filter((s) => s.signInCodeStream === stream);
    assert.is(codeSessions.length, 1, `${stream}: ${codeSessions.length} sessions`);
    assert.equal(sessionById(uses[0].sessionId), codeSessions, 'the use names the one session');
    assert.equal([codeSessions[0].via, codeSessions[0].userId], ['sign-in-code', o.signInUserId]);
    assert.is(codeSessions[0].refreshTokenDigest, digest('refresh-token', o.signInRefreshToken));
  }
  // Nothing beyond the rounds: no stray claim, use or session from a losing request.
  assert.is(ofType('LoginCodeCompleted').length, ROUNDS);
  assert.is(ofType('CliAuthClaimed').length, ROUNDS);
  assert.is(ofType('SignInCodeUsed').length, ROUNDS);
  assert.is(sessions.filter((s) => s.via === 'cli-login').length, ROUNDS);
  assert.is(sessions.filter((s) => s.via === 'sign-in-code').length, ROUNDS);
  assert.is(sessions.filter((s) => s.via === 'sessions-api').length, ROUNDS * APPROVERS, 'the approvers\' browser sessions');
  console.log(`  # log: ${ROUNDS} completions, ${ROUNDS} claims, ${ROUNDS} code uses, ${2 * ROUNDS} sessions minted by them`);
});

test.run();
