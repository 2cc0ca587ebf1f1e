// What both read-model adapters hold to alike: the keys reserved for a generation's checkpoint and
// its provenance, the range of positions, expiries as integer epoch-ms, and how long a rate bucket
// outlives its window.
import type { ProjectedEvent } from './read-model.ts';

/** The key the Redis adapter stores a generation's checkpoint under; reserved in both adapters. */
export const CHECKPOINT_KEY = '__checkpoint';
/** Where the Redis adapter keeps the generation's log identity and the event at its checkpoint. */
export const LOG_ID_KEY = '__log';
export const CHECKPOINT_EVENT_KEY = '__checkpoint_event';
const RESERVED_KEYS: readonly string[] = [CHECKPOINT_KEY, LOG_ID_KEY, CHECKPOINT_EVENT_KEY];

/** Positions are u64 in the event store. */
const MAX_POSITION = (1n << 64n) - 1n;

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

/** Rate buckets are kept this much past the moment they are full again, in case callers' clocks lag a little. */
export const RATE_GRACE_MS = 5_000;
