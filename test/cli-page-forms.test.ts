// The CLI approval page over plain HTTP (issue #10): its security headers and cookies, CSRF on
// every form, clear pages for codes that are not valid, escaping, and the whole flow driven form
// by form as a browser would post it. The real-browser run is test/cli-approval-page.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAdjustableClock } from '../src/clock.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { clientHeaders, startTestService, type TestService } from './support/service.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp-receiver.ts';

const frozenAt = Date.now();
const clock = createAdjustableClock(() => frozenAt);
let service: TestService;
let smtp: SmtpReceiver;
let project: CreatedProject;

test.before(async () => {
  smtp = await startSmtpReceiver();
  service = await startTestService({ SMTP_URL: smtp.url }, { clock: clock.now });
  project = await service.createProject('Acme <script>alert(1)</script>');
});
test.after(async () => {
  await service.stop();
  await service.remove();
  await smtp.stop();
});

/** A cookie jar and the page's forms, as a browser without script would use them. */
class FormClient {
  readonly cookies = new Map<string, string>();
  setCookies: string[] = [];
  constructor(readonly userAgent = 'form-client') {}

  async send(method: string, path: string, body?: string): Promise<{ status: number; headers: Headers; html: string }> {
    const headers: Record<string, string> = { 'user-agent': this.userAgent };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(service.url + path, { method, headers, body, redirect: 'manual' });
    this.setCookies = res.headers.getSetCookie();
    for (const line of this.setCookies) {
      const [pair] = line.split(';');
      const [name, value] = (pair ?? '').split('=') as [string, string];
      if (/Max-Age=0/.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: res.status, headers: res.headers, html: await res.text() };
  }

  get = (path: string) => this.send('GET', path);
  post = (path: string, fields: Record<string, string>) => this.send('POST', path, new URLSearchParams(fields).toString());
}

/** The fields of the form posting to `action` on the page: its hidden inputs. */
function formFields(html: string, action: string): Record<string, string> {
  const form = new RegExp(`<form method="post" action="${action}"[^>]*>([\\s\\S]*?)</form>`).exec(html)?.[1];
  assert.ok(form, `no form to ${action} in:\n${html}`);
  const fields: Record<string, string> = {};
  for (const [, name, value] of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[name!] = value!.replace(/&amp;/g, '&');
  return fields;
}

const heading = (html: string) => /<h1>([\s\S]*?)<\/h1>/.exec(html)?.[1];
const pageLink = (loginCode: string) => `/cli?project_id=${project.project_id}&login_code=${loginCode}`;
const initiate = async (userAgent = 'authlog-login (test)') =>
  (await service.request('POST', '/api/v1/auth/cli', { headers: { ...clientHeaders(project), 'user-agent': userAgent }, body: {} })).json as { polling_code: string; login_code: string };
const poll = async (pollingCode: string) =>
  (await service.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: pollingCode } })).json;

/** Signs the client in through the page's email and OTP forms, on the page of `loginCode`. */
async function signIn(client: FormClient, loginCode: string, email: string): Promise<void> {
  const first = await approvalPage(client, loginCode);
  assert.is(first.status, 200, first.html);
  const sent = await client.post('/cli/email', { ...formFields(first.html, '/cli/email'), email });
  assert.is(sent.status, 200, sent.html);
  const mail = await smtp.waitForMail((m) => m.to.includes(email) && !usedMails.has(m));
  usedMails.add(mail);
  assert.not.match(mail.text, 'http', 'the page mails the OTP alone, no link carrying the code');
  const otp = /Your code is ([0-9A-Z]{6})/.exec(mail.subject)?.[1];
  assert.ok(otp, mail.subject);
  const signedIn = await client.post('/cli/otp', { ...formFields(sent.html, '/cli/otp'), otp: otp.toLowerCase() });
  assert.is(signedIn.status, 303, signedIn.html);
  assert.is(signedIn.headers.get('location'), pageLink(loginCode));
}
const usedMails = new Set<object>();

/** Opens the link as a person would: a signed-in person then presses the one button that evaluates the code. */
async function approvalPage(client: FormClient, loginCode: string): Promise<{ status: number; headers: Headers; html: string }> {
  const opened = await client.get(pageLink(loginCode));
  if (!opened.html.includes('action="/cli/review"')) return opened;
  return client.post('/cli/review', formFields(opened.html, '/cli/review'));
}

test('the page sends strict security headers: CSP with frame-ancestors none, no-referrer, nosniff, no-store', async () => {
  const res = await new FormClient().get(`/cli?project_id=${project.project_id}`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', 'text/html');
  const csp = res.headers.get('content-security-policy') ?? '';
  for (const directive of ["default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"]) assert.match(csp, directive);
  assert.not.match(csp, 'unsafe-inline');
  assert.not.match(res.html, '<script');
  assert.is(res.headers.get('referrer-policy'), 'no-referrer');
  assert.is(res.headers.get('x-frame-options'), 'DENY');
  assert.is(res.headers.get('x-content-type-options'), 'nosniff');
  assert.is(res.headers.get('cache-control'), 'no-store');
});

test('approve and deny through the forms: the poll then answers completed (a token) or denied', async () => {
  const client = new FormClient();
  const approved = await initiate('authlog-login <b>bold</b>');
  await signIn(client, approved.login_code, 'ada@example.test');
  const page = await approvalPage(client, approved.login_code);
  assert.is(page.status, 200, page.html);
  assert.match(page.html, approved.login_code);
  assert.match(page.html, '<dd>127.0.0.1</dd>');
  assert.match(page.html, '<dd>authlog-login &lt;b&gt;bold&lt;/b&gt;</dd>');
  assert.match(page.html, 'ada@example.test');
  const done = await client.post('/cli/approve', { ...formFields(page.html, '/cli/approve'), confirm: 'yes' });
  assert.is(done.status, 200, done.html);
  assert.is(heading(done.html), 'Login approved');
  const answer = await poll(approved.polling_code);
  assert.is(answer.status, 'completed');
  assert.match(answer.refresh_token, /^rt_/);

  const denied = await initiate();
  const denyPage = await approvalPage(client, denied.login_code);
  const refused = await client.post('/cli/deny', formFields(denyPage.html, '/cli/deny'));
  assert.is(heading(refused.html), 'Login denied');
  assert.equal(await poll(denied.polling_code), { status: 'denied' });
});

test('approving without ticking the code confirmation approves nothing and asks for it', async () => {
  const client = new FormClient();
  const started = await initiate();
  await signIn(client, started.login_code, 'bob@example.test');
  const page = await approvalPage(client, started.login_code);
  const unconfirmed = await client.post('/cli/approve', formFields(page.html, '/cli/approve'));
  assert.is(unconfirmed.status, 400);
  assert.match(unconfirmed.html, 'Tick the box to confirm that your terminal shows');
  assert.equal(await poll(started.polling_code), { status: 'pending' });
});

test('a forged post without the CSRF token, with another form\'s token, or without the cookie is refused 403 and changes nothing', async () => {
  const client = new FormClient();
  const started = await initiate();
  await signIn(client, started.login_code, 'carol@example.test');
  const page = await approvalPage(client, started.login_code);
  const fields: Record<string, string> = { ...formFields(page.html, '/cli/approve'), confirm: 'yes' };
  const { csrf, ...withoutToken } = fields;
  const attempts = [
    await client.post('/cli/approve', withoutToken),
    await client.post('/cli/approve', { ...fields, csrf: formFields(page.html, '/cli/deny').csrf! }),
    await client.post('/cli/approve', { ...fields, csrf: csrf!.slice(0, -2) + 'xx' }),
  ];
  const cookieless = new FormClient();
  for (const [name, value] of client.cookies) if (!name.endsWith('csrf')) cookieless.cookies.set(name, value);
  attempts.push(await cookieless.post('/cli/approve', fields));
  for (const res of attempts) {
    assert.is(res.status, 403, res.html);
    assert.is(res.headers.get('x-stack-known-error'), 'FORM_EXPIRED');
    assert.is(heading(res.html), 'This form has expired');
  }
  assert.equal(await poll(started.polling_code), { status: 'pending' });
  // The real form still works.
  assert.is((await client.post('/cli/approve', fields)).status, 200);
});

test('an expired, a used, a denied and an unknown code each show a clear page, not a stack trace', async () => {
  const client = new FormClient();
  const expired = await initiate();
  await signIn(client, expired.login_code, 'dan@example.test');
  const used = await initiate();
  const usedPage = await approvalPage(client, used.login_code);
  await client.post('/cli/approve', { ...formFields(usedPage.html, '/cli/approve'), confirm: 'yes' });
  const denied = await initiate();
  const deniedPage = await approvalPage(client, denied.login_code);
  await client.post('/cli/deny', formFields(deniedPage.html, '/cli/deny'));
  // Approving an expired code from a page loaded in time fails the same way.
  const expiredPage = await approvalPage(client, expired.login_code);
  clock.advance(15 * 60_000);
  const late = await client.post('/cli/approve', { ...formFields(expiredPage.html, '/cli/approve'), confirm: 'yes' });
  for (const res of [late, await approvalPage(client, expired.login_code), await approvalPage(client, used.login_code), await approvalPage(client, denied.login_code), await approvalPage(client, 'BCDF-GHJK')]) {
    assert.is(res.status, 400, res.html);
    assert.is(res.headers.get('x-stack-known-error'), 'INVALID_LOGIN_CODE');
    assert.is(heading(res.html), 'This login code is not valid');
    assert.match(res.html, 'It has expired, was already approved or denied, or was never issued.');
    assert.not.match(res.html, /\bat \S+ \(|Error:|node_modules/);
  }
  assert.equal(await poll(used.polling_code), { status: 'expired' });
});

test('a wrong OTP asks again; the page without a project, or with an unknown one, says what to do', async () => {
  const client = new FormClient();
  const started = await initiate();
  const first = await approvalPage(client, started.login_code);
  const sent = await client.post('/cli/email', { ...formFields(first.html, '/cli/email'), email: 'erin@example.test' });
  const wrong = await client.post('/cli/otp', { ...formFields(sent.html, '/cli/otp'), otp: '000000' });
  assert.is(wrong.status, 400);
  assert.match(wrong.html, 'That code is not right.');
  assert.ok(!client.cookies.has('authlog-cli-session'));
  const noProject = await client.get('/cli');
  assert.is(noProject.status, 400);
  assert.is(noProject.headers.get('x-stack-known-error'), 'SCHEMA_ERROR');
  assert.match(noProject.html, 'Open the link from your terminal');
  const unknown = await client.get(`/cli?project_id=00000000-0000-4000-8000-000000000000&login_code=${started.login_code}`);
  assert.is(unknown.status, 400);
  assert.is(unknown.headers.get('x-stack-known-error'), 'CURRENT_PROJECT_NOT_FOUND');
  assert.is(heading(unknown.html), 'Unknown project');
});

test('cookies are HttpOnly and SameSite=Strict, forms post to plain paths, and project names are escaped', async () => {
  const client = new FormClient();
  const started = await initiate();
  await signIn(client, started.login_code, 'fay@example.test');
  const session = [...client.cookies.keys()].find((n) => n.endsWith('session'));
  assert.is(session, 'authlog-cli-session');
  const page = await approvalPage(client, started.login_code);
  assert.match(page.html, 'Acme &lt;script&gt;alert(1)&lt;/script&gt;');
  assert.not.match(page.html, '<script>');
  // Every form posts to a plain path: nothing but the login code and project ever goes in a URL.
  for (const [, action] of page.html.matchAll(/<form method="post" action="([^"]+)"/g)) assert.match(action!, /^\/cli\/[a-z-]+$/);
  const fresh = new FormClient();
  await fresh.get(pageLink(started.login_code));
  for (const line of fresh.setCookies) {
    assert.match(line, /; HttpOnly/);
    assert.match(line, /; SameSite=Strict/);
    assert.not.match(line, /Secure/);
  }
});

test('sign out ends the browser session: the cookie is cleared and the page asks to sign in again', async () => {
  const client = new FormClient();
  const started = await initiate();
  await signIn(client, started.login_code, 'gus@example.test');
  const refreshToken = client.cookies.get('authlog-cli-session');
  assert.ok(refreshToken);
  const page = await approvalPage(client, started.login_code);
  const out = await client.post('/cli/sign-out', formFields(page.html, '/cli/sign-out'));
  assert.is(out.status, 303);
  assert.ok(!client.cookies.has('authlog-cli-session'));
  assert.is(heading((await approvalPage(client, started.login_code)).html), 'Sign in to Acme &lt;script&gt;alert(1)&lt;/script&gt;');
  // The session itself is revoked, not only forgotten by the browser.
  const refresh = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': refreshToken } });
  assert.is(refresh.status, 401);
});

test('behind https (PUBLIC_URL), the cookies are Secure and __Host- prefixed, and HSTS is sent', async () => {
  const secure = await startTestService({ SMTP_URL: smtp.url, PUBLIC_URL: 'https://auth.example.test' }, { clock: clock.now });
  try {
    const own = await secure.createProject('secure');
    const started = await secure.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(own), body: {} });
    const res = await fetch(`${secure.url}/cli?project_id=${own.project_id}&login_code=${started.json.login_code}`);
    assert.is(res.status, 200);
    const [cookie] = res.headers.getSetCookie();
    assert.match(cookie ?? '', /^__Host-authlog-cli-csrf=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    assert.match(res.headers.get('strict-transport-security') ?? '', 'max-age=');
  } finally {
    await secure.stop();
    await secure.remove();
  }
});

test.run();
