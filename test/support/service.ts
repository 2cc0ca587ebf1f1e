// Starts the real service in-process on an ephemeral port with its own data dir, and talks to it
// over HTTP as any client would. Each test file gets fresh state.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { testRedisUrl } from './redis-check.ts';
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

async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
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

export async function startTestService(env: Record<string, string> = {}, options: ServiceOptions & { dataDir?: string } = {}): Promise<TestService> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'authlog-test-'));
  const onRedis = testReadModel() === 'redis' && env.REDIS_URL === undefined;
  const redisEnv: Record<string, string> = onRedis ? { REDIS_URL: testRedisUrl(), REDIS_PREFIX: redisPrefixFor(dataDir) } : {};
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', AUTHLOG_DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...redisEnv, ...env });
  const service = await startService(config, options);
  return {
    ...service,
    dataDir,
    config,
    stop: () => service.close(),
    remove: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      if (config.REDIS_URL && onRedis) await deleteRedisKeys(config.REDIS_URL, config.REDIS_PREFIX);
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
      socket.end(`${head.trim().replace(/\n/g, '\r\n')}\r\nhost: ${hostname}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
    let raw = '';
    socket.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0), raw }));
  });
}
