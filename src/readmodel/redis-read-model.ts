// The Redis read model of the production deployment (ioredis).
//
// Layout, all under one hash tag so a Redis Cluster keeps a generation in one slot and the
// Lua scripts may touch any of its keys:
//   <prefix>:{rm}:gen                  live generation id (absent = generation 0)
//   <prefix>:{rm}:genseq               last generation id handed out
//   <prefix>:{rm}:building             ids of generations being rebuilt (open, not yet live)
//   <prefix>:{rm}:g<gen>:<key>         data
//   <prefix>:{rm}:g<gen>:__checkpoint  the generation's checkpoint, a 20-digit decimal string
//   <prefix>:{rm}:g<gen>:__log         identity of the log the generation was built from
//   <prefix>:{rm}:g<gen>:__checkpoint_event  JSON [position, id, stream, revision] of the event at the checkpoint
//   <prefix>:{rl}:<key>                 rate buckets (a GCRA arrival time), outside generations
//
// Every write is one Lua script that resolves the live generation itself, compares each
// event's position with the checkpoint and applies the event's ops together with the new
// checkpoint, so a change and its checkpoint can never be seen apart, and several service
// instances sharing the Redis write the same (live) generation even across a rebuild switch.
import { Redis } from 'ioredis';
import {
  ReadModelBehindError,
  ReadModelOfAnotherLogError,
  ReadModelUnavailableError,
  type ApplyOptions,
  type NextGeneration,
  type ProjectedEvent,
  type ReadModel,
  type ReadModelOp,
  type RateDecision,
  type ReadModelProvenance,
} from './read-model.ts';
import {
  LUA_ACTIVATE,
  LUA_APPLY,
  LUA_DISCARD,
  LUA_DUMP,
  LUA_OPEN,
  LUA_GCRA,
  LUA_PROVENANCE,
  LUA_READ,
  type ScriptArg,
  type ScriptCommands,
} from './redis-read-model-scripts.ts';
import {
  CHECKPOINT_EVENT_KEY,
  CHECKPOINT_KEY,
  LOG_ID_KEY,
  RATE_GRACE_MS,
  digestEntries,
  validateEvents,
  type DigestEntry,
} from './memory-read-model.ts';
import { validateRateTake } from './gcra.ts';

export interface RedisReadModelOptions {
  url: string;
  /** Key prefix; default 'authlog'. */
  prefix?: string;
  /** The injected clock: decides which writes are already expired and what reads as expired. */
  now: () => number;
  /** A command without an answer after this long rejects with ReadModelUnavailableError; default 2000. */
  commandTimeoutMs?: number;
}

/** Events per script call: big enough for replay speed, small enough not to block Redis for long. */
const MAX_EVENTS_PER_SCRIPT = 500;
/** Also cap the arguments of one call, since one event may carry many ops. */
const MAX_ARGS_PER_SCRIPT = 50_000;
const SCAN_COUNT = 1000;

// Reply errors that mean "Redis cannot serve right now" rather than "this request is wrong".
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|NOREPLICAS)\b/;

function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

const escapeGlob = (s: string): string => s.replace(/[*?[\]\\]/g, '\\$&');

const padPosition = (position: bigint): string => position.toString().padStart(20, '0');

function parseCheckpoint(reply: unknown): bigint {
  if (reply === null || reply === undefined || reply === '') return -1n;
  if (typeof reply !== 'string' || !/^\d{1,20}$/.test(reply)) throw new Error(`redis read model: unexpected checkpoint ${String(reply)}`);
  return BigInt(reply);
}

function asStrings(reply: unknown, what: string): string[] {
  if (!Array.isArray(reply) || !reply.every((x): x is string => typeof x === 'string')) {
    throw new Error(`redis read model: unexpected reply to ${what}`);
  }
  return reply;
}

function pairsToRecord(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

function encodeOp(op: ReadModelOp, args: ScriptArg[]): void {
  switch (op.op) {
    case 'set':
      args.push('s', op.key, op.value, op.expireAtMs === undefined ? '' : String(op.expireAtMs));
      return;
    case 'del':
      args.push('d', op.key);
      return;
    case 'hset': {
      const names = Object.keys(op.fields);
      args.push('h', op.key, op.expireAtMs === undefined ? '' : String(op.expireAtMs), names.length);
      for (const name of names) args.push(name, op.fields[name] as string);
      return;
    }
    case 'sadd':
      args.push('a', op.key, op.member);
      return;
    case 'srem':
      args.push('r', op.key, op.member);
      return;
  }
}

/** Events encoded as script arguments, split into chunks each applied by one script call. */
function encodeChunks(events: readonly ProjectedEvent[]): ScriptArg[][] {
  const chunks: ScriptArg[][] = [];
  let current: ScriptArg[] = [];
  let count = 0;
  for (const event of events) {
    const ref = event.event ? JSON.stringify([String(event.position), event.event.id, event.event.streamId, String(event.event.revision)]) : '';
    const encoded: ScriptArg[] = [padPosition(event.position), ref, event.ops.length];
    for (const op of event.ops) encodeOp(op, encoded);
    if (count > 0 && (count >= MAX_EVENTS_PER_SCRIPT || current.length + encoded.length > MAX_ARGS_PER_SCRIPT)) {
      chunks.push(current);
      current = [];
      count = 0;
    }
    for (const arg of encoded) current.push(arg);
    count++;
  }
  if (count > 0) chunks.push(current);
  return chunks;
}

function parseProvenance(reply: unknown): ReadModelProvenance {
  const [generation, checkpoint, logId, ref] = asStrings(reply, 'provenance');
  const provenance: ReadModelProvenance = { generation: generation ?? '0', checkpoint: parseCheckpoint(checkpoint) };
  if (logId) provenance.logId = logId;
  if (ref) {
    const parsed: unknown = JSON.parse(ref);
    if (!Array.isArray(parsed) || parsed.length !== 4 || !parsed.every((x): x is string => typeof x === 'string')) {
      throw new Error('redis read model: unexpected checkpoint event');
    }
    const [position, id, streamId, revision] = parsed as [string, string, string, string];
    provenance.checkpointEvent = { position: BigInt(position), id, streamId, revision: BigInt(revision) };
  }
  return provenance;
}

export interface RedisReadModel extends ReadModel {
  /** The live generation's id as stored in Redis ('0' when the pointer is absent). */
  liveGeneration(): Promise<string>;
}

export function createRedisReadModel(options: RedisReadModelOptions): RedisReadModel {
  const prefix = options.prefix ?? 'authlog';
  const commandTimeoutMs = options.commandTimeoutMs ?? 2000;
  const { now } = options;

  const rm = `${prefix}:{rm}`;
  const pointerKey = `${rm}:gen`;
  const seqKey = `${rm}:genseq`;
  const buildingKey = `${rm}:building`;
  const genBase = `${rm}:g`;
  const dataPrefix = (gen: string): string => `${genBase}${gen}:`;
  const rateKey = (key: string): string => `${prefix}:{rl}:${key}`;

  let lastConnectionError: Error | undefined;
  const redis = new Redis(options.url, {
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
  const scripts = redis as unknown as ScriptCommands;

  let closed = false;
  /** Deletions of dropped generations still running; close() waits for them. */
  const background = new Set<Promise<void>>();

  /** Runs a Redis call, turning "not reachable / no answer" into ReadModelUnavailableError. */
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

  // Queries go through a tiny Lua script that reads the pointer and the data in one atomic
  // step, rather than caching the pointer: one round trip either way, and a query can never
  // read a generation that another process has already switched away from and is deleting.
  async function read(op: 'get' | 'hgetall' | 'smembers' | 'cp', key: string): Promise<unknown> {
    return call(op, () => scripts.authlogRmRead(pointerKey, genBase, op, key, now()));
  }

  async function applyTo(gen: string, events: readonly ProjectedEvent[], options: ApplyOptions = {}): Promise<bigint> {
    validateEvents(events);
    // Nothing to apply and no identity to record: no need to run the script.
    if (events.length === 0 && options.logId === undefined) return gen === '' ? parseCheckpoint(await read('cp', '')) : checkpointOf(gen);
    let checkpoint = -1n;
    // Only the first chunk checks: the later ones follow this call's own writes.
    let expectAtLeast = options.expectAtLeast !== undefined && options.expectAtLeast >= 0n ? padPosition(options.expectAtLeast) : '';
    const logId = options.logId ?? '';
    // Chunks go one after the other, never pipelined: were one to fail, a later one must not
    // move the checkpoint past the events it lost.
    const chunks = encodeChunks(events);
    if (chunks.length === 0) chunks.push([]); // records (or checks) the log identity alone
    for (const chunk of chunks) {
      const expected = expectAtLeast;
      let reply: unknown;
      try {
        reply = await call('applyBatch', () => scripts.authlogRmApply(pointerKey, buildingKey, genBase, gen, now(), expected, logId, ...chunk));
      } catch (error) {
        const behind = error instanceof Error ? /^AUTHLOG_READ_MODEL_BEHIND (\d*)/.exec(error.message) : null;
        if (behind && options.expectAtLeast !== undefined) throw new ReadModelBehindError(behind[1] ? BigInt(behind[1]) : -1n, options.expectAtLeast);
        const otherLog = error instanceof Error ? /^AUTHLOG_READ_MODEL_OTHER_LOG (.*)$/.exec(error.message) : null;
        if (otherLog && options.logId !== undefined) throw new ReadModelOfAnotherLogError(otherLog[1] ?? '', options.logId);
        throw error;
      }
      expectAtLeast = '';
      checkpoint = parseCheckpoint(reply);
    }
    return checkpoint;
  }

  async function checkpointOf(gen: string): Promise<bigint> {
    return parseCheckpoint(await call('checkpoint', () => redis.get(`${dataPrefix(gen)}${CHECKPOINT_KEY}`)));
  }

  /** Every key of a generation, SCAN by SCAN (never KEYS, which would block Redis). */
  async function forEachKeyBatch(gen: string, fn: (keys: string[]) => Promise<void>): Promise<void> {
    const pattern = `${escapeGlob(dataPrefix(gen))}*`;
    let cursor = '0';
    do {
      const [next, keys] = await call('scan', () => redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT));
      cursor = next;
      if (keys.length > 0) await fn(keys);
    } while (cursor !== '0');
  }

  function dropInBackground(gen: string): void {
    const task = forEachKeyBatch(gen, async (keys) => {
      await call('unlink', () => redis.unlink(...keys));
    })
      // A failed drop leaves an unreachable generation behind; it is harmless to correctness
      // and the next drop of the same id (or an operator) removes it.
      .catch(() => {})
      .finally(() => background.delete(task));
    background.add(task);
  }

  return {
    kind: 'redis',

    async liveGeneration() {
      const reply = await call('gen', () => redis.get(pointerKey));
      return reply ?? '0';
    },

    async get(key) {
      const reply = await read('get', key);
      return typeof reply === 'string' ? reply : undefined;
    },

    async hgetall(key) {
      const reply = await read('hgetall', key);
      if (reply === null || reply === undefined) return undefined;
      return pairsToRecord(asStrings(reply, 'hgetall'));
    },

    async smembers(key) {
      const reply = await read('smembers', key);
      if (reply === null || reply === undefined) return [];
      return asStrings(reply, 'smembers').sort();
    },

    applyBatch(events, options) {
      return applyTo('', events, options);
    },

    async checkpoint() {
      return parseCheckpoint(await read('cp', ''));
    },

    async provenance() {
      return parseProvenance(await call('provenance', () => scripts.authlogRmProvenance(pointerKey, genBase, '')));
    },

    async rateTake(key, limit, windowMs, nowMs, add): Promise<RateDecision> {
      validateRateTake(limit, windowMs, nowMs, add);
      const reply = await call('rateTake', () => scripts.authlogRmGcra(rateKey(key), limit, windowMs, nowMs, add, RATE_GRACE_MS));
      if (!Array.isArray(reply) || reply.length !== 3 || !reply.every((v) => typeof v === 'number')) throw new Error('redis read model: unexpected reply to rateTake');
      const [allowed, retryAfterMs, remaining] = reply as [number, number, number];
      return { allowed: allowed === 1, retryAfterMs, remaining };
    },

    async openNextGeneration(): Promise<NextGeneration> {
      const reply = await call('openNextGeneration', () => scripts.authlogRmOpen(pointerKey, seqKey, buildingKey));
      if (typeof reply !== 'string') throw new Error('redis read model: unexpected reply to openNextGeneration');
      const id = reply;
      let state: 'open' | 'active' | 'discarded' = 'open';
      const assertUsable = (): void => {
        if (state === 'discarded') throw new Error(`redis read model: generation ${id} was discarded`);
      };
      return {
        id,
        applyBatch(events, options) {
          assertUsable();
          return applyTo(id, events, options);
        },
        checkpoint() {
          assertUsable();
          return checkpointOf(id);
        },
        async provenance() {
          assertUsable();
          return parseProvenance(await call('provenance', () => scripts.authlogRmProvenance(pointerKey, genBase, id)));
        },
        async activate(activateOptions) {
          assertUsable();
          let previous: unknown;
          try {
            previous = await call('activate', () => scripts.authlogRmActivate(pointerKey, buildingKey, id, activateOptions?.ifLiveIs ?? ''));
          } catch (error) {
            if (error instanceof Error && /^AUTHLOG_GENERATION_MOVED\b/.test(error.message)) return false;
            throw error;
          }
          state = 'active';
          if (typeof previous === 'string' && previous !== id) dropInBackground(previous);
          return true;
        },
        async discard() {
          if (state === 'active') throw new Error(`redis read model: generation ${id} is live and cannot be discarded`);
          if (state === 'discarded') return;
          await call('discard', () => scripts.authlogRmDiscard(pointerKey, buildingKey, id));
          state = 'discarded';
          dropInBackground(id);
        },
      };
    },

    async digest() {
      // The generation is read once and then scanned; a switch during the scan gives a
      // digest of a mix. Fine for what digest is for: comparing quiet read models.
      const gen = (await call('gen', () => redis.get(pointerKey))) ?? '0';
      const base = dataPrefix(gen);
      const reserved = new Set([CHECKPOINT_KEY, LOG_ID_KEY, CHECKPOINT_EVENT_KEY].map((k) => `${base}${k}`));
      const nowMs = now();
      // SCAN may return a key twice; the map keeps one.
      const entries = new Map<string, DigestEntry>();
      await forEachKeyBatch(gen, async (scanned) => {
        const keys = scanned.filter((k) => !reserved.has(k));
        if (keys.length === 0) return;
        const reply = await call('digest', () => scripts.authlogRmDump(keys.length, ...keys, nowMs));
        if (!Array.isArray(reply) || reply.length !== keys.length) throw new Error('redis read model: unexpected reply to digest');
        keys.forEach((fullKey, i) => {
          const item: unknown = reply[i];
          if (!Array.isArray(item)) throw new Error('redis read model: unexpected reply to digest');
          const [type, content] = item as unknown[];
          const key = fullKey.slice(base.length);
          if (type === 'string' && typeof content === 'string') entries.set(key, { key, type: 'string', value: content });
          else if (type === 'hash') {
            const flat = asStrings(content, 'digest');
            const fields: [string, string][] = [];
            for (let j = 0; j + 1 < flat.length; j += 2) fields.push([flat[j] as string, flat[j + 1] as string]);
            entries.set(key, { key, type: 'hash', fields });
          } else if (type === 'set') entries.set(key, { key, type: 'set', members: asStrings(content, 'digest') });
          else if (type !== 'none') throw new Error(`redis read model: unexpected ${String(type)} key ${fullKey} in the read model`);
        });
      });
      return digestEntries(entries.values());
    },

    async ping() {
      await call('ping', () => redis.ping());
    },

    async close() {
      if (closed) return;
      // Let running generation drops finish (they end early if Redis is gone: each command
      // is bounded by commandTimeoutMs), then leave without blocking on a dead server.
      await Promise.allSettled([...background]);
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
