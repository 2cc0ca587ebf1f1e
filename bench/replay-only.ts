// Replay alone, for A/B runs of one change: `node --import tsx bench/replay-only.ts [events]`
// writes a bulk session log once (kept at BENCH_REPLAY_DB, default in the temp dir, and reused
// by later runs, so that two versions of the code replay the same file), then replays it into a
// fresh Redis prefix (REDIS_URL, default redis://127.0.0.1:6379) and into memory, each in a fresh
// child process, and prints one JSON line with events/s and RSS.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChildJob } from './child.ts';
import { writeBulkSessionLog } from '../test/support/bulk-log.ts';
import { deleteRedisKeys, uniqueRedisPrefix } from './service.ts';
import type { ReplayJob, ReplayJobResult } from './replay-job.ts';

const events = Number(process.argv[2] ?? 200_000);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const dbPath = process.env.BENCH_REPLAY_DB ?? join(tmpdir(), `authlog-replay-${events}.db`);
if (!existsSync(dbPath)) writeBulkSessionLog(dbPath, events);
const MB = 1024 * 1024;
const out: Record<string, unknown> = {};
const prefix = uniqueRedisPrefix('replay-ab');
try {
  for (const readModel of ['redis', 'memory'] as const) {
    const job: ReplayJob = { kind: 'replay', readModel, dbPath, ...(readModel === 'redis' ? { redisUrl, redisPrefix: prefix } : {}) };
    const result = await runChildJob<ReplayJobResult>('./replay-job.ts', job);
    out[readModel] = { eventsPerSecond: Math.round(events / (result.ms / 1000)), rssMb: Math.round(result.rssBytes / MB), checkpoint: result.checkpoint };
  }
} finally {
  await deleteRedisKeys(redisUrl, prefix);
}
console.log(JSON.stringify(out));
