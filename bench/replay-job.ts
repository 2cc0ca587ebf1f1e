// One replay or start-up measurement, run in a fresh child process (bench/child.ts forks it) so
// that its RSS is its own: the parent has served load and held other read models by then.
// The job comes as JSON in argv[2]; the result goes back over IPC.
import { ProjectionRunner } from '../src/projections/runner.ts';
import { allProjectors, projectionFilter } from '../src/projections/all-projections.ts';
import { openSqliteEventStore } from '../src/store/sqlite-event-store.ts';
import { createMemoryReadModel } from '../src/readmodel/memory-read-model.ts';
import { createRedisReadModel } from '../src/readmodel/redis-read-model.ts';
import { loadConfig } from '../src/config.ts';
import { startService } from '../src/main.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SNAPSHOT_FILE } from '../src/readmodel/memory-snapshot.ts';
import { auditImpersonations } from '../src/audit/impersonation-audit.ts';
import type { PersonalData } from '../src/crypto/personal-data.ts';
import { walkingEveryPosition } from '../test/support/walking-store.ts';
import { TYPE_INDEX } from '../src/store/sqlite-type-read.ts';

export type ReplayJob =
  /** A ProjectionRunner over the SQLite log, start() on a fresh read model: catch-up from the first event. */
  | { kind: 'replay'; readModel: 'memory' | 'redis'; dbPath: string; redisUrl?: string; redisPrefix?: string }
  /** startService over an existing data dir (the memory read model is rebuilt at every start). */
  | { kind: 'start'; dataDir: string; secret: string; redisUrl?: string; redisPrefix?: string }
  /** The impersonation audit over a log of test/support/bulk-log.ts writeBulkAuditLog, read by type and by walking every position. */
  | { kind: 'audit'; dbPath: string };

export interface ReplayJobResult {
  ms: number;
  /** Position of the last applied event. */
  checkpoint: string;
  rssBytes: number;
  heapUsedBytes: number;
  /** V8 heap reserved (used or not), and memory outside it (Buffers, native). */
  heapTotalBytes: number;
  externalBytes: number;
  /** V8 heap still used after a full GC: what the process really retains. */
  heapRetainedBytes: number;
  /** A start-up: whether the data dir held a read-model snapshot when it began. */
  fromSnapshot?: boolean;
  /** An audit: its rows and the events it read; the same audit walking every position; building the type index on open. */
  audit?: { rows: number; eventsRead: number; walkMs: number; indexBuildMs: number };
}

/** Measured after the RSS: a forced GC would make the RSS look better than the process ran. */
function retainedHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return Number.NaN;
  gc();
  return process.memoryUsage().heapUsed;
}

function memory(): Omit<ReplayJobResult, 'ms' | 'checkpoint' | 'heapRetainedBytes'> {
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external };
}

async function runReplay(job: Extract<ReplayJob, { kind: 'replay' }>): Promise<ReplayJobResult> {
  const store = openSqliteEventStore(job.dbPath);
  const readModel =
    job.readModel === 'redis'
      ? createRedisReadModel({ url: job.redisUrl ?? 'redis://127.0.0.1:6379', prefix: job.redisPrefix ?? 'authlog-bench', now: Date.now })
      : createMemoryReadModel({ now: Date.now });
  const runner = new ProjectionRunner({ store, readModel, projector: allProjectors, filter: projectionFilter });
  const started = performance.now();
  await runner.start();
  const ms = performance.now() - started;
  const used = memory();
  const heapRetainedBytes = retainedHeap();
  const checkpoint = String(runner.appliedPosition);
  await runner.stop();
  await Promise.allSettled([store.close(), readModel.close()]);
  return { ms, checkpoint, ...used, heapRetainedBytes };
}

async function runStart(job: Extract<ReplayJob, { kind: 'start' }>): Promise<ReplayJobResult> {
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    AUTHLOG_DATA_DIR: job.dataDir,
    AUTHLOG_SECRET: job.secret,
    LOG_LEVEL: 'silent',
    ...(job.redisUrl ? { REDIS_URL: job.redisUrl, REDIS_PREFIX: job.redisPrefix ?? 'authlog-bench' } : {}),
  });
  const fromSnapshot = existsSync(join(job.dataDir, SNAPSHOT_FILE));
  const started = performance.now();
  const service = await startService(config);
  const ms = performance.now() - started;
  const ready = await fetch(`${service.url}/ready`);
  if (!ready.ok) throw new Error(`/ready answered ${ready.status} after start-up`);
  await ready.text();
  const used = memory();
  const heapRetainedBytes = retainedHeap();
  const checkpoint = String(service.app.projections.appliedPosition);
  await service.close();
  return { ms, checkpoint, ...used, heapRetainedBytes, fromSnapshot };
}

// The bulk audit log holds addresses in plain text (no sealing store wrote it): shown as they are.
const plainPersonal = { show: async (value: unknown) => value } as unknown as PersonalData;

/** The audit as `authlog audit impersonations` runs it, after timing the index build a file from before it gets at its first writable open. */
async function runAudit(job: Extract<ReplayJob, { kind: 'audit' }>): Promise<ReplayJobResult> {
  const raw = new Database(job.dbPath);
  raw.exec(`DROP INDEX IF EXISTS ${TYPE_INDEX}`);
  raw.close();
  const opening = performance.now();
  const store = openSqliteEventStore(job.dbPath);
  const indexBuildMs = performance.now() - opening;
  try {
    const now = Date.now();
    const started = performance.now();
    const { rows, eventsRead } = await auditImpersonations(store, plainPersonal, {}, now);
    const ms = performance.now() - started;
    const used = memory();
    const walkStarted = performance.now();
    const walked = await auditImpersonations(walkingEveryPosition(store), plainPersonal, {}, now);
    const walkMs = performance.now() - walkStarted;
    if (walked.rows.length !== rows.length) throw new Error(`the audit by type gave ${rows.length} rows, walking every position ${walked.rows.length}`);
    return { ms, checkpoint: String(await store.headPosition()), ...used, heapRetainedBytes: retainedHeap(), audit: { rows: rows.length, eventsRead, walkMs, indexBuildMs } };
  } finally {
    await store.close();
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as ReplayJob;
const send = (message: unknown) => new Promise<void>((resolve) => (process.send ? process.send(message, () => resolve()) : resolve()));
try {
  const result = job.kind === 'replay' ? await runReplay(job) : job.kind === 'start' ? await runStart(job) : await runAudit(job);
  await send({ ok: true, result });
} catch (error) {
  await send({ ok: false, error: (error as Error).stack ?? String(error) });
  process.exitCode = 1;
}
process.disconnect?.();
