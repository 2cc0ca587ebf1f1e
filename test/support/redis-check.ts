// Tests talk to a real Redis. Where none answers, the run fails with one line saying how to get one.
import { Redis } from 'ioredis';

export const testRedisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Returns undefined when Redis answers PING, else a one-line explanation. */
export async function checkRedisOrExplain(): Promise<string | undefined> {
  const url = testRedisUrl();
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch {
    return `Tests need a Redis at ${url} (set REDIS_URL to use another): start one with \`redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no\` or \`docker run -p 6379:6379 redis:7\`.`;
  } finally {
    redis.disconnect();
  }
}
