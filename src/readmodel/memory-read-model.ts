// The in-process read model of the embedded default. Everything is synchronous inside each
// method, so an event's writes and its checkpoint move together by construction: no other
// caller can observe the state between them. Expiry follows the injected clock only; there is
// no timer, so nothing here keeps the process alive (expired entries read as absent, are
// dropped when touched, and a sweep runs from the write path at most once a minute of
// injected time).
import { ReadModelBehindError, ReadModelOfAnotherLogError, type ApplyOptions, type NextGeneration, type ProjectedEvent, type RateDecision, type ReadModel, type ReadModelWriter } from './read-model.ts';
import { gcraStep, validateRateTake } from './gcra.ts';
import { RATE_GRACE_MS, validateEvents } from './read-model-limits.ts';
import { byCodeUnit } from './read-model-digest.ts';
import { readSteps, thenTakeKey, validateTakeAndRead } from './take-and-read.ts';
import { applyOp, digestOf, emptyGeneration, isExpired, liveEntry, provenanceOf, type Generation } from './memory-generation.ts';

const SWEEP_EVERY_MS = 60_000;

const liveGenerations = new WeakMap<ReadModel, () => Generation>();

/** The live generation of a memory read model, for its snapshot (memory-snapshot.ts); undefined for another model. */
export const memoryLiveGeneration = (rm: ReadModel): Generation | undefined => liveGenerations.get(rm)?.();

/** `initial`: the live generation to start from (a snapshot read at start); empty without it. */
export function createMemoryReadModel(options: { now: () => number; initial?: Generation }): ReadModel {
  const { now } = options;
  let live: Generation = options.initial ?? emptyGeneration('0');
  /** Rate buckets: key -> theoretical arrival time (gcra.ts). */
  const rates = new Map<string, number>();
  let nextGenerationId = 1;
  let lastSweepMs = now();
  let closed = false;

  function maybeSweep(nowMs: number): void {
    if (nowMs - lastSweepMs < SWEEP_EVERY_MS) return;
    lastSweepMs = nowMs;
    for (const [key, entry] of live.data) if (isExpired(entry, nowMs)) live.data.delete(key);
    for (const [key, tat] of rates) if (tat + RATE_GRACE_MS <= nowMs) rates.delete(key);
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

  function rateTake(key: string, limit: number, windowMs: number, nowMs: number, add: number): RateDecision {
    validateRateTake(limit, windowMs, nowMs, add);
    const step = gcraStep(rates.get(key), limit, windowMs, nowMs, add);
    if (step.write) {
      if (step.tat === undefined) rates.delete(key);
      else rates.set(key, step.tat);
    }
    maybeSweep(now());
    return { allowed: step.allowed, retryAfterMs: step.retryAfterMs, remaining: step.remaining };
  }

  function assertOpen(): void {
    if (closed) throw new Error('memory read model: closed');
  }

  /** The writer of a generation (the live one, whichever it is when called, or one being rebuilt). */
  function writerOf(generation: () => Generation, assertUsable: () => void): ReadModelWriter {
    return {
      async applyBatch(events, options) {
        assertUsable();
        return applyTo(generation(), events, options);
      },
      async checkpoint() {
        assertUsable();
        return generation().checkpoint;
      },
      async provenance() {
        assertUsable();
        return provenanceOf(generation());
      },
    };
  }

  const readModel: ReadModel = {
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

    ...writerOf(() => live, assertOpen),

    async rateTake(key, limit, windowMs, nowMs, add) {
      assertOpen();
      return rateTake(key, limit, windowMs, nowMs, add);
    },

    async takeAndRead(take, reads, then) {
      assertOpen();
      validateTakeAndRead(take, reads, then);
      const rate = take ? rateTake(take.key, take.limit, take.windowMs, take.nowMs, take.add) : undefined;
      const nowMs = now();
      const values = await readSteps(reads, async (op, key) => {
        const entry = liveEntry(live, key, nowMs);
        if (op === 'get') return entry?.type === 'string' ? entry.value : undefined;
        return entry?.type === 'hash' ? Object.fromEntries(entry.fields) : undefined;
      });
      const thenKey = then && rate?.allowed !== false ? thenTakeKey(then, values) : undefined;
      if (!then || thenKey === undefined) return { rate, values };
      return { rate, values, thenKey, thenRate: rateTake(thenKey, then.limit, then.windowMs, then.nowMs, then.add) };
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
        ...writerOf(() => gen, assertUsable),
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
  liveGenerations.set(readModel, () => live);
  return readModel;
}
