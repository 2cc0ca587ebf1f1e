// One generation of the in-process read model: its entries (strings, hashes, sets, each with an
// optional expiry by the injected clock), its checkpoint and provenance, and the read-model
// operations applied to it exactly as the Redis script applies them, so both adapters agree.
import type { ReadModelOp, ReadModelProvenance } from './read-model.ts';
import { digestEntries, type DigestEntry } from './read-model-digest.ts';

export type Entry =
  | { type: 'string'; value: string; expireAtMs: number | undefined }
  | { type: 'hash'; fields: Map<string, string>; expireAtMs: number | undefined }
  | { type: 'set'; members: Set<string>; expireAtMs: number | undefined };

export interface Generation {
  id: string;
  data: Map<string, Entry>;
  checkpoint: bigint;
  logId: string | undefined;
  checkpointEvent: ReadModelProvenance['checkpointEvent'];
}

export const emptyGeneration = (id: string): Generation => ({ id, data: new Map(), checkpoint: -1n, logId: undefined, checkpointEvent: undefined });

export function provenanceOf(gen: Generation): ReadModelProvenance {
  return {
    generation: gen.id,
    checkpoint: gen.checkpoint,
    ...(gen.logId !== undefined ? { logId: gen.logId } : {}),
    ...(gen.checkpointEvent ? { checkpointEvent: { ...gen.checkpointEvent } } : {}),
  };
}

// An entry counts as gone from the moment its expiry is reached (expireAtMs <= now), the same
// boundary the Redis adapter applies with PEXPIRETIME.
export const isExpired = (entry: Entry, nowMs: number): boolean => entry.expireAtMs !== undefined && entry.expireAtMs <= nowMs;

export function liveEntry(gen: Generation, key: string, nowMs: number): Entry | undefined {
  const entry = gen.data.get(key);
  if (entry === undefined) return undefined;
  if (isExpired(entry, nowMs)) {
    gen.data.delete(key);
    return undefined;
  }
  return entry;
}

// Mirrors the Redis script op for op, including its choices: a write whose expiry has
// already passed removes the key (the value it would write is already gone, and an older
// value must not show through); hset/sadd on a key of another type replace it.
export function applyOp(gen: Generation, op: ReadModelOp, nowMs: number): void {
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

export function digestOf(gen: Generation, nowMs: number): string {
  const entries: DigestEntry[] = [];
  for (const [key, entry] of gen.data) {
    if (isExpired(entry, nowMs)) continue;
    if (entry.type === 'string') entries.push({ key, type: 'string', value: entry.value });
    else if (entry.type === 'hash') entries.push({ key, type: 'hash', fields: [...entry.fields] });
    else entries.push({ key, type: 'set', members: [...entry.members] });
  }
  return digestEntries(entries);
}
