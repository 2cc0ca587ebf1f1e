// The CLI approval page in a real browser (issue #10, acceptance 1–3): Debian's headless Chromium
// driven by playwright-core. `authlog login` starts an attempt and prints the page's link; the
// browser opens it, signs in with the OTP read from the test SMTP receiver, sees the CLI's
// address and user agent, and approves: the CLI receives its token. A second attempt is denied:
// the poll answers `denied`. A form forged on another origin is refused. Each step's screenshot
// is written to test-output/cli-page/ (git-ignored) for review.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { clientHeaders, serverHeaders, startTestService, type TestService } from './support/service.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp-receiver.ts';
import { childEnv, repoRoot } from './support/spawn-authlog.ts';

const CHROMIUM = '/usr/bin/chromium';
const MISSING = `Chromium is not installed at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (Debian), then run the tests again.`;
// This machine's network is closed: without these, Chromium stalls on its own background calls.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SHOTS = fileURLToPath(new URL('../test-output/cli-page/', import.meta.url));
const bin = fileURLToPath(new URL('../bin/authlog.mjs', import.meta.url));
/** Generous: a bound on a hang, not a measurement (the machine is shared). */
const STEP_MS = 60_000;

let service: TestService;
let smtp: SmtpReceiver;
let project: CreatedProject;
let browser: Browser | undefined;

test.before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  smtp = await startSmtpReceiver();
  service = await startTestService({ SMTP_URL: smtp.url });
  project = await service.createProject('Acme Tools');
  if (existsSync(CHROMIUM)) browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: STEP_MS });
});
test.after(async () => {
  await browser?.close();
  await service.stop();
  await service.remove();
  await smtp.stop();
});

/** The browser, or the failure that says how to get one: never a silent skip. */
function needBrowser(): Browser {
  if (!browser) throw new Error(MISSING);
  return browser;
}

async function newPage(options: { phone?: boolean } = {}): Promise<Page> {
  const context = await needBrowser().newContext(
    options.phone ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true } : { viewport: { width: 1000, height: 900 } },
  );
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });

/** Signs in on the page it is on, with the OTP mailed to `email`. */
async function signIn(page: Page, email: string, shotPrefix: string): Promise<void> {
  assert.is(await page.locator('h1').textContent(), 'Sign in to Acme Tools');
  await shot(page, `${shotPrefix}-1-sign-in`);
  await page.getByLabel('Your email address').fill(email);
  await page.getByRole('button', { name: 'Email me a sign-in code' }).click();
  await page.getByLabel('Sign-in code').waitFor();
  await shot(page, `${shotPrefix}-2-enter-otp`);
  const mail = await smtp.waitForMail((m) => m.to.includes(email), STEP_MS);
  const otp = /Your code is ([0-9A-Z]{6})/.exec(mail.subject)?.[1];
  assert.ok(otp, mail.subject);
  await page.getByLabel('Sign-in code').fill(otp);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Opening the link looks nothing up; this button posts the form that does.
  await page.getByRole('button', { name: 'Show what asked to log in' }).click();
  await page.getByRole('button', { name: 'Approve' }).waitFor();
}

test('authlog login → the browser signs in with the mailed OTP, sees the CLI\'s address and user agent, approves → the CLI gets its token', async () => {
  const page = await newPage();
  const child = spawn(process.execPath, [bin, 'login', '--print', '--api', service.url, '--project', project.project_id, '--key', project.publishable_client_key], {
    cwd: repoRoot,
    env: childEnv({ PUBLIC_URL: service.url }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const link = new Promise<string>((resolve) =>
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const found = /^\s+(http:\/\/\S+\/cli\?\S+)$/m.exec(stderr)?.[1];
      if (found) resolve(found);
    }),
  );
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const timer = setTimeout(() => child.kill('SIGKILL'), 3 * STEP_MS);
  try {
    const url = await link;
    const loginCode = /approve this code in your browser: ([A-Z]{4}-[A-Z]{4})/.exec(stderr)?.[1];
    assert.ok(loginCode, stderr);
    assert.is(url, `${service.url}/cli?project_id=${project.project_id}&login_code=${loginCode}`);

    await page.goto(url);
    await signIn(page, 'ada@example.test', 'approve');
    const details = await page.getByRole('definition').allTextContents();
    assert.is(details[0], 'Acme Tools');
    assert.is(details[2], '127.0.0.1', 'the address the CLI started from');
    assert.match(details[3] ?? '', /^authlog-login \(node v\d+\.\d+\.\d+; linux\)$/);
    assert.is(details[4], 'ada@example.test');
    assert.is(await page.locator('p.code').textContent(), loginCode);
    await page.getByRole('heading', { name: 'What asked to log in' }).waitFor();
    await shot(page, 'approve-3-what-asked');
    // By keyboard alone: tick the confirmation, tab to Approve, press Enter.
    await page.getByLabel(`I started this login and my terminal shows ${loginCode}`).focus();
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    assert.is(await page.evaluate(() => document.activeElement?.textContent), 'Approve');
    await page.keyboard.press('Enter');
    await page.getByText('Login approved').waitFor();
    await shot(page, 'approve-4-approved');

    assert.is(await exited, 0, stderr);
    const token = stdout.trim();
    assert.match(token, /^rt_[0-9a-z]{48}$/);
    const refreshed = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': token } });
    const userId = (await service.app.tokens.verify(refreshed.json.access_token, Date.now()))?.userId;
    const user = await service.request('GET', `/api/v1/users/${userId}`, { headers: serverHeaders(project) });
    assert.is(user.json.primary_email, 'ada@example.test', 'the CLI is logged in as the person who approved');

    // The same link again: the code is used, and the page says so plainly.
    await page.goto(url);
    await page.getByRole('button', { name: 'Show what asked to log in' }).click();
    assert.is(await page.locator('h1').textContent(), 'This login code is not valid');
    await shot(page, 'approve-5-code-used');
  } finally {
    clearTimeout(timer);
    child.kill();
    await page.context().close();
  }
});

test('on a phone: the person denies → the poll answers 200 denied and the code stops working', async () => {
  const page = await newPage({ phone: true });
  try {
    const started = await service.request('POST', '/api/v1/auth/cli', { headers: { ...clientHeaders(project), 'user-agent': 'deploy-bot/2.1' }, body: {} });
    await page.goto(`${service.url}/cli?project_id=${project.project_id}`);
    await shot(page, 'deny-0-enter-code');
    await page.getByLabel('The code your terminal shows').fill(started.json.login_code.toLowerCase());
    await page.getByRole('button', { name: 'Continue' }).click();
    await signIn(page, 'bob@example.test', 'deny');
    assert.is((await page.getByRole('definition').allTextContents())[3], 'deploy-bot/2.1');
    // The page fits the phone: nothing wider than the screen.
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scrolling on a phone');
    await shot(page, 'deny-3-what-asked');
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByText('Login denied').waitFor();
    await shot(page, 'deny-4-denied');
    const poll = await service.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: started.json.polling_code } });
    assert.equal([poll.status, poll.json], [200, { status: 'denied' }]);
    await page.goto(`${service.url}/cli?project_id=${project.project_id}&login_code=${started.json.login_code}`);
    await page.getByRole('button', { name: 'Show what asked to log in' }).click();
    assert.is(await page.locator('h1').textContent(), 'This login code is not valid');
  } finally {
    await page.context().close();
  }
});

test('a form forged on another origin, posted with the person\'s cookies, is refused and approves nothing', async () => {
  const page = await newPage();
  let evil: Server | undefined;
  try {
    const started = await service.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project), body: {} });
    await page.goto(`${service.url}/cli?project_id=${project.project_id}&login_code=${started.json.login_code}`);
    await signIn(page, 'carol@example.test', 'forged');
    // Another port of the same host is the same site: SameSite does not stop it, the token does.
    const target = `${service.url}/cli/approve`;
    evil = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form method="post" action="${target}"><input name="project_id" value="${project.project_id}"><input name="login_code" value="${started.json.login_code}"><input name="confirm" value="yes"></form><script>document.forms[0].submit()</script>`);
    });
    await new Promise<void>((resolve) => evil!.listen(0, '127.0.0.1', resolve));
    await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
    await page.waitForURL(target);
    assert.is(await page.locator('h1').textContent(), 'This form has expired');
    await shot(page, 'forged-refused');
    const poll = await service.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: started.json.polling_code } });
    assert.equal([poll.status, poll.json], [201, { status: 'pending' }]);
  } finally {
    evil?.close();
    await page.context().close();
  }
});

test.run();
