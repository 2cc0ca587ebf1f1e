// Retention on an embedded log (#21): `authlog log prune` removes whole expired ephemeral streams
// (CLI attempts, login-code reservations, sign-in codes) and nothing else; a Redis read model
// restarted afterwards is not rebuilt; expired codes stay dead and fresh ones work; and the size
// of a log of 100k initiations before and after.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { createAdjustableClock } from '../src/clock.ts';
import { createLogger } from '../src/log.ts';
import { loadConfig } from '../src/config.ts';
import { openLog, openReadModel, sqlitePath } from '../src/backends.ts';
import { logCommand } from '../src/cli/log-command.ts';
import { openSqliteEventStore } from '../src/store/sqlite-event-store.ts';
import type { RecordedEvent } from '../src/store/event-store.ts';
import { judgeReadModel } from '../src/projections/read-model-verdict.ts';
import { projectionFilter } from '../src/projections/all-projections.ts';
import { FOREIGN_READ_MODEL_MSG } from '../src/projections/read-model-ownership.ts';
import { auditImpersonations } from '../src/audit/impersonation-audit.ts';
import { isEphemeralStream } from '../src/events/ephemeral-streams.ts';
import { pruneSqliteLog } from '../src/store/sqlite-prune.ts';
import { INTEGRITY_STREAM, PRUNE_EVENT } from '../src/integrity/integrity-records.ts';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { signInPerson } from './support/sign-in-person.ts';
import { clientHeaders, deleteRedisKeys, serverHeaders, startTestService, testEventStore, type TestService } from './support/service.ts';
import { testRedisUrl } from './support/redis-check.ts';
import { writeBulkInitiations, type TemplateRow } from './support/bulk-log.ts';

const DAY_MS = 24 * 3600_000;
// Frozen at the real time (Redis expires entries by its own clock), moved only by the tests.
const frozenAt = Date.now();
const clock = createAdjustableClock(() => frozenAt);
const redisEnv = { REDIS_URL: testRedisUrl(), REDIS_PREFIX: `authlog-test-prune-${randomUUID().slice(0, 8)}`, PRUNE_INTERVAL_MINUTES: '0' };
const warnings: string[] = [];
const logger = { ...createLogger('silent'), warn: (msg: string) => void warnings.push(msg) };
let service: TestService;
let project: CreatedProject;

const onSqlite = testEventStore() === 'sqlite';

async function start(dataDir?: string): Promise<void> {
  service = await startTestService(redisEnv, { clock: clock.now, log: logger, ...(dataDir ? { dataDir } : {}) });
}

const initiate = async () => (await service.request('POST', '/api/v1/auth/cli', { headers: clientHeaders(project), body: {} })).json as { login_code: string; polling_code: string };
async function browserSession(): Promise<{ refresh_token: string }> {
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: {} });
  return (await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: user.json.id } })).json;
}
const complete = (loginCode: string, refreshToken: string) =>
  service.request('POST', '/api/v1/auth/cli/complete', { headers: clientHeaders(project), body: { login_code: loginCode, refresh_token: refreshToken } });

function readLog(path: string): RecordedEvent[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT * FROM events ORDER BY position').all() as { position: number; stream_id: string; revision: number; event_id: string; type: string; data: string; metadata: string }[]).map((r) => ({
      id: r.event_id,
      type: r.type,
      data: JSON.parse(r.data),
      metadata: JSON.parse(r.metadata),
      streamId: r.stream_id,
      revision: BigInt(r.revision),
      position: BigInt(r.position),
    }));
  } finally {
    db.close();
  }
}

async function prune(): Promise<Record<string, number>> {
  const out: string[] = [];
  await logCommand(loadConfig({ AUTHLOG_DATA_DIR: service.dataDir, ...redisEnv, EPHEMERAL_RETENTION_HOURS: '48' }), ['prune', '--json'], { out: (l) => out.push(l), err: () => {}, isTty: false }, clock.now);
  return JSON.parse(out[0] ?? '{}');
}

test('pruning removes exactly the expired CLI attempts, reservations and sign-in codes; a Redis read model restarted after it is not rebuilt; expired codes stay dead, fresh ones work', async () => {
  if (!onSqlite) return; // the embedded log only: EventStoreDB retention is in store-esdb-retention.test.ts
  await start();
  project = await service.createProject('prune');
  // What must survive: a person signed in with a code (user, session, signInEmail), an
  // impersonation session, a CLI login approved and claimed (a session derived from the browser's).
  const person = await signInPerson(service.app, project.project_id, 'ada@example.com');
  await service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: person.userId, is_impersonation: true } });
  const browser = await browserSession();
  const claimed = await initiate();
  const completed = await complete(claimed.login_code, browser.refresh_token);
  assert.is(completed.status, 200, completed.text);
  assert.is((await service.request('POST', '/api/v1/auth/cli/poll', { headers: clientHeaders(project), body: { polling_code: claimed.polling_code } })).json.status, 'completed');
  const pending = await initiate();
  // The last event the read model projects: an attempt that will be long expired at pruning time.
  const last = await initiate();
  await service.stop();

  const path = sqlitePath(service.config);
  // Another process writes after the read model stopped (the read model does not see it): the
  // attempt above is no longer the log's newest event, only the read model's checkpoint event.
  const other = openSqliteEventStore(path);
  await other.append(`authlogTest-${randomUUID()}`, [{ id: randomUUID(), type: 'TestNote', data: {}, metadata: { occurredAt: new Date(clock.now()).toISOString() } }], 'no_stream');
  await other.close();

  clock.advance(3 * DAY_MS);
  const before = readLog(path);
  const lastAttempt = [...before].reverse().find((e) => e.type === 'CliAuthInitiated')!.streamId;
  const opened = openLog(loadConfig({ AUTHLOG_DATA_DIR: service.dataDir, LOG_LEVEL: 'silent' }));
  const auditBefore = await auditImpersonations(opened.store, opened.personal, {}, clock.now());
  await opened.close();

  const report = await prune();

  // The prune appends its own record (what it removed, signed: #25's tamper evidence); all else is as before.
  const recorded = readLog(path);
  assert.equal(recorded.filter((e) => e.streamId === INTEGRITY_STREAM).map((e) => e.type), [PRUNE_EVENT]);
  const after = recorded.filter((e) => e.streamId !== INTEGRITY_STREAM);
  const expectedGone = new Set(before.filter((e) => isEphemeralStream(e.streamId) && e.streamId !== lastAttempt).map((e) => e.streamId));
  // The sign-in code, the 3 attempts' reservations, 2 of the attempts (not the checkpoint's).
  assert.is(expectedGone.size, 6, [...expectedGone].join(' '));
  const stayed = after.filter((e) => expectedGone.has(e.streamId)).map((e) => `${e.streamId} ${e.type} ${JSON.stringify(e.data)}`);
  assert.equal(stayed, [], 'every expired stream goes');
  assert.equal(
    after.map((e) => e.id),
    before.filter((e) => !expectedGone.has(e.streamId)).map((e) => e.id),
    'every other event stays, at its position',
  );
  assert.equal(after, before.filter((e) => !expectedGone.has(e.streamId)));
  assert.ok(after.some((e) => e.streamId === lastAttempt), 'the read model checkpoint event stream is kept');
  assert.is(report.streams, expectedGone.size);
  assert.is(report.events, before.length - after.length);
  const reopened = openLog(loadConfig({ AUTHLOG_DATA_DIR: service.dataDir, LOG_LEVEL: 'silent' }));
  assert.equal((await auditImpersonations(reopened.store, reopened.personal, {}, clock.now())).rows, auditBefore.rows, 'the audit reads the same rows');

  // The read model still answers for this log: its checkpoint event is there.
  const readModel = openReadModel(loadConfig(redisEnv), clock.now);
  assert.is((await judgeReadModel(reopened.store, readModel, projectionFilter)).verdict, 'same log');
  await Promise.all([readModel.close(), reopened.close()]);

  warnings.length = 0;
  await start(service.dataDir);
  assert.not.ok(warnings.includes(FOREIGN_READ_MODEL_MSG), 'the read model was not rebuilt');
  const fresh = await browserSession();
  assert.is((await complete(pending.login_code, fresh.refresh_token)).json?.code, 'INVALID_LOGIN_CODE', 'a pruned, expired code stays dead');
  assert.is((await complete(last.login_code, fresh.refresh_token)).json?.code, 'INVALID_LOGIN_CODE');
  const live = await initiate();
  assert.is((await complete(live.login_code, fresh.refresh_token)).status, 200, 'a fresh code works');
  await service.stop();
  await service.remove();
});

test('pruning never removes a live or unexpired stream, nor the stream of the log\'s newest event', async () => {
  if (!onSqlite) return;
  await start();
  project = await service.createProject('prune-newest');
  await initiate();
  const path = sqlitePath(service.config);
  await service.stop();
  const before = readLog(path);
  // One day past expiry, the grace is two: nothing goes.
  assert.is((await pruneSqliteLog(path, { nowMs: clock.now() + DAY_MS, graceMs: 2 * DAY_MS })).events, 0);
  // Long past: the reservation goes, the attempt (the newest event of the log) stays.
  const report = await pruneSqliteLog(path, { nowMs: clock.now() + 10 * DAY_MS, graceMs: 2 * DAY_MS });
  const after = readLog(path);
  assert.is(report.streams, 1);
  assert.equal(after, before.filter((e) => !e.streamId.startsWith('cliLoginCode-')));
  assert.is(after.at(-1)?.position, before.at(-1)?.position);
  await service.remove();
});

test('figure: log bytes after 100k CLI initiations, before and after pruning', async () => {
  if (!onSqlite) return;
  await start();
  project = await service.createProject('prune-figure');
  await initiate();
  await service.stop();
  const path = sqlitePath(service.config);
  const template = readLog(path).filter((e) => e.streamId.startsWith('cliAuth-') || e.streamId.startsWith('cliLoginCode-'));
  const attempt = template.find((e) => e.type === 'CliAuthInitiated')!.data as { cliAuthId: string; loginCodeDigest: string };
  const rows: TemplateRow[] = template.map((e) => ({ stream_id: e.streamId, type: e.type, data: JSON.stringify(e.data), metadata: JSON.stringify(e.metadata) }));
  const count = 100_000;
  writeBulkInitiations(path, count, rows, attempt.cliAuthId, attempt.loginCodeDigest);
  // Something that stays, written last: the newest event of the log.
  const other = openSqliteEventStore(path);
  await other.append(`authlogTest-${randomUUID()}`, [{ id: randomUUID(), type: 'TestNote', data: {}, metadata: { occurredAt: new Date(clock.now()).toISOString() } }], 'no_stream');
  await other.close();
  const started = performance.now();
  const report = await pruneSqliteLog(path, { nowMs: clock.now() + 3 * DAY_MS, graceMs: 2 * DAY_MS });
  const ms = Math.round(performance.now() - started);
  assert.is(report.streams, 2 * (count + 1));
  assert.ok(report.bytesAfter < report.bytesBefore / 20, `${report.bytesBefore} -> ${report.bytesAfter}`);
  const mb = (b: number) => (b / 1e6).toFixed(1);
  console.log(`  # retention: log after ${count} CLI initiations ${mb(report.bytesBefore)} MB (${Math.round(report.bytesBefore / count)} B each); after pruning ${(report.bytesAfter / 1e3).toFixed(0)} kB (${report.events} events of ${report.streams} streams removed, vacuumed, in ${ms} ms)`);
  await service.remove();
});

test.after(() => deleteRedisKeys(redisEnv.REDIS_URL, redisEnv.REDIS_PREFIX));

test.run();
