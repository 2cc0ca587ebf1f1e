// A snapshot of the memory read model's live generation, so that the embedded mode need not
// replay the whole log at every start: the entries still live, with the checkpoint and the
// provenance (the log's identity, the event at the checkpoint) they were read with, in one file
// of the data dir. At start the file is read, then only the log's tail is replayed; the runner
// judges the provenance like any read model's (read-model-verdict.ts), and the caller refuses a
// snapshot of another log outright.
//
// What it holds is what the read model holds: keys and values made of digests (codes, tokens,
// keys are only HMAC digests) and sealed personal fields (crypto/sealed.ts), never a secret or
// personal data in plain text. Rate buckets are not part of a generation and are not kept.
//
// Format: JSON lines. A header (version, checkpoint, provenance, entry count), one line per entry,
// and a trailer with the sha256 of every line before it and an HMAC of that under the server
// secret. A file that does not end in a matching trailer (torn by a crash, truncated, edited, or
// written whole by someone without the secret, who could otherwise hand the service sessions the
// log never had) is not used: the caller replays the whole log.
// Written to a temp file, fsynced, then renamed over the old one: a reader sees the old snapshot
// or the new one, never half of one.
import { createHash } from 'node:crypto';
import type { Hasher } from '../crypto/digests.ts';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { dormantOfLine, isExpired, lineOfEntry, type Generation, type StoredEntry } from './memory-generation.ts';

const VERSION = 1;
export const SNAPSHOT_FILE = 'read-model.snapshot';

interface Header {
  v: number;
  checkpoint: string;
  logId: string | null;
  checkpointEvent: { id: string; streamId: string; revision: string; position: string } | null;
  entries: number;
}

/** The generation as snapshot lines, read in one synchronous pass (a consistent state: no write can interleave). */
export function snapshotLines(gen: Generation, nowMs: number): string[] {
  const body: string[] = [];
  for (const [key, entry] of gen.data) if (!isExpired(entry, nowMs)) body.push(lineOfEntry(key, entry));
  const e = gen.checkpointEvent;
  const header: Header = {
    v: VERSION,
    checkpoint: String(gen.checkpoint),
    logId: gen.logId ?? null,
    checkpointEvent: e ? { id: e.id, streamId: e.streamId, revision: String(e.revision), position: String(e.position) } : null,
    entries: body.length,
  };
  return [JSON.stringify(header), ...body];
}

/** What seals a snapshot: the service's hasher (its secret, and the previous one after a rotation). */
export type SnapshotSealer = Pick<Hasher, 'digest' | 'matches'>;

/** The trailer: the sha256 of every byte before it, and that sealed under the server secret. */
const trailerOf = (end: string, sealer: SnapshotSealer): string => JSON.stringify({ end, mac: sealer.digest('read-model-snapshot', end) });

/** Writes the lines atomically as `dir`/read-model.snapshot (temp file, fsync, rename). */
export async function writeSnapshotFile(dir: string, lines: readonly string[], sealer: SnapshotSealer): Promise<void> {
  const path = join(dir, SNAPSHOT_FILE);
  const temp = `${path}.${process.pid}.tmp`;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = await open(temp, 'w', 0o600);
  try {
    // In slices, so a large snapshot is written without one huge string; each hashed as written.
    const hash = createHash('sha256');
    for (let i = 0; i < lines.length; i += 10_000) {
      const slice = lines.slice(i, i + 10_000).join('\n') + '\n';
      hash.update(slice);
      await file.write(slice);
    }
    await file.write(trailerOf(hash.digest('hex'), sealer) + '\n');
    await file.sync();
  } catch (error) {
    await file.close();
    await rm(temp, { force: true });
    throw error;
  }
  await file.close();
  await rename(temp, path);
}

/** The generation a snapshot file holds, or undefined when there is none or it is not whole. */
export async function readSnapshotFile(dir: string, id: string, sealer: SnapshotSealer): Promise<Generation | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, SNAPSHOT_FILE), 'utf8');
  } catch {
    return undefined;
  }
  return parseSnapshot(text, id, sealer);
}

export function parseSnapshot(text: string, id: string, sealer: SnapshotSealer): Generation | undefined {
  if (!text.endsWith('\n')) return undefined; // not ended by a newline: torn
  // The trailer is the last line; what it covers is every byte before it, hashed in one update.
  const bodyEnd = text.lastIndexOf('\n', text.length - 2) + 1;
  const body = text.slice(0, bodyEnd);
  const trailer = text.slice(bodyEnd, -1);
  const end = createHash('sha256').update(body).digest('hex');
  let sealed: { end?: unknown; mac?: unknown };
  try {
    sealed = JSON.parse(trailer) as { end?: unknown; mac?: unknown };
  } catch {
    return undefined;
  }
  if (sealed.end !== end || typeof sealed.mac !== 'string' || !sealer.matches('read-model-snapshot', end, sealed.mac)) return undefined;
  const headerEnd = body.indexOf('\n');
  if (headerEnd < 0) return undefined;
  try {
    const header = JSON.parse(body.slice(0, headerEnd)) as Header;
    if (header.v !== VERSION) return undefined;
    const data = new Map<string, StoredEntry>();
    let lines = 0;
    for (let start = headerEnd + 1; start < body.length; ) {
      const lineEnd = body.indexOf('\n', start);
      const { key, entry } = dormantOfLine(body.slice(start, lineEnd));
      start = lineEnd + 1;
      lines++;
      data.set(key, entry);
    }
    if (header.entries !== lines) return undefined;
    const e = header.checkpointEvent;
    return {
      id,
      data,
      checkpoint: BigInt(header.checkpoint),
      logId: header.logId ?? undefined,
      checkpointEvent: e ? { id: e.id, streamId: e.streamId, revision: BigInt(e.revision), position: BigInt(e.position) } : undefined,
    };
  } catch {
    return undefined;
  }
}
