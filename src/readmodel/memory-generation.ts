// One generation of the in-process read model: its entries (strings, hashes, sets, each with an
// optional expiry by the injected clock), its checkpoint and provenance, and the read-model
// operations applied to it exactly as the Redis script applies them, so both adapters agree.
import type { ReadModelOp, ReadModelProvenance } from './read-model.ts';
import { digestEntries, type DigestEntry } from './read-model-digest.ts';

export type Entry =
  | { type: 'string'; value: string; expireAtMs: number | undefined }
  | { type: 'hash'; fields: Map<string, string>; expireAtMs: number | undefined }
  | { type: 'set'; members: Set<string>; expireAtMs: number | undefined };

/**
 * An entry read from a snapshot and not touched since, kept as its snapshot line and made an
 * Entry at its first use (memory-snapshot.ts). Building a Map or a Set for each of a million
 * entries at start was most of a start-up from the snapshot, and most entries are never read
 * again before they expire; a line is also a tenth of the memory.
 */
export interface DormantEntry {
  type: 'dormant';
  /** The snapshot's line for it, `[key, type, content, expireAtMs]` as JSON. */
  line: string;
  expireAtMs: number | undefined;
}

export type StoredEntry = Entry | DormantEntry;

type EntryLine = [key: string, type: 's', value: string, expireAtMs: number | null] | [key: string, type: 'h', fields: [string, string][], expireAtMs: number | null] | [key: string, type: 'S', members: string[], expireAtMs: number | null];

/** The Entry a snapshot line describes. */
export function entryOfLine(line: string): { key: string; entry: Entry } {
  const [key, type, content, exp] = JSON.parse(line) as EntryLine;
  const expireAtMs = exp ?? undefined;
  if (type === 's') return { key, entry: { type: 'string', value: content, expireAtMs } };
  if (type === 'h') return { key, entry: { type: 'hash', fields: new Map(content), expireAtMs } };
  return { key, entry: { type: 'set', members: new Set(content), expireAtMs } };
}

/** The key of an entry line: its first element, a JSON string (unescaped only when it has escapes). */
function keyOfLine(line: string): string {
  if (!line.startsWith('["')) throw new SyntaxError('snapshot: an entry line does not start with its key');
  const backslash = line.indexOf('\\', 2);
  const quote = line.indexOf('"', 2);
  if (quote < 0) throw new SyntaxError('snapshot: an entry line has no end to its key');
  if (backslash < 0 || backslash > quote) return line.slice(2, quote);
  // An escape before the first quote: the key has escapes (and that quote may be one of them).
  let i = 2;
  for (; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) break;
  }
  return JSON.parse(line.slice(1, i + 1)) as string;
}

/** The expiry of an entry line: its last element, a number or null. */
function expiryOfLine(line: string): number | undefined {
  if (!line.endsWith(']')) throw new SyntaxError('snapshot: an entry line does not end its array');
  const raw = line.slice(line.lastIndexOf(',') + 1, -1);
  if (raw === 'null') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new SyntaxError('snapshot: an entry line has no expiry');
  return value;
}

/** A snapshot line as a dormant entry: only its key and its expiry are read now. */
export function dormantOfLine(line: string): { key: string; entry: DormantEntry } {
  return { key: keyOfLine(line), entry: { type: 'dormant', line, expireAtMs: expiryOfLine(line) } };
}

/** The snapshot line of an entry (a dormant one's is the line it was read from). */
export function lineOfEntry(key: string, entry: StoredEntry): string {
  const exp = entry.expireAtMs ?? null;
  if (entry.type === 'dormant') return entry.line;
  if (entry.type === 'string') return JSON.stringify([key, 's', entry.value, exp]);
  if (entry.type === 'hash') return JSON.stringify([key, 'h', [...entry.fields], exp]);
  return JSON.stringify([key, 'S', [...entry.members], exp]);
}

const awake = (entry: StoredEntry): Entry => (entry.type === 'dormant' ? entryOfLine(entry.line).entry : entry);

export interface Generation {
  id: string;
  data: Map<string, StoredEntry>;
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
export const isExpired = (entry: StoredEntry, nowMs: number): boolean => entry.expireAtMs !== undefined && entry.expireAtMs <= nowMs;

export function liveEntry(gen: Generation, key: string, nowMs: number): Entry | undefined {
  const stored = gen.data.get(key);
  if (stored === undefined) return undefined;
  if (isExpired(stored, nowMs)) {
    gen.data.delete(key);
    return undefined;
  }
  if (stored.type !== 'dormant') return stored;
  const entry = awake(stored);
  gen.data.set(key, entry);
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
  for (const [key, stored] of gen.data) {
    if (isExpired(stored, nowMs)) continue;
    // Woken for the digest only: the generation keeps it dormant.
    const entry = awake(stored);
    if (entry.type === 'string') entries.push({ key, type: 'string', value: entry.value });
    else if (entry.type === 'hash') entries.push({ key, type: 'hash', fields: [...entry.fields] });
    else entries.push({ key, type: 'set', members: [...entry.members] });
  }
  return digestEntries(entries);
}
