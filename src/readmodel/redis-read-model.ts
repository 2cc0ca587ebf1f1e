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
import {
  ReadModelBehindError,
  ReadModelOfAnotherLogError,
  type ApplyOptions,
  type NextGeneration,
  type ProjectedEvent,
  type ReadModel,
  type RateDecision,
} from './read-model.ts';
import { CHECKPOINT_EVENT_KEY, CHECKPOINT_KEY, LOG_ID_KEY, RATE_GRACE_MS, validateEvents } from './read-model-limits.ts';
import { digestEntries, type DigestEntry } from './read-model-digest.ts';
import { validateRateTake } from './gcra.ts';
import { encodeReadSteps, encodeThenTake, thenTakeKey, validateTakeAndRead, type ReadStepValue } from './take-and-read.ts';
import { openRedisConnection } from './redis-read-model-connection.ts';
import { asStrings, encodeChunks, padPosition, pairsToRecord, parseCheckpoint, parseDumpedKey, parseProvenance } from './redis-read-model-codec.ts';

export interface RedisReadModelOptions {
  url: string;
  /** Key prefix; default 'authlog'. */
  prefix?: string;
  /** The injected clock: decides which writes are already expired and what reads as expired. */
  now: () => number;
  /** A command without an answer after this long rejects with ReadModelUnavailableError; default 2000. */
  commandTimeoutMs?: number;
}

const escapeGlob = (s: string): string => s.replace(/[*?[\]\\]/g, '\\$&');

const SCAN_COUNT = 1000;

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

  const connection = openRedisConnection(options.url, commandTimeoutMs);
  const { redis, scripts, call } = connection;

  /** Deletions of dropped generations still running; close() waits for them. */
  const background = new Set<Promise<void>>();

  // Queries go through a tiny Lua script that reads the pointer and the data in one atomic
  // step, rather than caching the pointer: one round trip either way, and a query can never
  // read a generation that another process has already switched away from and is deleting.
  async function read(op: 'get' | 'hgetall' | 'smembers' | 'cp', key: string): Promise<unknown> {
    return call(op, () => scripts.authlogRmRead(pointerKey, genBase, op, key, now()));
  }

  function parseDecision(reply: unknown, what: string): RateDecision {
    if (!Array.isArray(reply) || reply.length !== 3 || !reply.every((v) => typeof v === 'number')) throw new Error(`redis read model: unexpected reply to ${what}`);
    const [allowed, retryAfterMs, remaining] = reply as [number, number, number];
    return { allowed: allowed === 1, retryAfterMs, remaining };
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
      return parseDecision(reply, 'rateTake');
    },

    async takeAndRead(take, reads, then) {
      validateTakeAndRead(take, reads, then);
      const rateArgs = take ? [take.limit, take.windowMs, take.nowMs, take.add, RATE_GRACE_MS] : [0, 0, 0, 0, RATE_GRACE_MS];
      const reply = await call('takeAndRead', () =>
        scripts.authlogRmTakeAndRead(pointerKey, take ? rateKey(take.key) : '', genBase, now(), ...rateArgs, ...encodeThenTake(then, rateKey), ...encodeReadSteps(reads)),
      );
      if (!Array.isArray(reply) || reply.length !== reads.length + 2) throw new Error('redis read model: unexpected reply to takeAndRead');
      const values: ReadStepValue[] = reads.map((step, i) => {
        const value: unknown = reply[i + 2];
        if (value === null || value === undefined) return undefined;
        return step.op === 'get' ? (typeof value === 'string' ? value : undefined) : pairsToRecord(asStrings(value, 'takeAndRead'));
      });
      const result = { rate: take ? parseDecision(reply[0], 'takeAndRead') : undefined, values };
      // The script answers {} for a second take it did not make; the key it made is the one the values give.
      const thenKey = then && Array.isArray(reply[1]) && reply[1].length > 0 ? thenTakeKey(then, values) : undefined;
      return then && thenKey !== undefined ? { ...result, thenKey, thenRate: parseDecision(reply[1], 'takeAndRead') } : result;
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
          const entry = parseDumpedKey(fullKey.slice(base.length), fullKey, reply[i]);
          if (entry) entries.set(entry.key, entry);
        });
      });
      return digestEntries(entries.values());
    },

    async ping() {
      await call('ping', () => redis.ping());
    },

    async close() {
      if (connection.closed) return;
      // Let running generation drops finish (they end early if Redis is gone: each command
      // is bounded by commandTimeoutMs), then leave without blocking on a dead server.
      await Promise.allSettled([...background]);
      await connection.close();
    },
  };
}
