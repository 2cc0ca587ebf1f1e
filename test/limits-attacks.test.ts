// The six attacks of issue #21, end to end from several loopback source addresses (and through a
// trusted proxy): each proves a limit stops the attacker, never the person they target. The
// figures are printed as `# …` lines.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAdjustableClock } from '../src/clock.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { clientHeaders, serverHeaders, startTestService, type TestService } from './support/service.ts';
import { requestFrom } from './support/from-address.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp-receiver.ts';

const clock = createAdjustableClock(() => 1_900_000_000_000);
const CALLBACK = 'https://app.example.com/auth/callback';
let smtp: SmtpReceiver;
let service: TestService;

test.before(async () => {
  smtp = await startSmtpReceiver();
  service = await startTestService({ SMTP_URL: smtp.url }, { clock: clock.now });
});
test.after(async () => {
  await service.stop();
  await service.remove();
  await smtp.stop();
});

const from = (address: string, method: string, path: string, project: CreatedProject, body?: unknown, headers: Record<string, string> = {}) =>
  requestFrom(address, service.url, method, path, { headers: { ...clientHeaders(project), ...headers }, body });

async function browserSession(project: CreatedProject): Promise<string> {
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
  const session = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } });
  assert.is(session.status, 200, session.text);
  return session.json.refresh_token as string;
}

/** A login code no attempt has (the alphabet has no vowels; these are random consonants). */
const randomCode = (i: number): string => {
  const alphabet = 'BCDFGHJKLMNPQRSTVWXZ';
  let n = i * 7919 + 104_729;
  let out = '';
  for (let k = 0; k < 8; k++) {
    out += alphabet[n % 20];
    n = Math.floor(n / 20) + k * 31;
  }
  return out;
};

const cookiesOf = (headers: Record<string, string | string[] | undefined>): string[] =>
  ([] as string[]).concat(headers['set-cookie'] ?? []).map((line) => line.split(';')[0] ?? '');

test('attack 1: 30 addresses × 10 wrong login codes cannot stop the right code from a fresh address, on the API and the approval page', async () => {
  const project = await service.createProject('cli lock');
  const refreshToken = await browserSession(project);
  const wanted = (await from('127.0.0.200', 'POST', '/api/v1/auth/cli', project, {})).json;
  const viaPage = (await from('127.0.0.200', 'POST', '/api/v1/auth/cli', project, {})).json;
  let tried = 0;
  const answers: number[] = [];
  for (let a = 2; a < 32; a++) {
    for (let i = 0; i < 10; i++) {
      const res = await from(`127.0.0.${a}`, 'POST', '/api/v1/auth/cli/complete', project, { login_code: randomCode(a * 100 + i), refresh_token: refreshToken });
      tried++;
      answers.push(res.status);
    }
  }
  assert.ok(answers.every((s) => s === 400 || s === 429), answers.join(','));
  // A stranger's wrong code past the project's budget is refused…
  const refused = await from('127.0.0.40', 'POST', '/api/v1/auth/cli/complete', project, { login_code: randomCode(1), refresh_token: refreshToken });
  assert.is(refused.status, 429, refused.text);
  // …the right one, from a fresh address, is not.
  const right = await from('127.0.0.41', 'POST', '/api/v1/auth/cli/complete', project, { login_code: wanted.login_code, refresh_token: refreshToken });
  assert.is(right.status, 200, right.text);
  // The same on the approval page: open the link, post its review form.
  const cookie = `authlog-cli-session=${refreshToken}`;
  const opened = await requestFrom('127.0.0.42', service.url, 'GET', `/cli?project_id=${project.project_id}&login_code=${viaPage.login_code}`, { headers: { cookie } });
  assert.is(opened.status, 200, opened.text);
  const csrf = /name="csrf" value="([^"]+)"/.exec(opened.text)?.[1] ?? '';
  const form = new URLSearchParams({ csrf, project_id: project.project_id, login_code: viaPage.login_code }).toString();
  const reviewed = await requestFrom('127.0.0.42', service.url, 'POST', '/cli/review', {
    headers: { cookie: [cookie, ...cookiesOf(opened.headers)].join('; '), 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  assert.is(reviewed.status, 200, reviewed.text);
  assert.match(reviewed.text, 'What asked to log in');
  console.log(`  # attack 1: ${tried + 1} wrong login codes tried from 31 addresses; right codes that still worked: 2 of 2 (API, page)`);
});

test('attack 1b: opening the approval link with any code evaluates and counts nothing, so <img> tags spend no guess', async () => {
  const project = await service.createProject('img tags');
  const refreshToken = await browserSession(project);
  const started = (await from('127.0.0.60', 'POST', '/api/v1/auth/cli', project, {})).json;
  for (let i = 0; i < 50; i++) {
    const res = await requestFrom('127.0.0.61', service.url, 'GET', `/cli?project_id=${project.project_id}&login_code=${randomCode(5000 + i)}`);
    assert.is(res.status, 200, res.text);
  }
  const right = await from('127.0.0.61', 'POST', '/api/v1/auth/cli/complete', project, { login_code: started.login_code, refresh_token: refreshToken });
  assert.is(right.status, 200, 'the address that opened 50 links still has its whole budget: ' + right.text);
  console.log('  # attack 1b: 50 links opened with random codes; right codes that still worked from that address: 1 of 1');
});

async function sendCode(address: string, project: CreatedProject, email: string): Promise<{ otp: string; nonce: string }> {
  const before = smtp.messages.length;
  const res = await from(address, 'POST', '/api/v1/auth/otp/send-sign-in-code', project, { email, callback_url: CALLBACK });
  assert.is(res.status, 200, res.text);
  const mail = await smtp.waitForMail((m) => smtp.messages.indexOf(m) >= before && m.to.includes(email));
  return { otp: /Your code is ([A-Z0-9]{6})$/.exec(mail.subject)?.[1] ?? '', nonce: res.json.nonce };
}
const wrongOtp = (otp: string, i = 0): string => (otp === 'ZZZZZ' + i ? 'YYYYY' + i : 'ZZZZZ' + i);

test('attack 2: 20 wrong OTPs at an email from strangers never lock its owner out; a spent email budget makes one wrong guess lock a code', async () => {
  const project = await service.createProject('email lock', ['https://app.example.com']);
  const email = 'victim@example.com';
  let tried = 0;
  for (const address of ['127.0.1.2', '127.0.1.3']) {
    for (let c = 0; c < 2; c++) {
      const sent = await sendCode(address, project, email);
      for (let i = 0; i < 5; i++) {
        const res = await from(address, 'POST', '/api/v1/auth/otp/sign-in/check-code', project, { code: wrongOtp(sent.otp, i) + sent.nonce });
        assert.equal(res.json, { is_code_valid: false });
        tried++;
      }
    }
    // Ten wrong guesses at one email from one address: that address is done with this email.
    const sent = await sendCode(address, project, 'other-' + address + '@example.com');
    const more = await from(address, 'POST', '/api/v1/auth/otp/sign-in/check-code', project, { code: wrongOtp(sent.otp) + sent.nonce });
    assert.equal(more.json, { is_code_valid: false }, 'another email from the same address is not refused');
  }
  clock.advance(15 * 60_000); // the email's sends refill; its guesses (an hour) still stand
  const stranger = await sendCode('127.0.1.4', project, email);
  const one = await from('127.0.1.4', 'POST', '/api/v1/auth/otp/sign-in/check-code', project, { code: wrongOtp(stranger.otp) + stranger.nonce });
  assert.equal(one.json, { is_code_valid: false });
  tried++;
  const afterOne = await from('127.0.1.4', 'POST', '/api/v1/auth/otp/sign-in', project, { code: stranger.otp + stranger.nonce });
  assert.is(afterOne.json?.code, 'VERIFICATION_CODE_MAX_ATTEMPTS_REACHED', 'one wrong guess locked the stranger\'s code: ' + afterOne.text);
  const own = await sendCode('127.0.1.10', project, email);
  const checked = await from('127.0.1.10', 'POST', '/api/v1/auth/otp/sign-in/check-code', project, { code: own.otp + own.nonce });
  assert.equal(checked.json, { is_code_valid: true });
  const signedIn = await from('127.0.1.10', 'POST', '/api/v1/auth/otp/sign-in', project, { code: own.otp + own.nonce });
  assert.is(signedIn.status, 200, signedIn.text);
  console.log(`  # attack 2: ${tried} wrong OTPs tried at one email from 3 addresses; right codes of its owner that still worked: 1 of 1`);
});

test('attack 2b: guesses at one email from one address are capped (10 per hour), whatever codes are sent', async () => {
  const project = await service.createProject('email cap', ['https://app.example.com']);
  const email = 'capped@example.com';
  const answers: number[] = [];
  for (let c = 0; c < 3; c++) {
    const sent = await sendCode('127.0.2.2', project, email);
    for (let i = 0; i < 5; i++) answers.push((await from('127.0.2.2', 'POST', '/api/v1/auth/otp/sign-in', project, { code: wrongOtp(sent.otp, i) + sent.nonce })).status);
  }
  assert.is(answers.filter((s) => s === 404).length, 10, answers.join(','));
  assert.is(answers.filter((s) => s === 429).length, 5, answers.join(','));
});

test('attack 3: 1,500 CLI initiations from one address are capped: the log is not filled for free', async () => {
  const project = await service.createProject('flood');
  const statuses: number[] = [];
  for (let batch = 0; batch < 75; batch++) {
    const answers = await Promise.all(Array.from({ length: 20 }, () => from('127.0.3.2', 'POST', '/api/v1/auth/cli', project, {})));
    statuses.push(...answers.map((r) => r.status));
  }
  const ok = statuses.filter((s) => s === 200).length;
  assert.is(ok, 30, 'the per-address cap');
  assert.is(statuses.filter((s) => s === 429).length, 1470);
  const other = await from('127.0.3.3', 'POST', '/api/v1/auth/cli', project, {});
  assert.is(other.status, 200, 'another address is not refused');
  console.log(`  # attack 3: 1500 initiations from one address: ${ok} written, 1470 refused 429`);
});

test('attack 5: a burst of concurrent guesses on one code, with the right sign-in among them, never answers 503', async () => {
  const project = await service.createProject('burst', ['https://app.example.com']);
  const sent = await sendCode('127.0.5.1', project, 'burst@example.com');
  const wrong = Array.from({ length: 100 }, (_, i) =>
    from(`127.0.5.${10 + (i % 10)}`, "POST", i % 2 ? "/api/v1/auth/otp/sign-in/check-code" : "/api/v1/auth/otp/sign-in", project, { code: wrongOtp(sent.otp, i % 10) + sent.nonce }),
  );
  const right = from('127.0.5.9', 'POST', '/api/v1/auth/otp/sign-in', project, { code: sent.otp + sent.nonce });
  const answers = await Promise.all([...wrong, right]);
  const statuses = answers.map((r) => r.status);
  assert.ok(statuses.every((s) => s < 500), statuses.join(','));
  console.log(`  # attack 5: ${answers.length} concurrent guesses on one code: ${statuses.filter((s) => s >= 500).length} answered 5xx`);
});

test('attack 6: a budget spent just before a clock-aligned boundary is not refilled just after it', async () => {
  const project = await service.createProject('boundary');
  const started = (await from('127.0.6.1', 'POST', '/api/v1/auth/cli', project, {})).json;
  const windowMs = 10_000;
  clock.advance(windowMs - (clock.now() % windowMs) - 1); // 1 ms before a multiple of the window
  const poll = () => from('127.0.6.1', 'POST', '/api/v1/auth/cli/poll', project, { polling_code: started.polling_code });
  let passed = 0;
  for (let i = 0; i < 15; i++) if ((await poll()).status !== 429) passed++;
  clock.advance(2);
  for (let i = 0; i < 15; i++) if ((await poll()).status !== 429) passed++;
  assert.is(passed, 15, 'the poll limit (15 per 10 s), not twice it');
  console.log(`  # attack 6: 30 polls across a window boundary: ${passed} answered, limit 15`);
});

async function guessUntilRefused(proxied: TestService, project: CreatedProject, refreshToken: string, address: string, forwardedFor?: string): Promise<number> {
  let answered = 0;
  for (let i = 0; i < 12; i++) {
    const headers: Record<string, string> = { ...clientHeaders(project), ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) };
    const res = await requestFrom(address, proxied.url, 'POST', '/api/v1/auth/cli/complete', { headers, body: { login_code: randomCode(9000 + i), refresh_token: refreshToken } });
    if (res.status === 400) answered++;
  }
  return answered;
}

for (const trust of ['127.0.0.1/32,::1', '1']) {
  test(`attack 4 (TRUST_PROXY=${trust}): behind a proxy each client has its own budget, IPv6 per /64, and a client cannot pick its address`, async () => {
    const proxied = await startTestService({ TRUST_PROXY: trust }, { clock: clock.now });
    try {
      const project = await proxied.createProject('proxied');
      const user = await proxied.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
      const refreshToken = (await proxied.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } })).json.refresh_token;
      const started = (await proxied.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project), body: {} })).json;
      // One guesser behind the proxy spends its own budget (10), and only its own.
      assert.is(await guessUntilRefused(proxied, project, refreshToken, '127.0.0.1', '198.51.100.7'), 10);
      const victim = await requestFrom('127.0.0.1', proxied.url, 'POST', '/api/v1/auth/cli/complete', {
        headers: { ...clientHeaders(project), 'x-forwarded-for': '203.0.113.9' },
        body: { login_code: started.login_code, refresh_token: refreshToken },
      });
      assert.is(victim.status, 200, victim.text);
      // IPv6: one /64 is one budget.
      assert.is(await guessUntilRefused(proxied, project, refreshToken, '127.0.0.1', '2001:db8:1:2::1'), 10);
      assert.is(await guessUntilRefused(proxied, project, refreshToken, '127.0.0.1', '2001:db8:1:2:ffff::9'), 0, 'same /64');
      assert.is(await guessUntilRefused(proxied, project, refreshToken, '127.0.0.1', '2001:db8:1:3::1'), 10, 'another /64');
      // A header the client wrote itself in front of the proxy's entry is not believed.
      assert.is(await guessUntilRefused(proxied, project, refreshToken, '127.0.0.1', '192.0.2.1, 198.51.100.7'), 0, 'still 198.51.100.7');
      if (trust !== '1') {
        // Not from a trusted proxy: the header is ignored, the peer is the client.
        assert.is(await guessUntilRefused(proxied, project, refreshToken, '127.0.0.2', '192.0.2.50'), 10);
        assert.is(await guessUntilRefused(proxied, project, refreshToken, '127.0.0.2', '192.0.2.51'), 0, 'the same peer, whatever it claims');
      }
      console.log(`  # attack 4 (TRUST_PROXY=${trust}): right codes that still worked behind the proxy after a neighbour's guesses: 1 of 1`);
    } finally {
      await proxied.stop();
      await proxied.remove();
    }
  });
}

test.run();
