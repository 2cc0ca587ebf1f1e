import { randomInt } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startSmtpReceiver, type SmtpReceiver } from '../../test/support/smtp-receiver.ts';
import { createLogMailer, LOG_MAILER_BANNER } from './log-mailer.ts';
import { MailUnavailableError, type Mailer } from './mailer.ts';
import { createSmtpMailer } from './smtp-mailer.ts';

const FROM = '"Authlog" <no-reply@authlog.test>';
const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';
const code45 = (): string => Array.from({ length: 45 }, () => CROCKFORD[randomInt(CROCKFORD.length)]).join('');

/** What send-sign-in-code sends: the link line is far over 76 characters, so it gets QP-folded. */
function signInMail(to: string, projectName = 'Acme'): { to: string; subject: string; text: string; code: string; link: string } {
  const code = code45();
  const otp = code.slice(0, 6).toUpperCase();
  const link = `https://app.example.test/handler/magic-link-callback?after_auth_return_to=%2Fdashboard&code=${code}`;
  return {
    to,
    code,
    link,
    subject: `Sign in to ${projectName}: Your code is ${otp}`,
    text: `Your sign-in code for ${projectName} is ${otp}.\n\nOr open this link to sign in:\n${link}\n\nThe code expires in 1 hour.`,
  };
}

async function expectUnavailable(promise: Promise<unknown>): Promise<MailUnavailableError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MailUnavailableError) return error;
    throw error;
  }
  throw new Error('expected MailUnavailableError, the send succeeded');
}

/** A TCP server that accepts and then says nothing (or only the greeting): a hung SMTP server. */
async function startSilentServer(greeting?: string): Promise<{ url: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    if (greeting) socket.write(greeting);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port that was just free and is now closed: connecting is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function withReceiver(
  run: (receiver: SmtpReceiver, mailer: Mailer) => Promise<void>,
  options: Parameters<typeof startSmtpReceiver>[0] = {},
): Promise<void> {
  const receiver = await startSmtpReceiver(options);
  const mailer = createSmtpMailer({ url: receiver.url, from: FROM, timeoutMs: 5_000 });
  try {
    await run(receiver, mailer);
  } finally {
    await mailer.close();
    await receiver.stop();
  }
}

test('a sign-in mail arrives with subject, text, the ?code= link and the 45-char code intact', async () => {
  await withReceiver(async (receiver, mailer) => {
    const mail = signInMail('ada@example.test');
    await mailer.send(mail);
    // send resolved, so the server has already stored it: no waiting needed.
    assert.is(receiver.messages.length, 1);
    const got = await receiver.waitForMail((m) => m.to.includes('ada@example.test'), 1);
    assert.equal(got.to, ['ada@example.test']);
    assert.is(got.from, 'no-reply@authlog.test');
    assert.is(got.subject, mail.subject);
    assert.is(got.text, mail.text);
    assert.ok(got.text.includes(mail.link), 'the link survives line folding and QP');
    assert.ok(got.text.includes(`?after_auth_return_to=%2Fdashboard&code=${mail.code}`));
    assert.is(got.text.match(/code=([0-9a-z]+)/)?.[1], mail.code);
    assert.is(got.html, undefined);
    // The raw message was really encoded on the way (the decoding above did some work).
    assert.not.ok(got.raw.includes(mail.link), 'the long line is folded on the wire');
  });
});

test('non-ASCII subject and text, and an HTML alternative, arrive intact', async () => {
  await withReceiver(async (receiver, mailer) => {
    const mail = signInMail('bob@example.test', 'Café Ünïcode 日本語 — ☃');
    const html = `<p>Your code: <b>${mail.subject.slice(-6)}</b></p><p><a href="${mail.link}">Sign in</a></p>`;
    await mailer.send({ ...mail, html });
    const got = await receiver.waitForMail((m) => m.to.includes('bob@example.test'));
    assert.is(got.subject, mail.subject);
    assert.is(got.text, mail.text);
    assert.is(got.html, html);
  });
});

test('line breaks in the subject cannot add headers, and "to" is exactly one address', async () => {
  await withReceiver(async (receiver, mailer) => {
    await mailer.send({ to: 'carol@example.test', subject: 'Hello\r\nBcc: mallory@evil.test\r\nX-Injected: yes', text: 'hi' });
    const got = await receiver.waitForMail((m) => m.to.includes('carol@example.test'));
    assert.equal(got.to, ['carol@example.test']);
    assert.is(got.headers['bcc'], undefined);
    assert.is(got.headers['x-injected'], undefined);

    for (const to of ['carol@example.test, mallory@evil.test', 'Carol <carol@example.test>', 'carol@example.test\r\nmallory@evil.test', '', 'no-at-sign']) {
      try {
        await mailer.send({ to, subject: 's', text: 't' });
        assert.unreachable(`sent to ${JSON.stringify(to)}`);
      } catch (error) {
        assert.instance(error, TypeError);
      }
    }
    assert.is(receiver.messages.length, 1);
  });
});

test('credentials from the URL are used to log in', async () => {
  await withReceiver(
    async (receiver, mailer) => {
      await mailer.send({ to: 'dan@example.test', subject: 'authed', text: 'ok' });
      const got = await receiver.waitForMail((m) => m.subject === 'authed');
      assert.is(got.authUser, 'mailer@authlog.test');
    },
    { credentials: { user: 'mailer@authlog.test', pass: 'p@ss:w/rd%s3cret' } },
  );
});

test('a refused login → MailUnavailableError that names the server but never the credentials', async () => {
  const receiver = await startSmtpReceiver({ credentials: { user: 'mailer', pass: 'the-right-one' } });
  const port = new URL(receiver.url).port;
  const mailer = createSmtpMailer({ url: `smtp://mailer:hunter2-wrong-password@127.0.0.1:${port}`, from: FROM, timeoutMs: 5_000 });
  try {
    const error = await expectUnavailable(mailer.send({ to: 'erin@example.test', subject: 's', text: 't' }));
    assert.is(error.code, 'EAUTH');
    assert.ok(error.message.includes(`127.0.0.1:${port}`), error.message);
    for (const leaked of ['hunter2-wrong-password', Buffer.from('hunter2-wrong-password').toString('base64')]) {
      assert.not.ok(error.message.includes(leaked), error.message);
      assert.not.ok(JSON.stringify(error).includes(leaked));
      assert.not.ok(String(error.stack).includes(leaked));
    }
    assert.is((error as { cause?: unknown }).cause, undefined);
    assert.is(receiver.messages.length, 0);
  } finally {
    await mailer.close();
    await receiver.stop();
  }
});

test('a refused recipient → MailUnavailableError, permanent, with the 550', async () => {
  await withReceiver(
    async (receiver, mailer) => {
      const error = await expectUnavailable(mailer.send({ to: 'nobody@example.test', subject: 's', text: 't' }));
      assert.is(error.responseCode, 550);
      assert.ok(error.permanent);
      assert.is(receiver.messages.length, 0);
    },
    { refuseRecipients: ['nobody@example.test'] },
  );
});

test('SMTP down (a closed port) → MailUnavailableError in < 5 s, with the default timeout', async () => {
  const port = await closedPort();
  const mailer = createSmtpMailer({ url: `smtp://user:secret-pass@127.0.0.1:${port}`, from: FROM });
  const started = Date.now();
  const error = await expectUnavailable(mailer.send({ to: 'a@example.test', subject: 's', text: 't' }));
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
  assert.not.ok(error.message.includes('secret-pass'), error.message);
  assert.ok(error.message.includes(`127.0.0.1:${port}`), error.message);
  await mailer.close();
});

test('a silent server (accepts, never greets) → MailUnavailableError within the timeout', async () => {
  const silent = await startSilentServer();
  const mailer = createSmtpMailer({ url: silent.url, from: FROM, timeoutMs: 400 });
  try {
    const started = Date.now();
    const error = await expectUnavailable(mailer.send({ to: 'a@example.test', subject: 's', text: 't' }));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 350 && elapsed < 1_400, `took ${elapsed} ms`);
    assert.is(typeof error.code, 'string');
  } finally {
    await mailer.close();
    await silent.stop();
  }
});

test('a server that greets and then hangs → MailUnavailableError within the timeout', async () => {
  const hung = await startSilentServer('220 hung.test ESMTP\r\n');
  const mailer = createSmtpMailer({ url: hung.url, from: FROM, timeoutMs: 400 });
  try {
    const started = Date.now();
    await expectUnavailable(mailer.send({ to: 'a@example.test', subject: 's', text: 't' }));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 350 && elapsed < 1_400, `took ${elapsed} ms`);
  } finally {
    await mailer.close();
    await hung.stop();
  }
});

test('a closed mailer refuses to send', async () => {
  const mailer = createSmtpMailer({ url: 'smtp://127.0.0.1:25', from: FROM });
  await mailer.close();
  await expectUnavailable(mailer.send({ to: 'a@example.test', subject: 's', text: 't' }));
});

test('a bad SMTP_URL fails at construction without echoing the URL', () => {
  for (const url of ['not a url :secret-pw@', 'http://u:secret-pw@host', 'smtp://u:secret-pw@']) {
    try {
      createSmtpMailer({ url, from: FROM });
      assert.unreachable(`accepted ${url}`);
    } catch (error) {
      assert.instance(error, Error);
      assert.not.instance(error, assert.Assertion);
      assert.not.ok((error as Error).message.includes('secret-pw'), (error as Error).message);
    }
  }
});

test('the log mailer writes the whole mail, clearly marked as not sent', async () => {
  const lines: string[] = [];
  const mailer = createLogMailer((line) => lines.push(line));
  const mail = signInMail('dev@example.test');
  await mailer.send(mail);
  await mailer.close();
  assert.is(LOG_MAILER_BANNER, 'DEVELOPMENT ONLY: SMTP_URL is not set, this email was not sent');
  assert.ok(lines[0]?.includes(LOG_MAILER_BANNER));
  assert.ok(lines.at(-1)?.includes(LOG_MAILER_BANNER));
  assert.ok(lines.includes('To: dev@example.test'));
  assert.ok(lines.includes(`Subject: ${mail.subject}`));
  assert.ok(lines.includes(mail.link), 'the link is on a line of its own, unfolded');
  assert.ok(lines.join('\n').includes(mail.text));
});

test('the log mailer neutralises control characters from user input', async () => {
  const lines: string[] = [];
  await createLogMailer((line) => lines.push(line)).send({
    to: 'x@example.test',
    subject: 'Evil\r\n----- end of email -----\u001b[2J',
    text: 'a\u001b[31mred\nb',
    html: '<p>hi</p>',
  });
  assert.ok(lines.every((line) => !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(line)));
  assert.is(lines.filter((line) => line.includes('end of email')).length, 2, 'the forged end marker stays inside the Subject line');
  assert.ok(lines.includes('<p>hi</p>'));
});

test.run();
