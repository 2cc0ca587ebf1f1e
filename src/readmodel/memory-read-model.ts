// The in-process read model of the embedded default. Everything is synchronous inside each
// method, so an event's writes and its checkpoint move together by construction: no other
// caller can observe the state between them. Expiry follows the injected clock only; there is
// no timer, so nothing here keeps the process alive (expired entries read as absent, are
// dropped when touched, and a sweep runs from the write path at most once a minute of
// injected time).
import { createHash } from 'node:crypto';
import {
  ReadModelBehindError,
  ReadModelOfAnotherLogError,
  type ApplyOptions,
  type NextGeneration,
  type ProjectedEvent,
  type ReadModel,
  type ReadModelOp,
  type ReadModelProvenance,
} from './read-model.ts';
import { gcraStep, validateRateTake } from './gcra.ts';

/** The key the Redis adapter stores a generation's checkpoint under; reserved in both adapters. */
export const CHECKPOINT_KEY = '__checkpoint';
/** Where the Redis adapter keeps the generation's log identity and the event at its checkpoint. */
export const LOG_ID_KEY = '__log';
export const CHECKPOINT_EVENT_KEY = '__checkpoint_event';
const RESERVED_KEYS: readonly string[] = [CHECKPOINT_KEY, LOG_ID_KEY, CHECKPOINT_EVENT_KEY];

/** Positions are u64 in the event store. */
const MAX_POSITION = (1n << 64n) - 1n;

/** One live entry as the digest sees it. Both adapters feed these to `digestEntries`. */
export type DigestEntry =
  | { key: string; type: 'string'; value: string }
  | { key: string; type: 'hash'; fields: ReadonlyArray<readonly [string, string]> }
  | { key: string; type: 'set'; members: readonly string[] };

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * sha256 hex over a canonical serialization: entries sorted by key, hash fields sorted by
 * name, set members sorted; one JSON line per entry (JSON escapes newlines, so lines cannot
 * run into each other). Shared by the memory and Redis adapters so that the same events give
 * the same digest in both.
 */
export function digestEntries(entries: Iterable<DigestEntry>): string {
  const sorted = [...entries].sort((a, b) => byCodeUnit(a.key, b.key));
  const hash = createHash('sha256');
  for (const entry of sorted) {
    let line: unknown[];
    switch (entry.type) {
      case 'string':
        line = [entry.key, 's', entry.value];
        break;
      case 'hash':
        line = [entry.key, 'h', [...entry.fields].sort((a, b) => byCodeUnit(a[0], b[0]))];
        break;
      case 'set':
        line = [entry.key, 'S', [...entry.members].sort(byCodeUnit)];
        break;
    }
    hash.update(JSON.stringify(line) + '\n');
  }
  return hash.digest('hex');
}

/**
 * Rejects what neither adapter can store faithfully, before anything is applied, so a bad
 * batch never leaves half its events behind. Shared with the Redis adapter.
 */
export function validateEvents(events: readonly ProjectedEvent[]): void {
  for (const event of events) {
    if (typeof event.position !== 'bigint' || event.position < 0n || event.position > MAX_POSITION) {
      throw new RangeError(`read model: position ${String(event.position)} is not a u64`);
    }
    for (const op of event.ops) {
      if (RESERVED_KEYS.includes(op.key)) {
        throw new RangeError(`read model: the key ${op.key} is reserved for the checkpoint and its provenance`);
      }
      if ((op.op === 'set' || op.op === 'hset') && op.expireAtMs !== undefined && !Number.isSafeInteger(op.expireAtMs)) {
        throw new RangeError(`read model: expireAtMs must be an integer epoch-ms, got ${op.expireAtMs}`);
      }
    }
  }
}

type Entry =
  | { type: 'string'; value: string; expireAtMs: number | undefined }
  | { type: 'hash'; fields: Map<string, string>; expireAtMs: number | undefined }
  | { type: 'set'; members: Set<string>; expireAtMs: number | undefined };

interface Generation {
  id: string;
  data: Map<string, Entry>;
  checkpoint: bigint;
  logId: string | undefined;
  checkpointEvent: ReadModelProvenance['checkpointEvent'];
}

const emptyGeneration = (id: string): Generation => ({ id, data: new Map(), checkpoint: -1n, logId: undefined, checkpointEvent: undefined });

function provenanceOf(gen: Generation): ReadModelProvenance {
  return {
    generation: gen.id,
    checkpoint: gen.checkpoint,
    ...(gen.logId !== undefined ? { logId: gen.logId } : {}),
    ...(gen.checkpointEvent ? { checkpointEvent: { ...gen.checkpointEvent } } : {}),
  };
}

const SWEEP_EVERY_MS = 60_000;
/** Rate buckets are kept this much past the moment they are full again, in case callers' clocks lag a little. */
export const RATE_GRACE_MS = 5_000;

export function createMemoryReadModel(options: { now: () => number }): ReadModel {
  const { now } = options;
  let live: Generation = emptyGeneration('0');
  /** Rate buckets: key -> theoretical arrival time (gcra.ts). */
  const rates = new Map<string, number>();
  let nextGenerationId = 1;
  let lastSweepMs = now();
  let closed = false;

  // An entry counts as gone from the moment its expiry is reached (expireAtMs <= now), the same
  // boundary the Redis adapter applies with PEXPIRETIME.
  const isExpired = (entry: Entry, nowMs: number): boolean => entry.expireAtMs !== undefined && entry.expireAtMs <= nowMs;

  function liveEntry(gen: Generation, key: string, nowMs: number): Entry | undefined {
    const entry = gen.data.get(key);
    if (entry === undefined) return undefined;
    if (isExpired(entry, nowMs)) {
      gen.data.delete(key);
      return undefined;
    }
    return entry;
  }

  function maybeSweep(nowMs: number): void {
    if (nowMs - lastSweepMs < SWEEP_EVERY_MS) return;
    lastSweepMs = nowMs;
    for (const [key, entry] of live.data) if (isExpired(entry, nowMs)) live.data.delete(key);
    for (const [key, tat] of rates) if (tat + RATE_GRACE_MS <= nowMs) rates.delete(key);
  }

  // Mirrors the Redis script op for op, including its choices: a write whose expiry has
  // already passed removes the key (the value it would write is already gone, and an older
  // value must not show through); hset/sadd on a key of another type replace it.
  function applyOp(gen: Generation, op: ReadModelOp, nowMs: number): void {
    switch (op.op) {
      case 'set':
        if (op.expireAtMs !== undefined && op.expireAtMs <= nowMs) gen.data.delete(op.key);
        else gen.data.set(op.key, { type: 'string', value: op.value, expireAtMs: op.expireAtMs });
        return;
      case 'del':
        gen.data.delete(op.key);
        return;
      case 'hset': {
        if (op.expireAtMs !== undefined && op.expireAtMs <= nowMs) {
          gen.data.delete(op.key);
          return;
        }
        const names = Object.keys(op.fields);
        let entry = liveEntry(gen, op.key, nowMs);
        if (entry !== undefined && entry.type !== 'hash') {
          gen.data.delete(op.key);
          entry = undefined;
        }
        if (entry === undefined) {
          // Like HSET with no fields followed by PEXPIREAT on a missing key: nothing to create.
          if (names.length === 0) return;
          entry = { type: 'hash', fields: new Map(), expireAtMs: undefined };
          gen.data.set(op.key, entry);
        }
        for (const name of names) entry.fields.set(name, op.fields[name] as string);
        // Without expireAtMs the key keeps the expiry it had, as HSET does in Redis.
        if (op.expireAtMs !== undefined) entry.expireAtMs = op.expireAtMs;
        return;
      }
      case 'sadd': {
        let entry = liveEntry(gen, op.key, nowMs);
        if (entry !== undefined && entry.type !== 'set') {
          gen.data.delete(op.key);
          entry = undefined;
        }
        if (entry === undefined) {
          entry = { type: 'set', members: new Set(), expireAtMs: undefined };
          gen.data.set(op.key, entry);
        }
        entry.members.add(op.member);
        return;
      }
      case 'srem': {
        const entry = liveEntry(gen, op.key, nowMs);
        if (entry === undefined || entry.type !== 'set') return;
        entry.members.delete(op.member);
        // Redis removes an emptied set; so do we, or digests would differ.
        if (entry.members.size === 0) gen.data.delete(op.key);
        return;
      }
    }
  }

  function applyTo(gen: Generation, events: readonly ProjectedEvent[], options: ApplyOptions = {}): bigint {
    validateEvents(events);
    if (options.expectAtLeast !== undefined && gen.checkpoint < options.expectAtLeast) throw new ReadModelBehindError(gen.checkpoint, options.expectAtLeast);
    if (options.logId !== undefined && gen.logId !== undefined && gen.logId !== options.logId) throw new ReadModelOfAnotherLogError(gen.logId, options.logId);
    if (options.logId !== undefined) gen.logId = options.logId;
    const nowMs = now();
    for (const event of events) {
      if (event.position <= gen.checkpoint) continue;
      for (const op of event.ops) applyOp(gen, op, nowMs);
      gen.checkpoint = event.position;
      // An entry without an event (the checkpoint moved past streams it does not project) keeps the
      // last event it did see as its checkpoint event.
      if (event.event) gen.checkpointEvent = { ...event.event, position: event.position };
    }
    if (gen === live) maybeSweep(nowMs);
    return gen.checkpoint;
  }

  function assertOpen(): void {
    if (closed) throw new Error('memory read model: closed');
  }

  function digestOf(gen: Generation, nowMs: number): string {
    const entries: DigestEntry[] = [];
    for (const [key, entry] of gen.data) {
      if (isExpired(entry, nowMs)) continue;
      if (entry.type === 'string') entries.push({ key, type: 'string', value: entry.value });
      else if (entry.type === 'hash') entries.push({ key, type: 'hash', fields: [...entry.fields] });
      else entries.push({ key, type: 'set', members: [...entry.members] });
    }
    return digestEntries(entries);
  }

  return {
    kind: 'memory',

    async get(key) {
      assertOpen();
      const entry = liveEntry(live, key, now());
      return entry?.type === 'string' ? entry.value : undefined;
    },

    async hgetall(key) {
      assertOpen();
      const entry = liveEntry(live, key, now());
      return entry?.type === 'hash' ? Object.fromEntries(entry.fields) : undefined;
    },

    async smembers(key) {
      assertOpen();
      const entry = liveEntry(live, key, now());
      return entry?.type === 'set' ? [...entry.members].sort(byCodeUnit) : [];
    },

    async applyBatch(events, options) {
      assertOpen();
      return applyTo(live, events, options);
    },

    async checkpoint() {
      assertOpen();
      return live.checkpoint;
    },

    async provenance() {
      assertOpen();
      return provenanceOf(live);
    },

    async rateTake(key, limit, windowMs, nowMs, add) {
      assertOpen();
      validateRateTake(limit, windowMs, nowMs, add);
      const step = gcraStep(rates.get(key), limit, windowMs, nowMs, add);
      if (step.write) {
        if (step.tat === undefined) rates.delete(key);
        else rates.set(key, step.tat);
      }
      maybeSweep(now());
      return { allowed: step.allowed, retryAfterMs: step.retryAfterMs, remaining: step.remaining };
    },

    async openNextGeneration(): Promise<NextGeneration> {
      assertOpen();
      const id = String(nextGenerationId++);
      const gen = emptyGeneration(id);
      let state: 'open' | 'active' | 'discarded' = 'open';
      const assertUsable = (): void => {
        assertOpen();
        if (state === 'discarded') throw new Error(`memory read model: generation ${id} was discarded`);
      };
      return {
        id,
        async applyBatch(events, options) {
          assertUsable();
          return applyTo(gen, events, options);
        },
        async checkpoint() {
          assertUsable();
          return gen.checkpoint;
        },
        async provenance() {
          assertUsable();
          return provenanceOf(gen);
        },
        async activate(activateOptions) {
          assertUsable();
          if (live === gen) return true;
          if (activateOptions?.ifLiveIs !== undefined && live.id !== activateOptions.ifLiveIs) return false;
          // One assignment: queries see either the old generation or the new one, never a mix.
          live = gen;
          state = 'active';
          return true;
        },
        async discard() {
          assertOpen();
          if (state === 'active') throw new Error(`memory read model: generation ${id} is live and cannot be discarded`);
          state = 'discarded';
          gen.data.clear();
        },
      };
    },

    async digest() {
      assertOpen();
      return digestOf(live, now());
    },

    async ping() {
      assertOpen();
    },

    async close() {
      closed = true;
    },
  };
}
