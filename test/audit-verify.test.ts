// Tamper evidence (#25), end to end: a log written by the service, checkpointed by `authlog audit
// checkpoint`, then tampered with in the SQLite file directly, as someone with file access but
// without the secret would; `authlog audit verify` (spawned) must exit non-zero and name the break
// and its position. An untouched log verifies, also after an erasure, a prune and a reseal.
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { clientHeaders, serverHeaders, startTestService, testEventStore } from './support/service.ts';
import { runAuthlog } from './support/spawn-authlog.ts';
import { loadConfig } from '../src/config.ts';
import { logCommand } from '../src/cli/log-command.ts';
import { openSqliteEventStore } from '../src/store/sqlite-event-store.ts';
import { ANY } from '../src/store/event-store.ts';
import type { EventRow } from '../src/store/sqlite-rows.ts';
import { streamName } from '../src/events/streams.ts';

const onSqlite = testEventStore() === 'sqlite';
const root = mkdtempSync(join(tmpdir(), 'authlog-verify-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const quiet = { CHECKPOINT_INTERVAL_SECONDS: '0', CHECKPOINT_EVERY_EVENTS: '0', PRUNE_INTERVAL_MINUTES: '0' };

type Row = EventRow;

function withDb<T>(dir: string, body: (db: Database.Database) => T): T {
  const db = new Database(join(dir, 'events.db'));
  db.defaultSafeIntegers(true);
  try {
    return body(db);
  } finally {
    db.close();
  }
}
const rows = (dir: string): Row[] => withDb(dir, (db) => db.prepare('SELECT * FROM events ORDER BY position').all() as Row[]);
const verify = (dir: string, ...args: string[]) => runAuthlog(['audit', 'verify', ...args], { AUTHLOG_DATA_DIR: dir });
const checkpoint = (dir: string, ...args: string[]) => runAuthlog(['audit', 'checkpoint', ...args], { AUTHLOG_DATA_DIR: dir });
let caseNo = 0;
const copyOf = (dir: string): string => {
  const copy = join(root, `case-${++caseNo}`);
  cpSync(dir, copy, { recursive: true });
  return copy;
};

/** A log as the service writes it: a project, people with sessions refreshed, a CLI attempt. */
async function serviceLog(): Promise<{ dir: string; userIds: string[] }> {
  const dir = join(root, `log-${randomUUID().slice(0, 8)}`);
  const service = await startTestService(quiet, { dataDir: dir });
  const project = await service.createProject('verify');
  const userIds: string[] = [];
  for (const email of ['ada@verify.example', 'bob@verify.example', 'cy@verify.example']) {
    const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: email, display_name: email.split('@')[0] } });
    userIds.push(user.json.id);
    const session = await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } });
    for (let i = 0; i < 2; i++) {
      const refreshed = await service.request('POST', '/api/v1/auth/sessions/current/refresh', { headers: { ...clientHeaders(project), 'x-stack-refresh-token': session.json.refresh_token } });
      assert.is(refreshed.status, 200, refreshed.text);
    }
  }
  await service.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project), body: {} });
  await service.stop();
  return { dir, userIds };
}

async function expectBreak(dir: string, kind: string, position: bigint, ...args: string[]): Promise<void> {
  const run = await verify(dir, ...args);
  assert.is(run.code, 1, `verify should fail: ${run.stdout}${run.stderr}`);
  assert.match(run.stdout, new RegExp(`^BROKEN: ${kind} at position ${position}\\b`), run.stdout);
}

test('a checkpointed log, tampered with in each way, fails verify with the break and its position', async () => {
  if (!onSqlite) return;
  const { dir, userIds } = await serviceLog();
  const made = await checkpoint(dir);
  assert.is(made.code, 0, made.stderr);
  const exported = await checkpoint(dir, '--export');
  assert.is(exported.code, 0, exported.stderr);
  const exportedFile = join(root, 'exported.json');
  writeFileSync(exportedFile, exported.stdout);

  const untouched = await verify(dir);
  assert.is(untouched.code, 0, untouched.stdout + untouched.stderr);
  assert.match(untouched.stdout, /^intact: \d+ events/);
  const all = rows(dir);
  // A session stream: created, then its use recorded.
  const session = all.filter((r) => r.stream_id === all.find((x) => x.stream_id.startsWith('session-'))!.stream_id);
  assert.ok(session.length >= 2, `a session with ${session.length} events`);
  const [first, second] = session as [Row, Row];

  // One byte of an event's data.
  const edited = copyOf(dir);
  withDb(edited, (db) => db.prepare('UPDATE events SET data = ? WHERE position = ?').run(first.data.replace(/\d(?=\D*$)/, (d) => String((Number(d) + 1) % 10)), first.position));
  await expectBreak(edited, 'changed', first.position);

  // One event deleted.
  const deleted = copyOf(dir);
  withDb(deleted, (db) => db.prepare('DELETE FROM events WHERE position = ?').run(second.position));
  await expectBreak(deleted, 'missing', second.position);

  // Two events of a stream swapped.
  const swapped = copyOf(dir);
  withDb(swapped, (db) =>
    db.transaction(() => {
      const set = db.prepare('UPDATE events SET event_id = ?, type = ?, data = ?, metadata = ? WHERE position = ?');
      set.run(`tmp-${randomUUID()}`, first.type, first.data, first.metadata, first.position);
      set.run(first.event_id, first.type, first.data, first.metadata, second.position);
      set.run(second.event_id, second.type, second.data, second.metadata, first.position);
    })(),
  );
  await expectBreak(swapped, 'reordered', first.position);

  // A person's stream deleted whole (no link anywhere breaks: the checkpoint's count does).
  const userStream = streamName('user', userIds[1]!);
  const userRows = all.filter((r) => r.stream_id === userStream);
  const noStream = copyOf(dir);
  withDb(noStream, (db) => db.prepare('DELETE FROM events WHERE stream_id = ?').run(userStream));
  await expectBreak(noStream, 'stream deleted', userRows[0]!.position);

  // The tail truncated, checkpoint and all: only a checkpoint kept elsewhere shows it.
  const cut = all.at(-4)!.position;
  const truncated = copyOf(dir);
  withDb(truncated, (db) => db.prepare('DELETE FROM events WHERE position > ?').run(cut));
  await expectBreak(truncated, 'truncated', cut + 1n, '--checkpoint', exportedFile);

  // A checkpoint edited: its signature no longer holds.
  const forged = copyOf(dir);
  const checkpointRow = rows(dir).at(-1)!;
  withDb(forged, (db) => db.prepare('UPDATE events SET data = ? WHERE position = ?').run(checkpointRow.data.replace(/"events":(\d+)/, (_, n) => `"events":${Number(n) + 1}`), checkpointRow.position));
  await expectBreak(forged, 'forged', checkpointRow.position);

  // The exported checkpoint checks with the published keys alone.
  const keysFile = join(root, 'keys.json');
  writeFileSync(keysFile, (await checkpoint(dir, '--show-keys')).stdout);
  const checked = await runAuthlog(['audit', 'checkpoint', '--verify', exportedFile, '--keys', keysFile], { AUTHLOG_DATA_DIR: join(root, 'elsewhere') });
  assert.is(checked.code, 0, checked.stderr);
  assert.match(checked.stdout, /^valid: checkpoint of log/);
});

test('an untouched log verifies after an erasure, a prune and a reseal; an ephemeral stream deleted unrecorded does not', async () => {
  if (!onSqlite) return;
  const { dir, userIds } = await serviceLog();
  // Legacy events, written before chaining and sealing, with plain personal data.
  const raw = openSqliteEventStore(join(dir, 'events.db'));
  const legacyUser = randomUUID();
  await raw.append(streamName('user', legacyUser), [{ id: randomUUID(), type: 'UserCreated', data: { userId: legacyUser, projectId: randomUUID(), primaryEmail: 'legacy@verify.example', primaryEmailVerified: false, displayName: 'Legacy', signedUpAtMillis: Date.now(), origin: 'api' }, metadata: { occurredAt: new Date().toISOString() } }], ANY);
  await raw.close();
  assert.is((await checkpoint(dir)).code, 0);

  // Erasure: the person's key goes, the ciphertext (and every hash over it) stays.
  const service = await startTestService(quiet, { dataDir: dir });
  const project = await service.createProject('verify-erase');
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: 'erase.me@verify.example' } });
  assert.is((await service.request('DELETE', `/api/v1/users/${user.json.id}`, { headers: serverHeaders(project) })).status, 200);
  await service.stop();
  assert.is((await checkpoint(dir)).code, 0);
  let run = await verify(dir);
  assert.is(run.code, 0, `after erasure: ${run.stdout}`);

  // An ephemeral stream deleted by hand is not a prune.
  const ephemeral = rows(dir).find((r) => r.stream_id.startsWith('cliAuth-'))!;
  const handPruned = copyOf(dir);
  withDb(handPruned, (db) => db.prepare('DELETE FROM events WHERE stream_id = ?').run(ephemeral.stream_id));
  run = await verify(handPruned);
  assert.is(run.code, 1, run.stdout);
  assert.match(run.stdout, new RegExp(`^BROKEN: missing at position ${ephemeral.position}\\b`));

  // A prune, ten days on: recorded, so verify accounts for it.
  const io = { out: () => {}, err: () => {}, isTty: false };
  await logCommand(loadConfig({ AUTHLOG_DATA_DIR: dir, EPHEMERAL_RETENTION_HOURS: '48' }), ['prune', '--json'], io, () => Date.now() + 10 * 24 * 3600_000);
  assert.not.ok(rows(dir).some((r) => r.stream_id === ephemeral.stream_id), 'the expired attempt is pruned');
  run = await verify(dir);
  assert.is(run.code, 0, `after prune: ${run.stdout}`);
  assert.is((await checkpoint(dir)).code, 0);

  // A reseal of the legacy event: recorded, the checkpoints before it still hold.
  const sealed = await runAuthlog(['log', 'seal-personal-data'], { AUTHLOG_DATA_DIR: dir });
  assert.is(sealed.code, 0, sealed.stderr);
  assert.match(sealed.stdout, /sealed the personal data of [1-9]\d* of/);
  run = await verify(dir);
  assert.is(run.code, 0, `after reseal: ${run.stdout}`);
  assert.is((await checkpoint(dir)).code, 0);
  run = await verify(dir, '--json');
  assert.is(run.code, 0, run.stdout);
  const report = JSON.parse(run.stdout);
  assert.ok(report.checkpoints >= 4 && report.breaks.length === 0);
  void userIds;
});

test('checkpoint keys are published without credentials; a rotated secret keeps old checkpoints checkable, also once the previous secret is gone', async () => {
  if (!onSqlite) return;
  const [oldSecret, newSecret] = ['verify-old-secret-0123456789-abcdefghijklmnop', 'verify-new-secret-0123456789-abcdefghijklmnop'];
  const dir = join(root, 'rotation');
  const before = await startTestService({ ...quiet, AUTHLOG_SECRET: oldSecret }, { dataDir: dir });
  await before.createProject('rotation');
  await before.stop();
  assert.is((await runAuthlog(['audit', 'checkpoint'], { AUTHLOG_DATA_DIR: dir, AUTHLOG_SECRET: oldSecret })).code, 0);
  const oldExport = join(root, 'old-checkpoint.json');
  writeFileSync(oldExport, (await runAuthlog(['audit', 'checkpoint', '--export'], { AUTHLOG_DATA_DIR: dir, AUTHLOG_SECRET: oldSecret })).stdout);

  const rotated = { ...quiet, AUTHLOG_SECRET: newSecret, AUTHLOG_SECRET_PREVIOUS: oldSecret };
  const service = await startTestService(rotated, { dataDir: dir });
  const keys = await service.request('GET', '/api/v1/audit/checkpoint-keys');
  assert.is(keys.status, 200);
  assert.equal(keys.json.keys.map((k: { status: string; crv: string }) => [k.status, k.crv]), [['current', 'Ed25519'], ['previous', 'Ed25519']]);
  const checked = await runAuthlog(['audit', 'checkpoint', '--verify', oldExport, '--keys', `${service.url}/api/v1/audit/checkpoint-keys`], { AUTHLOG_DATA_DIR: join(root, 'nowhere') });
  assert.is(checked.code, 0, checked.stderr);
  await service.createProject('after rotation');
  await service.stop();
  // Written while both secrets are configured: signed by both, it hands trust on to the new key.
  assert.is((await runAuthlog(['audit', 'checkpoint'], { AUTHLOG_DATA_DIR: dir, ...rotated })).code, 0);
  const run = await runAuthlog(['audit', 'verify', '--checkpoint', oldExport], { AUTHLOG_DATA_DIR: dir, AUTHLOG_SECRET: newSecret });
  assert.is(run.code, 0, run.stdout);
  assert.match(run.stdout, /2 checkpoint\(s\)|3 checkpoint\(s\)/);
});

test.run();
