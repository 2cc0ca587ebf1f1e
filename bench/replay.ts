// Replay and start-up over a large log: write N session events straight into a SQLite file,
// then, each in a fresh child process (bench/replay-job.ts), rebuild the read model from it
// into memory and into Redis with a ProjectionRunner, and start the service on it
// (embedded: the memory read model is rebuilt at every start; with Redis: on the read model
// the Redis replay left, already caught up).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBulkAuditLog, writeBulkSessionLog } from '../test/support/bulk-log.ts';
import { runChildJob } from './child.ts';
import type { ReplayJob, ReplayJobResult } from './replay-job.ts';
import { deleteRedisKeys, trackRedisPrefix, uniqueRedisPrefix } from './service.ts';

export interface ReplayResult {
  events: number;
  bulkWriteMs: number;
  memory: ReplayJobResult;
  redis?: ReplayJobResult;
  /** The first start on the log: no snapshot yet, the whole log replayed (its clean stop writes one). */
  startEmbedded: ReplayJobResult;
  /** The next start: from the snapshot the first one left, the tail (none) replayed. */
  startEmbeddedSnapshot: ReplayJobResult;
  startRedis?: ReplayJobResult;
  /** The impersonation audit over a log of the same size holding one impersonation session per 100 events (writeBulkAuditLog). */
  audit: ReplayJobResult;
}

const MB = 1024 * 1024;

export const eventsPerSecond = (events: number, job: Pick<ReplayJobResult, 'ms'>): number => events / (job.ms / 1000);

const runJob = (job: ReplayJob) => runChildJob<ReplayJobResult>('./replay-job.ts', job);

export async function runReplay(events: number, redisUrl: string | undefined, log: (line: string) => void): Promise<ReplayResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'authlog-bench-replay-'));
  const redisPrefix = redisUrl ? uniqueRedisPrefix('replay') : undefined;
  if (redisUrl && redisPrefix) trackRedisPrefix(redisUrl, redisPrefix);
  const describe = (what: string, r: ReplayJobResult, withRate: boolean) =>
    `  ${what.padEnd(34)} ${(r.ms / 1000).toFixed(2).padStart(7)} s` +
    (withRate ? `  ${Math.round(eventsPerSecond(events, r)).toString().padStart(7)} events/s` : ''.padEnd(18)) +
    `  RSS ${Math.round(r.rssBytes / MB)} MB (V8 heap ${Math.round(r.heapUsedBytes / MB)} MB used of ${Math.round(r.heapTotalBytes / MB)} MB, ${Math.round(r.heapRetainedBytes / MB)} MB after a full GC; external ${Math.round(r.externalBytes / MB)} MB)`;
  try {
    const bulk = writeBulkSessionLog(join(dataDir, 'events.db'), events);
    log(`  wrote ${bulk.events} session events into ${bulk.path} in ${(bulk.ms / 1000).toFixed(1)} s`);
    const checkpointOk = (what: string, r: ReplayJobResult) => {
      if (BigInt(r.checkpoint) < BigInt(events)) throw new Error(`${what} stopped at position ${r.checkpoint}, before the last of ${events} events`);
    };

    const memory = await runJob({ kind: 'replay', readModel: 'memory', dbPath: bulk.path });
    checkpointOk('memory replay', memory);
    log(describe('replay into memory', memory, true));

    let redis: ReplayJobResult | undefined;
    if (redisUrl && redisPrefix) {
      redis = await runJob({ kind: 'replay', readModel: 'redis', dbPath: bulk.path, redisUrl, redisPrefix });
      checkpointOk('Redis replay', redis);
      log(describe('replay into Redis', redis, true));
    }

    const secret = randomBytes(36).toString('base64');
    const startEmbedded = await runJob({ kind: 'start', dataDir, secret });
    checkpointOk('embedded start-up', startEmbedded);
    log(describe('startService, embedded, no snapshot', startEmbedded, true));

    const startEmbeddedSnapshot = await runJob({ kind: 'start', dataDir, secret });
    checkpointOk('embedded start-up from the snapshot', startEmbeddedSnapshot);
    if (startEmbedded.fromSnapshot || !startEmbeddedSnapshot.fromSnapshot) throw new Error('the first start found a snapshot, or the second none: the start-up figures would be mislabelled');
    log(describe('startService, embedded, from snapshot', startEmbeddedSnapshot, false));

    let startRedis: ReplayJobResult | undefined;
    if (redisUrl && redisPrefix) {
      startRedis = await runJob({ kind: 'start', dataDir, secret, redisUrl, redisPrefix });
      checkpointOk('Redis start-up', startRedis);
      log(describe('startService, Redis (caught up)', startRedis, false));
    }
    const impersonations = Math.round(events / 100);
    const auditLog = writeBulkAuditLog(join(dataDir, 'audit.db'), events, impersonations);
    const audit = await runJob({ kind: 'audit', dbPath: auditLog.path });
    const a = audit.audit;
    log(
      `  audit impersonations (${impersonations.toLocaleString('en-US')} among ${auditLog.events.toLocaleString('en-US')} events) ${(audit.ms / 1000).toFixed(2).padStart(5)} s, ` +
        `${a?.rows} rows from ${a?.eventsRead} events read by type; walking every position ${((a?.walkMs ?? NaN) / 1000).toFixed(2)} s; ` +
        `building the type index at open ${((a?.indexBuildMs ?? NaN) / 1000).toFixed(2)} s; RSS ${Math.round(audit.rssBytes / MB)} MB`,
    );
    return { events, bulkWriteMs: bulk.ms, memory, ...(redis ? { redis } : {}), startEmbedded, startEmbeddedSnapshot, ...(startRedis ? { startRedis } : {}), audit };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    if (redisUrl && redisPrefix) await deleteRedisKeys(redisUrl, redisPrefix);
  }
}
