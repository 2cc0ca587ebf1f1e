// Starts the real service in-process on an ephemeral loopback port, with a temp data dir, a
// recording mailer (to learn the sign-in codes it sends) and an adjustable clock (to step over
// rate-limit windows), and creates a project to drive.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.ts';
import { startService, type RunningService } from '../src/main.ts';
import { createAdjustableClock, type AdjustableClock } from '../src/clock.ts';
import type { Mailer, OutgoingMail } from '../src/mail/mailer.ts';
import { changeProject } from '../src/commands/project/change-project.ts';
import { createProject, type CreatedProject } from '../src/commands/project/create-project.ts';
import { systemOrigin } from '../src/app-context.ts';
import { post } from './post.ts';

export type ReadModelKind = 'memory' | 'redis';

/** Keeps every mail; the sign-in code is the `code` parameter of the link in it. */
export interface RecordingMailer extends Mailer {
  readonly sent: OutgoingMail[];
  /** The code of the last mail to this address. */
  codeFor(email: string): string | undefined;
}

export function createRecordingMailer(): RecordingMailer {
  const sent: OutgoingMail[] = [];
  return {
    sent,
    async send(mail) {
      sent.push(mail);
    },
    async close() {},
    codeFor(email) {
      for (let i = sent.length - 1; i >= 0; i--) {
        const mail = sent[i]!;
        if (mail.to !== email) continue;
        const link = /https?:\/\/\S+/.exec(mail.text)?.[0];
        return link ? (new URL(link).searchParams.get('code') ?? undefined) : undefined;
      }
      return undefined;
    },
  };
}

export const TRUSTED_ORIGIN = 'http://localhost:3000';

export interface BenchService extends RunningService {
  readModelKind: ReadModelKind;
  dataDir: string;
  redisPrefix: string | undefined;
  clock: AdjustableClock;
  mailer: RecordingMailer;
  project: CreatedProject;
  clientHeaders: Record<string, string>;
  serverHeaders: Record<string, string>;
  /** Closes the service, deletes its data dir and its Redis keys. */
  remove(): Promise<void>;
}

/** A prefix of our own, never the default one, so that the bench never touches other data. */
export const uniqueRedisPrefix = (what: string): string => `authlog-bench-${what}-${process.pid}-${randomBytes(4).toString('hex')}`;

/** Prefixes in use, so that an interrupted run (Ctrl-C) can still delete their keys. */
const prefixesInUse = new Map<string, string>();

export function trackRedisPrefix(url: string, prefix: string): void {
  prefixesInUse.set(prefix, url);
}

/** Deletes the keys of every prefix still in use (on an interrupted run). */
export async function deleteTrackedRedisKeys(): Promise<void> {
  await Promise.allSettled([...prefixesInUse].map(([prefix, url]) => deleteRedisKeys(url, prefix)));
}

export async function startBenchService(readModelKind: ReadModelKind, redisUrl?: string): Promise<BenchService> {
  const dataDir = mkdtempSync(join(tmpdir(), 'authlog-bench-'));
  const redisPrefix = readModelKind === 'redis' ? uniqueRedisPrefix('service') : undefined;
  if (readModelKind === 'redis' && !redisUrl) throw new Error('the Redis round needs REDIS_URL');
  if (redisUrl && redisPrefix) trackRedisPrefix(redisUrl, redisPrefix);
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    AUTHLOG_DATA_DIR: dataDir,
    AUTHLOG_SECRET: randomBytes(36).toString('base64'),
    LOG_LEVEL: 'silent',
    ...(redisPrefix && redisUrl ? { REDIS_URL: redisUrl, REDIS_PREFIX: redisPrefix } : {}),
  });
  const clock = createAdjustableClock();
  const mailer = createRecordingMailer();
  const service = await startService(config, { clock: clock.now, mailer });
  let project: CreatedProject;
  try {
    project = await createProject(service.app, { name: 'bench', trustedDomains: [TRUSTED_ORIGIN] }, systemOrigin('bench'));
    // The load comes from one address at a rate no client would keep up: the limits on starting
    // CLI logins (30 per address per 10 min) would answer the fixtures and the initiate pass 429.
    const unlimited = { limit: 1_000_000, windowMs: 1000 };
    const raised = await changeProject(
      service.app,
      { type: 'SetRateLimits', projectId: project.project_id, rateLimits: { 'cli-initiations-per-address': unlimited, 'cli-initiations-per-project': unlimited } },
      systemOrigin('bench'),
    );
    if (raised.position !== undefined) await service.app.projections.waitFor(raised.position, 5000);
  } catch (error) {
    await service.close();
    throw error;
  }
  let removed: Promise<void> | undefined;
  return {
    ...service,
    readModelKind,
    dataDir,
    redisPrefix,
    clock,
    mailer,
    project,
    clientHeaders: { 'x-stack-project-id': project.project_id, 'x-stack-publishable-client-key': project.publishable_client_key },
    serverHeaders: { 'x-stack-project-id': project.project_id, 'x-stack-secret-server-key': project.secret_server_key },
    remove: () =>
      (removed ??= (async () => {
        await service.close();
        rmSync(dataDir, { recursive: true, force: true });
        if (redisUrl && redisPrefix) await deleteRedisKeys(redisUrl, redisPrefix);
      })()),
  };
}

/** POSTs and insists on a 2xx. */
export async function postOk(baseUrl: string, path: string, headers: Record<string, string>, body: unknown): Promise<any> {
  const answer = await post(baseUrl, path, headers, body);
  if (answer.status < 200 || answer.status > 299) throw new Error(`POST ${path} answered ${answer.status}: ${JSON.stringify(answer.json).slice(0, 300)}`);
  return answer.json;
}

/** Runs `fn` for 0..count-1 with at most `concurrency` at a time. */
export async function inParallel<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

export async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key under `prefix:` (SCAN + UNLINK, never KEYS). */
export async function deleteRedisKeys(url: string, prefix: string): Promise<number> {
  if (!prefix.startsWith('authlog-bench-')) throw new Error(`refusing to delete keys outside the bench's prefixes: ${prefix}`);
  prefixesInUse.delete(prefix);
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** Redis's own CPU time so far (user + system, seconds), from INFO cpu. */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

export const rssMb = (): number => process.memoryUsage().rss / 1024 / 1024;
