// The baseline: a bare Koa + @koa/router app that parses the JSON body and answers a JSON of the
// same size as our read paths' answers, from memory or from one Redis GET. It is what the same HTTP stack does with
// no access check, validation, digest, rate limit or read-model lookup, driven the same way.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import { Redis } from 'ioredis';
import type { ReadModelKind } from './service.ts';
import { deleteRedisKeys, trackRedisPrefix, uniqueRedisPrefix } from './service.ts';

export interface Baseline {
  url: string;
  path: string;
  close(): Promise<void>;
}

/** The request's JSON body, read with 'data' listeners as src/http/body.ts reads it; a body that does not parse is a 400. */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', reject);
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(Object.assign(new Error('the body is not JSON'), { status: 400, expose: true }));
      }
    });
  });
}

export async function startBaseline(kind: ReadModelKind, answer: string, redisUrl?: string): Promise<Baseline> {
  const path = '/baseline';
  let redis: Redis | undefined;
  let prefix: string | undefined;
  let read: () => Promise<string>;
  if (kind === 'redis') {
    if (!redisUrl) throw new Error('the Redis baseline needs REDIS_URL');
    prefix = uniqueRedisPrefix('baseline');
    trackRedisPrefix(redisUrl, prefix);
    const key = `${prefix}:answer`;
    const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    redis = client;
    await client.set(key, answer);
    read = async () => (await client.get(key)) ?? '{}';
  } else {
    const memory = new Map([['answer', answer]]);
    read = async () => memory.get('answer') ?? '{}';
  }
  const app = new Koa();
  const router = new Router();
  router.post(path, async (ctx) => {
    // The body is read and parsed, as every real route must before it can answer.
    const body = await readJson(ctx.req);
    if (typeof body !== 'object' || body === null) ctx.throw(400, 'a JSON object is expected');
    ctx.type = 'application/json';
    ctx.body = await read();
  });
  app.use(router.routes());
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    path,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (redis) {
        redis.disconnect();
        if (redisUrl && prefix) await deleteRedisKeys(redisUrl, prefix);
      }
    },
  };
}
