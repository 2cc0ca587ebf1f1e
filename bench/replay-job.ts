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

export type ReplayJob =
  /** A ProjectionRunner over the SQLite log, start() on a fresh read model: catch-up from the first event. */
  | { kind: 'replay'; readModel: 'memory' | 'redis'; dbPath: string; redisUrl?: string; redisPrefix?: string }
  /** startService over an existing data dir (the memory read model is rebuilt at every start). */
  | { kind: 'start'; dataDir: string; secret: string; redisUrl?: string; redisPrefix?: string };

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
  return { ms, checkpoint, ...used, heapRetainedBytes };
}

const job = JSON.parse(process.argv[2] ?? '{}') as ReplayJob;
const send = (message: unknown) => new Promise<void>((resolve) => (process.send ? process.send(message, () => resolve()) : resolve()));
try {
  const result = job.kind === 'replay' ? await runReplay(job) : await runStart(job);
  await send({ ok: true, result });
} catch (error) {
  await send({ ok: false, error: (error as Error).stack ?? String(error) });
  process.exitCode = 1;
}
process.disconnect?.();
