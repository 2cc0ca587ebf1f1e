// `authlog secret status` on events written before secret ids were recorded (issue #22): their
// digests are counted as unknown, and the verdict does not call the previous secret removable;
// an email reservation among them is re-checked against its holder's sealed email instead.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config.ts';
import { openEventStore, openLog } from '../src/backends.ts';
import { createHasher } from '../src/crypto/digests.ts';
import { subjects } from '../src/crypto/sealed.ts';
import { secretStatus } from '../src/audit/secret-status.ts';
import { NO_STREAM, type NewEvent } from '../src/store/event-store.ts';

const OLD = 'old-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123';
const NEW = 'new-secret-0123456789-abcdefghijklmnopqrstuvwxyz-4567';
const dir = mkdtempSync(join(tmpdir(), 'authlog-secret-unknown-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('events without a secret id count as unknown, and an email reservation among them is re-checked against its sealed email', async () => {
  const config = loadConfig({ AUTHLOG_DATA_DIR: dir, AUTHLOG_SECRET: NEW, AUTHLOG_SECRET_PREVIOUS: OLD, LOG_LEVEL: 'silent' });
  const log = openLog(config);
  // Appended to the store directly, as a process before secret ids did: no secretId in the metadata.
  const raw = openEventStore(config);
  try {
    const old = createHasher(OLD);
    const projectId = randomUUID();
    const userId = randomUUID();
    const occurredAt = new Date().toISOString();
    const ev = (type: string, data: unknown): NewEvent => ({ id: randomUUID(), type, data, metadata: { occurredAt } });
    const key = (name: string) => ({ id: randomUUID(), digest: old.digest('api-key', name) });
    await raw.append(`project-${projectId}`, [ev('ProjectCreated', { projectId, name: 'pre', trustedDomains: [], keys: { publishableClientKey: key('c'), secretServerKey: key('s'), superSecretAdminKey: key('a') } })], NO_STREAM);
    const emailDigest = old.digest('email', 'pre@example.com');
    await raw.append(`userEmail-${projectId}.${emailDigest}`, [ev('UserEmailReserved', { projectId, userId })], NO_STREAM);
    const primaryEmail = await log.personal.seal(subjects.user(userId), 'Pre@Example.com');
    await raw.append(`user-${userId}`, [ev('UserCreated', { userId, projectId, primaryEmail, primaryEmailVerified: false, displayName: null, signedUpAtMillis: Date.now(), origin: 'api' })], NO_STREAM);

    const status = await secretStatus(log, Date.now());
    const row = (kind: string) => status.kinds.find((k) => k.kind === kind);
    assert.equal(row('project API keys'), { kind: 'project API keys', current: 0, previous: 0, unknown: 3, neither: 0 });
    assert.equal(row('email reservations'), { kind: 'email reservations', current: 0, previous: 1, unknown: 0, neither: 0 }, 'found under the old secret by re-digesting the opened email');
    assert.equal(row('data keys'), { kind: 'data keys', current: 1, previous: 0, unknown: 0, neither: 0 });
    assert.is(status.previousRemovable, false, 'unknown may depend on the previous secret');
  } finally {
    await raw.close();
    await log.close();
  }
});

test.run();
