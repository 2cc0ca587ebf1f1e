// Sign-in codes as upstream answers them (issue #24): an address that is an existing user's
// unverified primary email is refused with 409 USER_EMAIL_ALREADY_EXISTS and
// would_work_if_email_was_verified, protecting the account, at the same price as a send; the mail
// has an HTML part with the OTP, everything in it escaped; the bot-challenge fields upstream's
// clients send are accepted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { clientHeaders, serverHeaders, startTestService, type ApiResponse, type TestService } from './support/service.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp-receiver.ts';
import { requestFrom } from './support/from-address.ts';

const CALLBACK = 'https://app.example.com/cb';
let smtp: SmtpReceiver;
let service: TestService;
let project: CreatedProject;

test.before(async () => {
  smtp = await startSmtpReceiver();
  service = await startTestService({ SMTP_URL: smtp.url });
  project = await service.createProject('<b>Acme & "Co"</b>', ['https://app.example.com']);
});
test.after(async () => {
  await service.stop();
  await service.remove();
  await smtp.stop();
});

const send = (email: string, extra: Record<string, unknown> = {}, from = '127.0.3.7') =>
  requestFrom(from, service.url, 'POST', '/api/v1/auth/otp/send-sign-in-code', { headers: clientHeaders(project), body: { email, callback_url: CALLBACK, ...extra } });

function assertUnverifiedRefusal(res: Pick<ApiResponse, 'status' | 'json' | 'text'>, email: string): void {
  assert.is(res.status, 409, res.text);
  assert.is(res.json.code, 'USER_EMAIL_ALREADY_EXISTS');
  assert.equal(res.json.details, { email, would_work_if_email_was_verified: true });
  assert.match(res.json.error, 'already exists but the email is not verified');
}

async function mailTo(email: string, before: number) {
  return smtp.waitForMail((m) => smtp.messages.indexOf(m) >= before && m.to.includes(email));
}

test("send-sign-in-code for an existing user's unverified address is 409 (would_work_if_email_was_verified: true) and mails nothing", async () => {
  const email = 'unverified@example.com';
  const created = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: email } });
  assert.is(created.status, 201, created.text);
  const before = smtp.messages.length;
  assertUnverifiedRefusal(await send('Unverified@example.com'), 'Unverified@example.com');
  await new Promise((r) => setTimeout(r, 100));
  assert.is(smtp.messages.length, before, 'no mail left');
});

test('the refusal spends the send budgets as a send does: asking about an address is no cheaper than mailing it', async () => {
  const email = 'probed@example.com';
  assert.is((await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: email } })).status, 201);
  // 5 sends per email per 15 minutes (the default): five answers, then the limit.
  for (let i = 0; i < 5; i++) assertUnverifiedRefusal(await send(email, {}, `127.0.3.${20 + i}`), email);
  const limited = await send(email, {}, '127.0.3.40');
  assert.is(limited.status, 429, limited.text);
  assert.is(limited.json.code, 'RATE_LIMITED');
});

test('a verified address signs in as before; a user whose address became unverified since the code was sent is refused at sign-in, and the code stays unused', async () => {
  const email = 'verified@example.com';
  const created = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: email, primary_email_verified: true } });
  const before = smtp.messages.length;
  const sent = await send(email);
  assert.is(sent.status, 200, sent.text);
  const code = /[?&]code=([0-9a-z]{45})/.exec((await mailTo(email, before)).text)?.[1] ?? '';
  const unverify = await service.request('PATCH', `/api/v1/users/${created.json.id}`, { headers: serverHeaders(project), body: { primary_email_verified: false } });
  assert.is(unverify.status, 200, unverify.text);
  const refused = await service.request('POST', '/api/v1/auth/otp/sign-in', { headers: clientHeaders(project), body: { code } });
  assertUnverifiedRefusal(refused, email);
  await service.request('PATCH', `/api/v1/users/${created.json.id}`, { headers: serverHeaders(project), body: { primary_email_verified: true } });
  const signedIn = await service.request('POST', '/api/v1/auth/otp/sign-in', { headers: clientHeaders(project), body: { code } });
  assert.is(signedIn.status, 200, signedIn.text);
  assert.equal([signedIn.json.user_id, signedIn.json.is_new_user], [created.json.id, false]);
});

test('an unknown address still signs up; the bot-challenge fields upstream clients send are accepted', async () => {
  const email = 'newcomer@example.com';
  const before = smtp.messages.length;
  const sent = await send(email, { bot_challenge_token: 'turnstile-token', bot_challenge_phase: 'invisible', bot_challenge_unavailable: 'true' });
  assert.is(sent.status, 200, sent.text);
  const code = /[?&]code=([0-9a-z]{45})/.exec((await mailTo(email, before)).text)?.[1] ?? '';
  const signedIn = await service.request('POST', '/api/v1/auth/otp/sign-in', { headers: clientHeaders(project), body: { code } });
  assert.equal([signedIn.status, signedIn.json.is_new_user], [200, true]);
  const bad = await send('other@example.com', { bot_challenge_phase: 'sometimes' });
  assert.is(bad.status, 400, bad.text);
  assert.is((await send('other@example.com', { surprise: 1 })).json.code, 'SCHEMA_ERROR', 'unknown fields are still refused, as upstream');
});

test('the sign-in mail has an HTML part with the OTP and the link; the project name and link are escaped in it', async () => {
  const email = 'html@example.com';
  const before = smtp.messages.length;
  const callback = 'https://app.example.com/cb?next=%3Cscript%3E&x="y"';
  const sent = await requestFrom('127.0.3.9', service.url, 'POST', '/api/v1/auth/otp/send-sign-in-code', { headers: clientHeaders(project), body: { email, callback_url: callback } });
  assert.is(sent.status, 200, sent.text);
  const mail = await mailTo(email, before);
  const otp = /is: ([0-9A-Z]{6})/.exec(mail.text)?.[1] ?? '';
  assert.is(otp.length, 6);
  assert.type(mail.html, 'string');
  const markup = mail.html ?? '';
  assert.ok(markup.includes(otp), 'the OTP is in the HTML part');
  assert.ok(markup.includes('&lt;b&gt;Acme &amp; &quot;Co&quot;&lt;/b&gt;'), 'the project name is escaped');
  assert.not.ok(markup.includes('<b>Acme'), 'no markup from the project name');
  assert.not.ok(markup.includes('"y"'), 'the link cannot close its attribute');
  const code = /[?&]code=([0-9a-z]{45})/.exec(mail.text)?.[1] ?? '';
  assert.ok(markup.includes(code), 'the magic link is in the HTML part');
});

test.run();
