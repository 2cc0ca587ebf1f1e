// Starts the real service in-process on an ephemeral port with its own data dir, and talks to it
// over HTTP as any client would. Each test file gets fresh state.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { testRedisUrl } from './redis-check.ts';
import { startEsdbDouble, type EsdbDouble } from './esdb-double.ts';
import { openEsdbEventStore } from '../../src/store/esdb-event-store.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { startService, type RunningService, type ServiceOptions } from '../../src/main.ts';
import { createProject, type CreatedProject } from '../../src/commands/project/create-project.ts';
import { systemOrigin } from '../../src/app-context.ts';

export interface TestService extends RunningService {
  dataDir: string;
  config: Config;
  /** Closes the service; the data dir (and Redis keys) stay until `remove`. */
  stop(): Promise<void>;
  /** Deletes the data dir, and the Redis keys when the test ran on Redis. */
  remove(): Promise<void>;
  request(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  createProject(name?: string, trustedDomains?: string[]): Promise<CreatedProject>;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** A value is sent as JSON; a string is sent as it is. */
  body?: unknown;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body (undefined when the body is not JSON). */
  json: any;
}

/**
 * `npm test` runs the HTTP suites twice: on the embedded memory read model, and again with
 * AUTHLOG_TEST_READ_MODEL=redis on the Redis read model (each service under its own prefix).
 */
export const testReadModel = (): 'memory' | 'redis' => (process.env.AUTHLOG_TEST_READ_MODEL === 'redis' ? 'redis' : 'memory');

/** A prefix per data dir, so that a restart on the same data dir finds its read model again. */
const redisPrefixFor = (dataDir: string): string => `authlog-test-http-${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`;

export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * With AUTHLOG_TEST_EVENT_STORE=esdb-double the HTTP suites run on the EventStoreDB adapter,
 * against the gRPC double of EventStoreDB (one per data dir, so a restart finds its log again);
 * with =eventstoredb, against the real server at EVENTSTORE_URL.
 */
export const testEventStore = (): 'sqlite' | 'esdb-double' | 'eventstoredb' => {
  const chosen = process.env.AUTHLOG_TEST_EVENT_STORE;
  return chosen === 'esdb-double' || chosen === 'eventstoredb' ? chosen : 'sqlite';
};
const doubles = new Map<string, EsdbDouble>();
const TEST_SECRET = 'authlog-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

export async function startTestService(env: Record<string, string> = {}, options: ServiceOptions & { dataDir?: string } = {}): Promise<TestService> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'authlog-test-'));
  const onRedis = testReadModel() === 'redis' && env.REDIS_URL === undefined;
  const redisEnv: Record<string, string> = onRedis ? { REDIS_URL: testRedisUrl(), REDIS_PREFIX: redisPrefixFor(dataDir) } : {};
  const onDouble = testEventStore() === 'esdb-double' && env.EVENTSTORE_URL === undefined;
  let storeEnv: Record<string, string> = {};
  if (testEventStore() === 'eventstoredb' && env.EVENTSTORE_URL === undefined) {
    if (!process.env.EVENTSTORE_URL) throw new Error('AUTHLOG_TEST_EVENT_STORE=eventstoredb needs EVENTSTORE_URL');
    storeEnv = { EVENTSTORE_URL: process.env.EVENTSTORE_URL, AUTHLOG_SECRET: TEST_SECRET };
  }
  if (onDouble) {
    let double = doubles.get(dataDir);
    if (!double) {
      double = await startEsdbDouble();
      doubles.set(dataDir, double);
    }
    storeEnv = { EVENTSTORE_URL: double.url, AUTHLOG_SECRET: TEST_SECRET };
  }
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', AUTHLOG_DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...redisEnv, ...storeEnv, ...env });
  const service = await startService(config, options);
  return {
    ...service,
    dataDir,
    config,
    stop: async () => {
      await service.close();
    },
    remove: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      if (config.REDIS_URL && onRedis) await deleteRedisKeys(config.REDIS_URL, config.REDIS_PREFIX);
      await doubles.get(dataDir)?.stop();
      doubles.delete(dataDir);
    },
    request: (method, path, requestOptions) => request(service.url, method, path, requestOptions),
    createProject: (name = 'test project', trustedDomains = []) => createProject(service.app, { name, trustedDomains }, systemOrigin('test')),
  };
}

export async function request(baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  const response = await fetch(baseUrl + path, { method, headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** The headers of server access to a project, as the reference pages send them. */
export const serverHeaders = (project: CreatedProject): Record<string, string> => ({
  'x-stack-project-id': project.project_id,
  'x-stack-secret-server-key': project.secret_server_key,
});

export const clientHeaders = (project: CreatedProject): Record<string, string> => ({
  'x-stack-project-id': project.project_id,
  'x-stack-publishable-client-key': project.publishable_client_key,
});

export const adminHeaders = (project: CreatedProject): Record<string, string> => ({
  'x-stack-project-id': project.project_id,
  'x-stack-super-secret-admin-key': project.super_secret_admin_key,
});

/**
 * Sends one request exactly as written (e.g. with a header repeated, which fetch would merge)
 * and resolves with the status line's code and the raw response.
 */
export function rawRequest(baseUrl: string, head: string, body = ''): Promise<{ status: number; raw: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      // write, not end: a half-closed socket makes Node's server drop the answer of a slow request.
      socket.write(`${head.trim().replace(/\n/g, '\r\n')}\r\nhost: ${hostname}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
    let raw = '';
    socket.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0), raw }));
  });
}

/**
 * Everything the event log holds, as stored: the SQLite file and its WAL as bytes, or, on the
 * EventStoreDB double, every event's id, type, data and metadata as the server keeps them. Call
 * it after `stop()` (SQLite writes its WAL back on close).
 */
export async function storedLog(service: TestService): Promise<Buffer> {
  if (!service.config.EVENTSTORE_URL) {
    const files = ['events.db', 'events.db-wal'].map((f) => join(service.dataDir, f)).filter(existsSync);
    return Buffer.concat(files.map((f) => readFileSync(f)));
  }
  const store = openEsdbEventStore(service.config.EVENTSTORE_URL);
  try {
    const parts: string[] = [];
    for await (const e of store.readAll()) parts.push(JSON.stringify({ stream: e.streamId, id: e.id, type: e.type, data: e.data, metadata: e.metadata }));
    return Buffer.from(parts.join('\n'));
  } finally {
    await store.close();
  }
}
