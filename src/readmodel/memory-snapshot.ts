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
// and a trailer with the sha256 of every line before it. A file that does not end in a matching
// trailer (torn by a crash, truncated, edited) is not used: the caller replays the whole log.
// Written to a temp file, fsynced, then renamed over the old one: a reader sees the old snapshot
// or the new one, never half of one.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isExpired, type Entry, type Generation } from './memory-generation.ts';

const VERSION = 1;
export const SNAPSHOT_FILE = 'read-model.snapshot';

type EntryLine = [key: string, type: 's', value: string, expireAtMs: number | null] | [key: string, type: 'h', fields: [string, string][], expireAtMs: number | null] | [key: string, type: 'S', members: string[], expireAtMs: number | null];

interface Header {
  v: number;
  checkpoint: string;
  logId: string | null;
  checkpointEvent: { id: string; streamId: string; revision: string; position: string } | null;
  entries: number;
}

function entryLine(key: string, entry: Entry): EntryLine {
  const exp = entry.expireAtMs ?? null;
  if (entry.type === 'string') return [key, 's', entry.value, exp];
  if (entry.type === 'hash') return [key, 'h', [...entry.fields], exp];
  return [key, 'S', [...entry.members], exp];
}

/** The generation as snapshot lines, read in one synchronous pass (a consistent state: no write can interleave). */
export function snapshotLines(gen: Generation, nowMs: number): string[] {
  const body: string[] = [];
  for (const [key, entry] of gen.data) if (!isExpired(entry, nowMs)) body.push(JSON.stringify(entryLine(key, entry)));
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

const trailerOf = (lines: readonly string[]): string => {
  const hash = createHash('sha256');
  for (const line of lines) hash.update(line + '\n');
  return JSON.stringify({ end: hash.digest('hex') });
};

/** Writes the lines atomically as `dir`/read-model.snapshot (temp file, fsync, rename). */
export async function writeSnapshotFile(dir: string, lines: readonly string[]): Promise<void> {
  const path = join(dir, SNAPSHOT_FILE);
  const temp = `${path}.${process.pid}.tmp`;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = await open(temp, 'w', 0o600);
  try {
    // In slices, so a large snapshot is written without one huge string.
    for (let i = 0; i < lines.length; i += 10_000) await file.write(lines.slice(i, i + 10_000).join('\n') + '\n');
    await file.write(trailerOf(lines) + '\n');
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
export async function readSnapshotFile(dir: string, id: string): Promise<Generation | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, SNAPSHOT_FILE), 'utf8');
  } catch {
    return undefined;
  }
  return parseSnapshot(text, id);
}

export function parseSnapshot(text: string, id: string): Generation | undefined {
  if (!text.endsWith('\n')) return undefined; // not ended by a newline: torn
  // The trailer is the last line; what it covers is every byte before it, hashed in one update
  // (as trailerOf hashes the lines one by one when writing: the same bytes).
  const bodyEnd = text.lastIndexOf('\n', text.length - 2) + 1;
  const body = text.slice(0, bodyEnd);
  const trailer = text.slice(bodyEnd, -1);
  if (trailer !== JSON.stringify({ end: createHash('sha256').update(body).digest('hex') })) return undefined;
  const lines = body.split('\n');
  lines.pop();
  if (lines.length === 0) return undefined;
  try {
    const header = JSON.parse(lines[0] ?? '') as Header;
    if (header.v !== VERSION || header.entries !== lines.length - 1) return undefined;
    const data = new Map<string, Entry>();
    for (let i = 1; i < lines.length; i++) {
      const [key, type, content, exp] = JSON.parse(lines[i] as string) as EntryLine;
      const expireAtMs = exp ?? undefined;
      if (type === 's') data.set(key, { type: 'string', value: content, expireAtMs });
      else if (type === 'h') data.set(key, { type: 'hash', fields: new Map(content), expireAtMs });
      else data.set(key, { type: 'set', members: new Set(content), expireAtMs });
    }
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
