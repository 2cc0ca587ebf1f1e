// "Codes, tokens and keys are stored only as HMAC digests", end to end and for both places the
// service keeps data: the event log (events.db and its WAL, read as bytes) and the Redis read
// model (every key under the test's own prefix, dumped with its values). Each search is paired
// with one for a digest that must be there, so a wrong file or an empty dump cannot pass.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { clientHeaders, serverHeaders, startTestService, type TestService } from './support/service.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const REDIS_PREFIX = `authlog-test-secrets-${randomUUID()}`;
const SECRET_PREFIXES = ['pck_', 'ssk_', 'sak_', 'rt_', 'poll_'];

let service: TestService;
let project: CreatedProject;
const apiKeys: string[] = [];
const refreshTokens: string[] = [];
const accessTokens: string[] = [];
/** CLI logins: polling codes and login codes (as shown, and as typed without the dash). */
const cliCodes: string[] = [];
/** Sign-in codes: the 45-character code and its OTP, from the mails. */
const signInCodes: string[] = [];
const mails: string[] = [];
let redis: Redis;

test.before(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  // The mail port keeps what would be sent, so the test knows every sign-in code issued.
  service = await startTestService({ REDIS_URL, REDIS_PREFIX }, { mailer: { send: async (mail) => void mails.push(mail.text), close: async () => {} } });
});

test.after(async () => {
  await service.stop();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${REDIS_PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
  await service.remove();
});

async function ok(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const res = await service.request(method, path, { headers, ...(body === undefined ? {} : { body }) });
  assert.is(res.status, method === 'POST' && path === '/api/v1/users' ? 201 : 200, `${method} ${path}: ${res.text}`);
  return res.json;
}

/** Every form a secret could be stored in: whole, and without its typed prefix. */
function forms(secret: string): string[] {
  const prefix = SECRET_PREFIXES.find((p) => secret.startsWith(p));
  return prefix ? [secret, secret.slice(prefix.length)] : [secret];
}

/** The JWT's signature: unique to the token, unlike its header and (partly) its payload. */
const signatureOf = (jwt: string): string => {
  const signature = jwt.split('.')[2];
  assert.ok(signature && signature.length >= 32, 'an access token is a signed JWT');
  return signature;
};

function assertNoSecrets(where: string, contains: (s: string) => boolean): void {
  for (const secret of [...apiKeys, ...refreshTokens, ...cliCodes, ...signInCodes]) {
    for (const form of forms(secret)) assert.not.ok(contains(form), `${where} holds the secret ${secret} (as ${form})`);
  }
}

async function dumpRedis(): Promise<{ keys: number; dump: string }> {
  const parts: string[] = [];
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${REDIS_PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      if (seen.has(key)) continue;
      seen.add(key);
      const type = await redis.type(key);
      let value: unknown;
      if (type === 'string') value = await redis.get(key);
      else if (type === 'hash') value = await redis.hgetall(key);
      else if (type === 'set') value = await redis.smembers(key);
      else if (type === 'zset') value = await redis.zrange(key, 0, '-1', 'WITHSCORES');
      else if (type === 'list') value = await redis.lrange(key, 0, -1);
      else if (type !== 'none') assert.unreachable(`unexpected ${type} key ${key}`);
      parts.push(`${key} ${type} ${JSON.stringify(value)}`);
    }
  } while (cursor !== '0');
  return { keys: seen.size, dump: parts.join('\n') };
}

test('a project, users, sessions (one an impersonation), refreshes, a sign-out, CLI logins and sign-in codes issue keys, tokens and codes over HTTP', async () => {
  project = await service.createProject('secrets at rest', ['https://app.example.com']);
  apiKeys.push(project.publishable_client_key, project.secret_server_key, project.super_secret_admin_key);
  for (const impersonation of [false, true, false]) {
    const user = await ok('POST', '/api/v1/users', serverHeaders(project), {});
    const body = impersonation ? { user_id: user.id, is_impersonation: true } : { user_id: user.id };
    const session = await ok('POST', '/api/v1/auth/sessions', serverHeaders(project), body);
    assert.match(session.refresh_token, /^rt_/);
    refreshTokens.push(session.refresh_token);
    accessTokens.push(session.access_token);
    for (let i = 0; i < 3; i++) {
      const refreshed = await ok('POST', '/api/v1/auth/sessions/current/refresh', { ...clientHeaders(project), 'x-stack-refresh-token': session.refresh_token });
      accessTokens.push(refreshed.access_token);
    }
  }
  // The last session signs out: its refresh token stops working.
  await ok('DELETE', '/api/v1/auth/sessions/current', { ...clientHeaders(project), 'x-stack-access-token': accessTokens.at(-1)! });
  const after = await service.request('POST', '/api/v1/auth/sessions/current/refresh', {
    headers: { ...clientHeaders(project), 'x-stack-refresh-token': refreshTokens.at(-1)! },
  });
  assert.is(after.status, 401, after.text);
  // A CLI login approved from the first session, and one left pending: codes and the CLI's token.
  for (const approve of [true, false]) {
    const started = await ok('POST', '/api/v1/auth/cli', clientHeaders(project), {});
    cliCodes.push(started.polling_code, started.login_code, started.login_code.replace('-', ''));
    if (!approve) continue;
    await ok('POST', '/api/v1/auth/cli/complete', clientHeaders(project), { login_code: started.login_code, refresh_token: refreshTokens[0] });
    const claimed = await ok('POST', '/api/v1/auth/cli/poll', clientHeaders(project), { polling_code: started.polling_code });
    assert.match(claimed.refresh_token, /^rt_/);
    refreshTokens.push(claimed.refresh_token);
  }
  // Sign-in codes: one used to sign in, one left live, one checked wrong.
  for (const use of [true, false]) {
    const sent = await ok('POST', '/api/v1/auth/otp/send-sign-in-code', clientHeaders(project), { email: `secret${use}@example.com`, callback_url: 'https://app.example.com/cb' });
    const code = /\?code=([0-9a-z]{45})/.exec(mails.at(-1) ?? '')?.[1] ?? '';
    assert.is(code.length, 45);
    assert.is(code.slice(6), sent.nonce);
    signInCodes.push(code, code.slice(0, 6));
    await ok('POST', '/api/v1/auth/otp/sign-in/check-code', clientHeaders(project), { code: 'zzzzzz' + sent.nonce });
    if (use) refreshTokens.push((await ok('POST', '/api/v1/auth/otp/sign-in', clientHeaders(project), { code })).refresh_token);
  }
  assert.is(apiKeys.length, 3);
  assert.is(refreshTokens.length, 5);
  assert.is(signInCodes.length, 4);
  assert.is(cliCodes.length, 6);
  assert.is(accessTokens.length, 12);
  assert.is(service.app.readModel.kind, 'redis', 'the read model is the Redis one');
  await service.stop();
});

test('the event log holds digests of keys, refresh tokens and CLI codes, never the secrets themselves', () => {
  const files = ['events.db', 'events.db-wal'].map((f) => join(service.dataDir, f)).filter(existsSync);
  assert.ok(files.some((f) => f.endsWith('events.db')), 'events.db exists');
  const content = Buffer.concat(files.map((f) => readFileSync(f)));
  const hasher = service.app.hasher;
  // Proof that these bytes are the log of this run.
  assert.ok(content.includes(project.project_id), 'the project id is in the log');
  for (const key of apiKeys) assert.ok(content.includes(hasher.digest('api-key', key)), 'each key digest is in the log');
  for (const token of refreshTokens) assert.ok(content.includes(hasher.digest('refresh-token', token)), 'each refresh-token digest is in the log');
  assert.ok(content.includes(hasher.digest('polling-code', cliCodes[0]!)), 'a polling-code digest is in the log');
  assert.ok(content.includes(hasher.digest('sign-in-code', signInCodes[0]!)), 'a sign-in code digest is in the log');
  assertNoSecrets('the event log', (s) => content.includes(s));
});

test('the Redis read model holds digests of keys, refresh tokens and polling codes, never the secrets themselves', async () => {
  const { keys, dump } = await dumpRedis();
  assert.ok(keys > 0, 'the read model wrote keys under the prefix');
  const hasher = service.app.hasher;
  // Proof that the dump is the read model of this run, values included.
  assert.ok(dump.includes(project.project_id), 'the project id is in the read model');
  for (const key of apiKeys) assert.ok(dump.includes(hasher.digest('api-key', key)), 'each key digest is in the read model');
  assert.ok(dump.includes(hasher.digest('refresh-token', refreshTokens[0]!)), 'a live session\'s refresh-token digest is in the read model');
  assert.ok(dump.includes(hasher.digest('polling-code', cliCodes[3]!)), 'a pending login\'s polling-code digest is in the read model');
  assert.ok(dump.includes(hasher.digest('sign-in-code', signInCodes[2]!)), 'a live sign-in code\'s digest is in the read model');
  assert.not.ok(dump.includes(hasher.digest('refresh-token', refreshTokens[2]!)), 'the signed-out session\'s index entry is gone');
  assertNoSecrets('the Redis read model', (s) => dump.includes(s));
});

test('no access token is stored in the event log or the Redis read model', async () => {
  const files = ['events.db', 'events.db-wal'].map((f) => join(service.dataDir, f)).filter(existsSync);
  const content = Buffer.concat(files.map((f) => readFileSync(f)));
  const { dump } = await dumpRedis();
  for (const token of accessTokens) {
    const signature = signatureOf(token);
    assert.not.ok(content.includes(signature), `the event log holds an access token (${signature})`);
    assert.not.ok(dump.includes(signature), `the Redis read model holds an access token (${signature})`);
    assert.not.ok(content.includes(token) || dump.includes(token), 'an access token is stored whole');
  }
});

test.run();
