// The Redis read model's connection (ioredis) and its scripts, and the one rule for failures: a
// Redis that cannot be reached, does not answer in time or cannot serve right now is a
// ReadModelUnavailableError (503, retry); a reply error to a wrong request stays what it is.
import { Redis } from 'ioredis';
import { ReadModelUnavailableError } from './read-model.ts';
import { LUA_ACTIVATE, LUA_APPLY, LUA_DISCARD, LUA_DUMP, LUA_GCRA, LUA_TAKE_AND_READ, LUA_OPEN, LUA_PROVENANCE, LUA_READ, type ScriptCommands } from './redis-read-model-scripts.ts';

// Reply errors that mean "Redis cannot serve right now" rather than "this request is wrong".
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|NOREPLICAS)\b/;

function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

export interface RedisConnection {
  redis: Redis;
  scripts: ScriptCommands;
  /** Runs a Redis call, turning "not reachable / no answer" into ReadModelUnavailableError. */
  call<T>(what: string, fn: () => Promise<T>): Promise<T>;
  readonly closed: boolean;
  /** Quits (or, with a dead server, disconnects) without blocking; calls fail from now on. */
  close(): Promise<void>;
}

export function openRedisConnection(url: string, commandTimeoutMs: number): RedisConnection {
  let lastConnectionError: Error | undefined;
  const redis = new Redis(url, {
    // A command that gets no answer in time rejects, whether it was sent or still waiting for
    // a connection, so no caller hangs longer than commandTimeoutMs.
    commandTimeout: commandTimeoutMs,
    connectTimeout: commandTimeoutMs,
    // A connection that stays silent while commands wait is dropped and reopened, so a
    // half-open TCP connection (host gone without a reset) does not make every later command
    // wait out its full timeout until TCP keepalive notices.
    socketTimeout: commandTimeoutMs * 2,
    // Commands wait for the first connection (the offline queue) but are failed at each
    // failed reconnect attempt instead of piling up and being replayed much later.
    enableOfflineQueue: true,
    maxRetriesPerRequest: 0,
    // Commands issued in the same tick by concurrent requests go out in one write (and their
    // answers come back in one read): under load, far fewer syscalls per request.
    enableAutoPipelining: true,
    // Keep reconnecting forever with capped backoff, so the read model recovers by itself.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times - 1, 10), 2000),
  });
  // Failures reach callers as rejected commands; the listener keeps ioredis from reporting
  // each reconnect failure as an unhandled 'error' event, and remembers why for messages.
  redis.on('error', (err: Error) => {
    lastConnectionError = err;
  });
  redis.on('ready', () => {
    lastConnectionError = undefined;
  });

  redis.defineCommand('authlogRmApply', { lua: LUA_APPLY, numberOfKeys: 2 });
  redis.defineCommand('authlogRmRead', { lua: LUA_READ, numberOfKeys: 1 });
  redis.defineCommand('authlogRmProvenance', { lua: LUA_PROVENANCE, numberOfKeys: 1 });
  redis.defineCommand('authlogRmDump', { lua: LUA_DUMP });
  redis.defineCommand('authlogRmOpen', { lua: LUA_OPEN, numberOfKeys: 3 });
  redis.defineCommand('authlogRmActivate', { lua: LUA_ACTIVATE, numberOfKeys: 2 });
  redis.defineCommand('authlogRmDiscard', { lua: LUA_DISCARD, numberOfKeys: 2 });
  redis.defineCommand('authlogRmGcra', { lua: LUA_GCRA, numberOfKeys: 1 });
  redis.defineCommand('authlogRmTakeAndRead', { lua: LUA_TAKE_AND_READ, numberOfKeys: 2 });
  const scripts = redis as unknown as ScriptCommands;

  let closed = false;

  async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (closed) throw new ReadModelUnavailableError(`redis read model: ${what}: closed`);
    // Between reconnect attempts the connection is known to be down: fail now rather than
    // queue the command until the next attempt fails too.
    if (redis.status === 'reconnecting' || redis.status === 'close' || redis.status === 'end') {
      const why = lastConnectionError ? `: ${lastConnectionError.message}` : '';
      throw new ReadModelUnavailableError(`redis read model: ${what}: not connected${why}`);
    }
    try {
      return await fn();
    } catch (err) {
      if (isReplyError(err) && !TRANSIENT_REPLY.test(err.message)) throw err;
      const reason =
        err instanceof Error && err.name === 'MaxRetriesPerRequestError' ? 'connection failed' : err instanceof Error ? err.message : String(err);
      const why = lastConnectionError && lastConnectionError.message !== reason ? ` (${lastConnectionError.message})` : '';
      throw new ReadModelUnavailableError(`redis read model: ${what}: ${reason}${why}`, { cause: err });
    }
  }

  return {
    redis,
    scripts,
    call,
    get closed() {
      return closed;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (redis.status === 'ready') {
        try {
          await redis.quit();
          return;
        } catch {
          // fall through to a hard disconnect
        }
      }
      redis.disconnect();
    },
  };
}
