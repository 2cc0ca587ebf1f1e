// Personal data only sealed, and erasing a person from an append-only log (issue #23): emails,
// display names, client addresses and user agents never reach the log, its WAL or the read model
// in plain text; after erasure nothing of the person reads back from any endpoint or command, the
// audit still lists their sessions by id, and rebuilding the read model does not bring them back.
import { decodeJwt } from 'jose';
import { Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAdjustableClock } from '../src/clock.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { adminHeaders, clientHeaders, serverHeaders, startTestService, storedLog, type TestService } from './support/service.ts';
import { requestFrom } from './support/from-address.ts';
import { runAuthlog } from './support/spawn-authlog.ts';
import { startSmtpReceiver, type SmtpReceiver } from './support/smtp-receiver.ts';

// Moved by the tests only (the retention test jumps months ahead).
const clock = createAdjustableClock(() => Date.now());
const ADDRESS = '127.0.0.77';
const AGENT = 'PersonalAgent/7.3 (erasure-probe)';
const EMAIL = 'ada.lovelace@erasure.example';
const NAME = 'Ada Augusta Lovelace';
const STRANGER = 'never.signed.up@erasure.example';
let smtp: SmtpReceiver;
let service: TestService;
let project: CreatedProject;

test.before(async () => {
  smtp = await startSmtpReceiver();
  service = await startTestService({ SMTP_URL: smtp.url }, { clock: clock.now });
  project = await service.createProject('erasure', ['https://app.example.com']);
});
test.after(async () => {
  await service.stop();
  await service.remove();
  await smtp.stop();
});

/** A request from the person's own address and browser. */
const fromPerson = (method: string, path: string, headers: Record<string, string>, body?: unknown) =>
  requestFrom(ADDRESS, service.url, method, path, { headers: { ...headers, 'user-agent': AGENT }, ...(body === undefined ? {} : { body }) });

async function sendCode(email: string): Promise<string> {
  const before = smtp.messages.length;
  const sent = await fromPerson('POST', '/api/v1/auth/otp/send-sign-in-code', clientHeaders(project), { email, callback_url: 'https://app.example.com/cb' });
  assert.is(sent.status, 200, sent.text);
  const mail = await smtp.waitForMail((m) => smtp.messages.indexOf(m) >= before && m.to.includes(email));
  return /[?&]code=([0-9a-z]{45})/.exec(mail.text)?.[1] ?? '';
}

/** Every value the read model holds, as one string (Redis: every key under the service's prefix). */
async function readModelDump(): Promise<string> {
  if (!service.config.REDIS_URL) return '';
  const redis = new Redis(service.config.REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const parts: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${service.config.REDIS_PREFIX}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === 'string') parts.push(key, (await redis.get(key)) ?? '');
        else if (type === 'hash') parts.push(key, JSON.stringify(await redis.hgetall(key)));
        else if (type === 'set') parts.push(key, ...(await redis.smembers(key)));
        else parts.push(key);
      }
    } while (cursor !== '0');
    return parts.join('\n');
  } finally {
    redis.disconnect();
  }
}

let userId = '';
let sessionId = '';
let unusedCode = '';

test('creating users, sending codes, signing in and starting a CLI login leave no email, name, address or user agent in plain text in the log, its WAL or the read model', async () => {
  const created = await fromPerson('POST', '/api/v1/users', serverHeaders(project), { primary_email: EMAIL, display_name: NAME, primary_email_verified: true });
  assert.ok(created.status === 201, created.text);
  userId = created.json.id;
  const signedIn = await fromPerson('POST', '/api/v1/auth/otp/sign-in', clientHeaders(project), { code: await sendCode(EMAIL) });
  assert.is(signedIn.status, 200, signedIn.text);
  sessionId = String(decodeJwt(signedIn.json.access_token).refresh_token_id);
  unusedCode = await sendCode(EMAIL);
  await sendCode(STRANGER);
  assert.is((await fromPerson('POST', '/api/v1/auth/cli', clientHeaders(project), {})).status, 200);

  // Still readable where it should be: the user, their token's claims, the admin's events.
  const user = await service.request('GET', `/api/v1/users/${userId}`, { headers: serverHeaders(project) });
  assert.equal([user.json.primary_email, user.json.display_name], [EMAIL, NAME]);
  assert.is(decodeJwt(signedIn.json.access_token).email, EMAIL);
  const events = await service.request('GET', `/api/v1/events?stream=user-${userId}`, { headers: adminHeaders(project) });
  assert.equal([events.json.items[0].data.primaryEmail, events.json.items[0].metadata.ip, events.json.items[0].metadata.userAgent], [EMAIL, ADDRESS, AGENT]);

  const dump = await readModelDump();
  for (const secret of [EMAIL, NAME, STRANGER, ADDRESS, AGENT]) assert.not.ok(dump.includes(secret), `the read model holds ${secret}`);
  await service.stop();
  const log = (await storedLog(service)).toString('latin1');
  assert.ok(log.length > 1000, 'the log was read');
  for (const secret of [EMAIL, NAME, STRANGER, ADDRESS, AGENT, 'erasure.example']) assert.not.ok(log.includes(secret), `the log holds ${secret}`);
  service = await startTestService({ SMTP_URL: smtp.url }, { clock: clock.now, dataDir: service.dataDir });
});

test('DELETE /users/{id} erases the person: nothing of them reads back, the audit keeps their sessions by id, a rebuild does not resurrect them', async () => {
  const erased = await service.request('DELETE', `/api/v1/users/${userId}`, { headers: serverHeaders(project) });
  assert.is(erased.status, 200, erased.text);
  assert.is((await service.request('GET', `/api/v1/users/${userId}`, { headers: serverHeaders(project) })).json.code, 'USER_NOT_FOUND');
  assert.is((await service.request('DELETE', `/api/v1/users/${userId}`, { headers: serverHeaders(project) })).status, 404, 'a second delete finds no user');

  const userEvents = (await service.request('GET', `/api/v1/events?stream=user-${userId}`, { headers: adminHeaders(project) })).json.items;
  assert.equal(userEvents.map((e: { type: string }) => e.type), ['UserCreated', 'UserDeleted', 'PersonalDataErased']);
  assert.equal([userEvents[0].data.primaryEmail, userEvents[0].data.displayName], ['[erased]', '[erased]']);
  const sends = (await service.request('GET', '/api/v1/events?type=SignInCodeSent&limit=100', { headers: adminHeaders(project) })).json.items;
  const emails = sends.map((e: { data: { email: string } }) => e.data.email);
  assert.equal(emails.filter((e: string) => e === '[erased]').length, 2, "both codes sent to the person's address read [erased]");
  assert.ok(emails.includes(STRANGER), "another address's data is untouched");
  const everything = JSON.stringify((await service.request('GET', '/api/v1/events?limit=1000', { headers: adminHeaders(project) })).json);
  for (const secret of [EMAIL, NAME]) assert.not.ok(everything.includes(secret), `the events API shows ${secret}`);

  // The audit still has the facts: the session, its time, its end.
  const audit = await service.request('GET', `/api/v1/events?stream=session-${sessionId}`, { headers: adminHeaders(project) });
  assert.equal(audit.json.items.map((e: { type: string }) => e.type), ['SessionCreated', 'SessionRevoked']);
  assert.is(audit.json.items[1].data.reason, 'user-deleted');

  // A code mailed before the erasure no longer signs anyone in.
  const late = await service.request('POST', '/api/v1/auth/otp/sign-in', { headers: clientHeaders(project), body: { code: unusedCode } });
  assert.is(late.json.code, 'VERIFICATION_CODE_NOT_FOUND', late.text);

  // The command line reads the same log: nothing of the person either.
  await service.stop();
  const shown = await runAuthlog(['events', 'show', `user-${userId}`, '--json'], { AUTHLOG_DATA_DIR: service.dataDir, ...(service.config.EVENTSTORE_URL ? { EVENTSTORE_URL: service.config.EVENTSTORE_URL, AUTHLOG_SECRET: service.config.AUTHLOG_SECRET ?? '' } : {}) });
  assert.is(shown.code, 0, shown.stderr);
  assert.ok(shown.stdout.includes('[erased]'));
  assert.not.ok(shown.stdout.includes(EMAIL));
  // A restart rebuilds (memory) or re-reads (Redis) the read model: the person stays gone.
  service = await startTestService({ SMTP_URL: smtp.url }, { clock: clock.now, dataDir: service.dataDir });
  assert.is((await service.request('GET', `/api/v1/users/${userId}`, { headers: serverHeaders(project) })).json.code, 'USER_NOT_FOUND');
  const rebuilt = await readModelDump();
  assert.not.ok(rebuilt.includes(userId) && rebuilt.includes(EMAIL));
  // The address can sign up again, as a new person with a new key.
  const again = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: EMAIL } });
  assert.ok(again.status === 201, again.text);
  assert.is(again.json.primary_email, EMAIL);
});

test('client addresses and user agents read [erased] once ORIGIN_RETENTION_DAYS have passed', async () => {
  const res = await fromPerson('POST', '/api/v1/users', serverHeaders(project), {});
  const stream = `user-${res.json.id}`;
  const before = (await service.request('GET', `/api/v1/events?stream=${stream}`, { headers: adminHeaders(project) })).json.items[0].metadata;
  assert.equal([before.ip, before.userAgent], [ADDRESS, AGENT]);
  clock.advance(92 * 86_400_000);
  // The service forgets expired days at start and hourly; a restart is the quickest way here.
  await service.stop();
  service = await startTestService({ SMTP_URL: smtp.url }, { clock: clock.now, dataDir: service.dataDir });
  // Forgetting runs beside the start: give it a moment (it is a sweep, not a request).
  const read = async () => (await service.request('GET', `/api/v1/events?stream=${stream}`, { headers: adminHeaders(project) })).json.items[0];
  let after = await read();
  for (let i = 0; i < 50 && after.metadata.ip !== '[erased]'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    after = await read();
  }
  assert.equal([after.metadata.ip, after.metadata.userAgent], ['[erased]', '[erased]']);
  assert.is(after.data.userId, res.json.id, 'the facts stay');
});

test('ORIGIN_RETENTION_DAYS=0 records neither address nor user agent', async () => {
  const other = await startTestService({ ORIGIN_RETENTION_DAYS: '0' }, { clock: clock.now });
  try {
    const p = await other.createProject('no origins');
    const res = await requestFrom(ADDRESS, other.url, 'POST', '/api/v1/users', { headers: { ...serverHeaders(p), 'user-agent': AGENT }, body: {} });
    const meta = (await other.request('GET', `/api/v1/events?stream=user-${res.json.id}`, { headers: adminHeaders(p) })).json.items[0].metadata;
    assert.equal([meta.ip, meta.userAgent], [undefined, undefined]);
  } finally {
    await other.stop();
    await other.remove();
  }
});

test.run();
