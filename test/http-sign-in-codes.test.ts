// Sign-in codes end to end (issue #5), mailed through a real SMTP server inside the test: send,
// check without using, sign in, the attempt budget, expiry, trusted callbacks, SMTP failure and
// exactly-once use.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAdjustableClock } from '../src/clock.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { createSmtpMailer } from '../src/mail/smtp-mailer.ts';
import type { Mailer, OutgoingMail } from '../src/mail/mailer.ts';
import { RATE_LIMIT_DEFAULTS } from '../src/rate-limit-catalogue.ts';

const { limit: GUESSES_PER_ADDRESS, windowMs: GUESS_WINDOW_MS } = RATE_LIMIT_DEFAULTS['sign-in-guesses-per-address'];
const { limit: SENDS_PER_EMAIL, windowMs: SEND_WINDOW_MS } = RATE_LIMIT_DEFAULTS['sign-in-sends-per-email'];
import { clientHeaders, serverHeaders, startTestService, type ApiResponse, type TestService } from './support/service.ts';
import { startSmtpReceiver, type ReceivedMail, type SmtpReceiver } from './support/smtp-receiver.ts';

const frozenAt = Date.now();
const clock = createAdjustableClock(() => frozenAt);
const CALLBACK = 'https://app.example.com/auth/callback';
let smtp: SmtpReceiver;
let service: TestService;
let project: CreatedProject;

test.before(async () => {
  smtp = await startSmtpReceiver();
  service = await startTestService({ SMTP_URL: smtp.url }, { clock: clock.now });
  project = await service.createProject('Acme', ['https://app.example.com']);
});
test.after(async () => {
  await service.stop();
  await service.remove();
  await smtp.stop();
});

function assertError(res: ApiResponse, status: number, code: string): void {
  assert.is(res.status, status, res.text);
  assert.is(res.json?.code, code, res.text);
  assert.is(res.headers.get('x-stack-known-error'), code);
}

const post = (path: string, body: unknown, s: TestService = service) => s.request('POST', `/api/v1/auth/otp${path}`, { headers: clientHeaders(project), body });
const check = (code: string) => post('/sign-in/check-code', { code });
const signIn = (code: string) => post('/sign-in', { code });

/** Sends a code and reads it back from the mail: the OTP as shown, the nonce, and the link's code. */
async function sendCode(email: string): Promise<{ otp: string; nonce: string; linkCode: string; mail: ReceivedMail }> {
  const before = smtp.messages.length;
  const res = await post('/send-sign-in-code', { email, callback_url: CALLBACK });
  assert.is(res.status, 200, res.text);
  const mail = await smtp.waitForMail((m) => smtp.messages.indexOf(m) >= before && m.to.includes(email));
  const otp = /Your code is ([A-Z0-9]{6})$/.exec(mail.subject)?.[1] ?? '';
  const linkCode = new RegExp(`${CALLBACK.replace(/[.?/]/g, '\\$&')}\\?code=([0-9a-z]{45})`).exec(mail.text)?.[1] ?? '';
  return { otp, nonce: res.json.nonce, linkCode, mail };
}

const wrongOtp = (otp: string): string => (otp === 'ZZZZZZ' ? 'YYYYYY' : 'ZZZZZZ');

test('send → {nonce} of 39 chars and exactly one email with the OTP and the link', async () => {
  const before = smtp.messages.length;
  const sent = await sendCode('ada@example.com');
  assert.match(sent.nonce, /^[0-9a-z]{39}$/);
  assert.match(sent.otp, /^[0-9A-Z]{6}$/);
  assert.is(sent.mail.subject, `Sign in to Acme: Your code is ${sent.otp}`);
  assert.match(sent.mail.text, sent.otp);
  assert.is(sent.linkCode, sent.otp.toLowerCase() + sent.nonce, 'the link carries OTP + nonce');
  assert.match(sent.mail.text, `${CALLBACK}?code=${sent.linkCode}`);
  await new Promise((r) => setTimeout(r, 100));
  assert.is(smtp.messages.length, before + 1, 'exactly one email');
  assert.equal(sent.mail.to, ['ada@example.com']);
});

test('check-code is true for OTP + nonce in either case, twice, and for the link\'s code; it uses nothing', async () => {
  const sent = await sendCode('check@example.com');
  for (const code of [sent.otp + sent.nonce, sent.otp.toLowerCase() + sent.nonce, (sent.otp + sent.nonce).toUpperCase(), sent.linkCode]) {
    const res = await check(code);
    assert.equal([res.status, res.json], [200, { is_code_valid: true }], code);
  }
  assert.is((await signIn(sent.linkCode)).status, 200, 'still usable after checks');
});

test('sign in → new user; again → 409; check → false; a second code signs in the same user, not new', async () => {
  const sent = await sendCode('new@example.com');
  const first = await signIn(sent.otp + sent.nonce);
  assert.is(first.status, 200, first.text);
  assert.equal(Object.keys(first.json).sort(), ['access_token', 'is_new_user', 'refresh_token', 'user_id']);
  assert.is(first.json.is_new_user, true);
  assert.match(first.json.refresh_token, /^rt_/);
  assert.is((await service.app.tokens.verify(first.json.access_token, clock.now()))?.userId, first.json.user_id);
  const user = await service.request('GET', `/api/v1/users/${first.json.user_id}`, { headers: serverHeaders(project) });
  assert.equal([user.json.primary_email, user.json.primary_email_verified], ['new@example.com', true]);

  const again = await signIn(sent.otp + sent.nonce);
  assertError(again, 409, 'VERIFICATION_CODE_ALREADY_USED');
  assert.is(again.json.error, 'The verification link has already been used.');
  assert.equal((await check(sent.otp + sent.nonce)).json, { is_code_valid: false });

  const second = await sendCode('new@example.com');
  const returning = await signIn(second.linkCode);
  assert.is(returning.status, 200, returning.text);
  assert.equal([returning.json.is_new_user, returning.json.user_id], [false, first.json.user_id]);
});

test('five wrong OTPs lock the code: the right one then checks false and signs in with MAX_ATTEMPTS_REACHED', async () => {
  const sent = await sendCode('locked@example.com');
  for (let i = 0; i < 5; i++) assert.equal((await check(wrongOtp(sent.otp) + sent.nonce)).json, { is_code_valid: false });
  assert.equal((await check(sent.otp + sent.nonce)).json, { is_code_valid: false });
  const res = await signIn(sent.otp + sent.nonce);
  assertError(res, 400, 'VERIFICATION_CODE_MAX_ATTEMPTS_REACHED');
  assert.is(res.json.error, 'The verification code nonce has reached the maximum number of attempts. This code is not valid anymore.');
});

// What wrong guesses by strangers do to an email's codes (and never to its owner's right code) is
// proved from several addresses in test/limits-attacks.test.ts.

test('expired → check false, sign-in 400 EXPIRED; unknown → false and 404; 44 characters → SCHEMA_ERROR', async () => {
  const sent = await sendCode('late@example.com');
  clock.advance(60 * 60_000);
  assert.equal((await check(sent.otp + sent.nonce)).json, { is_code_valid: false });
  assertError(await signIn(sent.otp + sent.nonce), 400, 'VERIFICATION_CODE_EXPIRED');
  const unknown = 'a'.repeat(45);
  assert.equal((await check(unknown)).json, { is_code_valid: false });
  const notFound = await signIn(unknown);
  assertError(notFound, 404, 'VERIFICATION_CODE_NOT_FOUND');
  assert.is(notFound.json.error, 'The verification code does not exist for this project.');
  const short = await check('a'.repeat(44));
  assertError(short, 400, 'SCHEMA_ERROR');
  assert.match(short.json.error, '  - body.code must be');
  assertError(await signIn('a'.repeat(44)), 400, 'SCHEMA_ERROR');
});

test('an untrusted callback → 400 REDIRECT_URL_NOT_WHITELISTED, no email, no event', async () => {
  const before = await service.app.store.headPosition();
  const mails = smtp.messages.length;
  for (const callback of ['https://evil.example.net/cb', 'http://app.example.com/cb', 'https://app.example.com.evil.net/cb']) {
    assertError(await post('/send-sign-in-code', { email: 'x@example.com', callback_url: callback }), 400, 'REDIRECT_URL_NOT_WHITELISTED');
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.is(smtp.messages.length, mails);
  assert.is(await service.app.store.headPosition(), before);
});

test('SMTP down → 503 SERVICE_UNAVAILABLE with retry-after, no event, and that code never validates', async () => {
  const down = await startSmtpReceiver();
  const downUrl = down.url;
  await down.stop();
  // The real SMTP adapter, aimed at a closed port; the test keeps the message it tried to send.
  const tried: OutgoingMail[] = [];
  const smtpMailer = createSmtpMailer({ url: downUrl, from: 'authlog <noreply@localhost>', timeoutMs: 2000 });
  const capturing: Mailer = { send: (mail) => (tried.push(mail), smtpMailer.send(mail)), close: () => smtpMailer.close() };
  const broken = await startTestService({}, { clock: clock.now, mailer: capturing, dataDir: undefined });
  try {
    const p = await broken.createProject('Down', ['https://app.example.com']);
    const before = await broken.app.store.headPosition();
    const res = await broken.request('POST', '/api/v1/auth/otp/send-sign-in-code', { headers: clientHeaders(p), body: { email: 'down@example.com', callback_url: CALLBACK } });
    assertError(res, 503, 'SERVICE_UNAVAILABLE');
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.is(await broken.app.store.headPosition(), before, 'nothing appended');
    assert.is(tried.length, 1);
    const code = /\?code=([0-9a-z]{45})/.exec(tried[0]!.text)?.[1] ?? '';
    assert.is(code.length, 45);
    const checked = await broken.request('POST', '/api/v1/auth/otp/sign-in/check-code', { headers: clientHeaders(p), body: { code } });
    assert.equal(checked.json, { is_code_valid: false });
    assertError(await broken.request('POST', '/api/v1/auth/otp/sign-in', { headers: clientHeaders(p), body: { code } }), 404, 'VERIFICATION_CODE_NOT_FOUND');
  } finally {
    await broken.stop();
    await broken.remove();
  }
});

test('failed sign-in guesses are limited per address: 30 in 10 minutes, then 429 with retry-after, even for a right code', async () => {
  clock.advance(GUESS_WINDOW_MS); // a fresh window
  const sent = await sendCode('limited@example.com');
  for (let i = 0; i < GUESSES_PER_ADDRESS; i++) {
    const unknown = (i.toString(36).padStart(6, '0') + 'x'.repeat(39)).slice(0, 45);
    assert.equal((await check(unknown)).json, { is_code_valid: false });
  }
  const limited = await check(sent.otp + sent.nonce);
  assertError(limited, 429, 'RATE_LIMITED');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  assertError(await signIn(sent.otp + sent.nonce), 429, 'RATE_LIMITED');
  clock.advance(GUESS_WINDOW_MS);
  assert.equal((await check(sent.otp + sent.nonce)).json, { is_code_valid: true }, 'the window passed');
});

test('10 concurrent sign-ins with the right code → exactly one 200, the rest 409', async () => {
  const sent = await sendCode('race@example.com');
  const results = await Promise.all(Array.from({ length: 10 }, () => signIn(sent.otp + sent.nonce)));
  assert.is(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.status).join(','));
  for (const r of results.filter((x) => x.status !== 200)) assertError(r, 409, 'VERIFICATION_CODE_ALREADY_USED');
});

test('concurrent wrong sign-in guesses cannot overshoot the per-address limit', async () => {
  clock.advance(GUESS_WINDOW_MS);
  const unknown = (i: number) => (i.toString(36).padStart(6, '0') + 'q'.repeat(39)).slice(0, 45);
  const answers = await Promise.all(Array.from({ length: 2 * GUESSES_PER_ADDRESS }, (_, i) => signIn(unknown(i))));
  const guesses = answers.filter((r) => r.status === 404 && r.json?.code === 'VERIFICATION_CODE_NOT_FOUND').length;
  const limited = answers.filter((r) => r.status === 429 && r.json?.code === 'RATE_LIMITED').length;
  console.log(`  # concurrent sign-in guesses: ${answers.length} sent, ${guesses} answered as guesses, ${limited} rate limited`);
  assert.is(guesses, GUESSES_PER_ADDRESS);
  assert.is(limited, answers.length - GUESSES_PER_ADDRESS);
});

test('concurrent sends to one email cannot overshoot the per-email limit: exactly the limit are mailed', async () => {
  clock.advance(SEND_WINDOW_MS);
  const email = 'flood@example.com';
  const mailedBefore = smtp.messages.filter((m) => m.to.includes(email)).length;
  const answers = await Promise.all(Array.from({ length: 3 * SENDS_PER_EMAIL }, () => post('/send-sign-in-code', { email, callback_url: CALLBACK })));
  const sent = answers.filter((r) => r.status === 200).length;
  for (const r of answers.filter((x) => x.status !== 200)) assertError(r, 429, 'RATE_LIMITED');
  assert.is(sent, SENDS_PER_EMAIL);
  await smtp.waitForMail(() => smtp.messages.filter((m) => m.to.includes(email)).length >= mailedBefore + SENDS_PER_EMAIL);
  assert.is(smtp.messages.filter((m) => m.to.includes(email)).length, mailedBefore + SENDS_PER_EMAIL, 'one mail per 200, none for a 429');
});

test.run();
