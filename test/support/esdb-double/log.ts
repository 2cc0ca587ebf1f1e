// The double's log: `$all` in memory, streams as views of it, and the stream-level rules of the
// server: expected revisions, idempotent retries, stream metadata (`$$name` streams holding
// `$metadata` events) applied on read, soft delete and tombstone.
import { randomUUID } from 'node:crypto';

export interface StoredEvent {
  streamName: string;
  revision: bigint;
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
  /** Commit = prepare position (every event commits itself, as gRPC appends do). */
  position: bigint;
  /** .NET ticks (100 ns) since the Unix epoch, as the server's `created` metadata. */
  created: string;
  createdMs: number;
}

export interface ProposedEvent {
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
}

export type Expected = { kind: 'any' } | { kind: 'no_stream' } | { kind: 'stream_exists' } | { kind: 'revision'; revision: bigint };

export type Decision =
  | { ok: true; current: bigint; position: bigint | undefined }
  | { ok: false; reason: 'wrong_expected_version'; current: bigint /* -1n: no stream */ }
  | { ok: false; reason: 'stream_deleted' };

export type StreamRead = { kind: 'not_found' } | { kind: 'deleted' } | { kind: 'found'; events: StoredEvent[] };

/** EventNumber.DeletedStream: the `$tb` of a soft-deleted stream and the revision of a tombstone. */
export const DELETED_STREAM = (1n << 63n) - 1n;
/** The server's documented default (MaxAppendSize): the most an append's events may weigh. */
export const DEFAULT_MAX_APPEND_SIZE = 1_048_576;

const METADATA_TYPE = '$metadata';
const TOMBSTONE_TYPE = '$streamDeleted';
const LINK_TYPE = '$>';

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

interface AppliedMetadata {
  raw: Record<string, unknown>;
  truncateBefore?: bigint;
  maxCount?: number;
  maxAgeSeconds?: number;
}

export class Log {
  readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly tombstoned = new Set<string>();
  private readonly listeners = new Set<() => void>();
  // Real positions are byte offsets into the transaction file; a fresh node starts past its headers.
  private nextPosition = 1_024n;

  constructor() {
    // A fresh node writes a few events of its own before anyone appends.
    this.write('$users', [{ id: randomUUID(), type: '$UserCreated', contentType: 'application/json', data: json({ loginName: 'admin' }), customMetadata: new Uint8Array() }]);
    this.write('$settings', [{ id: randomUUID(), type: '$settings', contentType: 'application/json', data: json({}), customMetadata: new Uint8Array() }]);
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  lastRevision(name: string): bigint {
    const events = this.streams.get(name);
    return events ? BigInt(events.length - 1) : -1n;
  }

  isTombstoned(name: string): boolean {
    return this.tombstoned.has(name) || (name.startsWith('$$') && this.tombstoned.has(name.slice(2)));
  }

  /** What a read of the stream returns: tombstoned, not found (no events, or soft-deleted), or the events metadata leaves visible. */
  read(name: string): StreamRead {
    if (this.isTombstoned(name)) return { kind: 'deleted' };
    const events = this.streams.get(name);
    if (!events || events.length === 0) return { kind: 'not_found' };
    const meta = name.startsWith('$$') ? undefined : this.metadata(name);
    if (meta?.truncateBefore === DELETED_STREAM) return { kind: 'not_found' };
    let first = meta?.truncateBefore ?? 0n;
    if (meta?.maxCount !== undefined) first = bigMax(first, BigInt(events.length - meta.maxCount));
    const oldest = meta?.maxAgeSeconds !== undefined ? Date.now() - meta.maxAgeSeconds * 1000 : -Infinity;
    return { kind: 'found', events: events.filter((e) => e.revision >= first && e.createdMs >= oldest) };
  }

  /** The event a link (`$>`, data `revision@stream`) points to, if it is still readable. */
  resolve(link: StoredEvent): StoredEvent | undefined {
    const text = Buffer.from(link.data).toString('utf8');
    const at = text.indexOf('@');
    if (at < 0) return undefined;
    const read = this.read(text.slice(at + 1));
    const revision = BigInt(text.slice(0, at));
    return read.kind === 'found' ? read.events.find((e) => e.revision === revision) : undefined;
  }

  isLink(event: StoredEvent): boolean {
    return event.type === LINK_TYPE;
  }

  /** Checks the expected revision and appends, or recognises a retry of an append that already happened. */
  append(streamName: string, expected: Expected, proposed: readonly ProposedEvent[]): Decision {
    if (this.isTombstoned(streamName)) return { ok: false, reason: 'stream_deleted' };
    const current = this.lastRevision(streamName);
    const existing = this.streams.get(streamName) ?? [];
    const first = proposed[0];
    if (first) {
      const at = existing.findIndex((e) => e.id === first.id);
      if (at >= 0) {
        // The server answers a retry of an append that did commit with the original revision
        // and no position, instead of writing the events twice.
        const same = proposed.every((p, i) => existing[at + i]?.id === p.id);
        if (same && expectedMatches(expected, BigInt(at) - 1n, false)) {
          return { ok: true, current: BigInt(at + proposed.length - 1), position: undefined };
        }
      }
    }
    const softDeleted = !streamName.startsWith('$$') && this.metadata(streamName)?.truncateBefore === DELETED_STREAM;
    if (!expectedMatches(expected, current, softDeleted)) return { ok: false, reason: 'wrong_expected_version', current };
    if (!first) return { ok: true, current, position: existing.at(-1)?.position };
    // Appending to a soft-deleted stream brings it back: the old events stay truncated, the
    // revisions go on, and the rest of its metadata is kept.
    if (softDeleted) this.writeMetadata(streamName, { ...this.metadata(streamName)?.raw, $tb: Number(current + 1n) });
    const written = this.write(streamName, proposed);
    return { ok: true, current: written.at(-1)?.revision ?? current, position: written.at(-1)?.position };
  }

  /** Soft delete: `$tb` becomes DeletedStream; reads say "not found" until the next append. */
  softDelete(streamName: string, expected: Expected): Decision {
    if (this.isTombstoned(streamName)) return { ok: false, reason: 'stream_deleted' };
    const current = this.lastRevision(streamName);
    const meta = this.metadata(streamName);
    // Since EventStore PR 3154 deleting a stream that never existed (no events, no metadata) is a conflict.
    if ((current < 0n && meta === undefined) || !expectedMatches(expected, current, false)) {
      return { ok: false, reason: 'wrong_expected_version', current };
    }
    const position = this.writeMetadata(streamName, { ...meta?.raw, $tb: Number(DELETED_STREAM) });
    return { ok: true, current, position };
  }

  /** Hard delete: the stream can never be read or written again. */
  tombstone(streamName: string, expected: Expected): Decision {
    if (this.isTombstoned(streamName)) return { ok: false, reason: 'stream_deleted' };
    const current = this.lastRevision(streamName);
    if (!expectedMatches(expected, current, false)) return { ok: false, reason: 'wrong_expected_version', current };
    this.tombstoned.add(streamName);
    const [marker] = this.write(streamName, [{ id: randomUUID(), type: TOMBSTONE_TYPE, contentType: 'application/json', data: new Uint8Array(), customMetadata: new Uint8Array() }], DELETED_STREAM);
    return { ok: true, current, position: marker?.position };
  }

  private metadata(name: string): AppliedMetadata | undefined {
    const last = this.streams.get(`$$${name}`)?.at(-1);
    if (!last || last.type !== METADATA_TYPE) return undefined;
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(Buffer.from(last.data).toString('utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    const integer = (key: string) => (typeof raw[key] === 'number' && Number.isInteger(raw[key]) ? (raw[key] as number) : undefined);
    const tb = integer('$tb');
    return {
      raw,
      // JSON numbers cannot hold long.MaxValue exactly: anything that large means DeletedStream.
      ...(tb !== undefined ? { truncateBefore: tb >= Number(DELETED_STREAM) ? DELETED_STREAM : BigInt(tb) } : {}),
      ...(integer('$maxCount') !== undefined ? { maxCount: integer('$maxCount') } : {}),
      ...(integer('$maxAge') !== undefined ? { maxAgeSeconds: integer('$maxAge') } : {}),
    };
  }

  private writeMetadata(name: string, raw: Record<string, unknown>): bigint | undefined {
    const [event] = this.write(`$$${name}`, [{ id: randomUUID(), type: METADATA_TYPE, contentType: 'application/json', data: json(raw), customMetadata: new Uint8Array() }]);
    return event?.position;
  }

  private write(streamName: string, proposed: readonly ProposedEvent[], revision?: bigint): StoredEvent[] {
    let events = this.streams.get(streamName);
    if (!events) {
      events = [];
      this.streams.set(streamName, events);
    }
    const written: StoredEvent[] = [];
    for (const p of proposed) {
      const now = Date.now();
      const event: StoredEvent = {
        streamName,
        revision: revision ?? BigInt(events.length),
        ...p,
        position: this.nextPosition,
        created: (BigInt(now) * 10_000n).toString(),
        createdMs: now,
      };
      // Roughly the size of the prepare record: header + names + payload.
      this.nextPosition += 90n + BigInt(streamName.length + p.type.length + p.data.length + p.customMetadata.length);
      // A tombstone is in `$all` but not one of the stream's revisions.
      if (revision === undefined) events.push(event);
      this.all.push(event);
      written.push(event);
    }
    for (const listener of [...this.listeners]) listener();
    return written;
  }
}

function expectedMatches(expected: Expected, current: bigint, softDeleted: boolean): boolean {
  switch (expected.kind) {
    case 'any':
      return true;
    case 'no_stream':
      return current === -1n || softDeleted;
    case 'stream_exists':
      return current >= 0n && !softDeleted;
    case 'revision':
      return current === expected.revision;
  }
}

function bigMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
