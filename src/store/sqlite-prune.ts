// Pruning an embedded log: whole ephemeral streams (events/ephemeral-streams.ts) whose expiry is
// more than the grace in the past are deleted from the SQLite file, then the file is vacuumed and
// its WAL truncated so that it shrinks. Nothing else is ever deleted, and positions never change:
// the remaining events keep theirs, and AUTOINCREMENT never hands a deleted one out again.
//
// What a read model's checkpoint needs (projections/read-model-verdict.ts): the event its
// checkpoint names must still be there, and the log's newest position must not move back (or a
// read model checkpointed there reads as "ahead of its log"). So the stream holding the log's
// newest event is never pruned, nor the streams the caller names (the read models' checkpoint
// events). What is removed is recorded first (`record`: the log's integrity stream lists every
// removed event's hash, integrity/rewrite-records.ts, so verify tells a prune from tampering), and
// then exactly the recorded events are deleted, by position: an event appended meanwhile to a
// chosen stream by another process is neither recorded nor deleted.
import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { EventRow } from './sqlite-rows.ts';
import { EPHEMERAL_STREAM_PREFIXES, EXPIRY_FIELDS } from '../events/ephemeral-streams.ts';

export interface PruneOptions {
  nowMs: number;
  /** Streams whose expiry is at least this far in the past are removed. */
  graceMs: number;
  /** Streams never removed, whatever their expiry: those of read models' checkpoint events. */
  keepStreams?: readonly string[];
  /**
   * Whether to rewrite the file afterwards (VACUUM) so that it shrinks: 'always', or
   * 'when-worth-it' (a quarter of its pages or more are free; otherwise the free pages are simply
   * reused by the next appends, and the file blocks nobody while it is rewritten). Default 'always'.
   */
  vacuum?: 'always' | 'when-worth-it';
  /** Called with the rows about to be deleted, before they are; a failure leaves the log as it was. */
  record?: (rows: PrunedRow[]) => Promise<void>;
}

export type PrunedRow = EventRow;

export interface PruneReport {
  streams: number;
  events: number;
  /** Size of the file plus its WAL before and after. */
  bytesBefore: number;
  bytesAfter: number;
  vacuumed: boolean;
}

/** Each event's expiry, whichever field names it; NULL for an event that names none. */
const EXPIRY_SQL = `coalesce(${EXPIRY_FIELDS.map((f) => `json_extract(data, '$.${f}')`).join(', ')})`;

/** What the log takes on disk: the file and its WAL. */
function fileBytes(path: string): number {
  const size = (p: string): number => (existsSync(p) ? statSync(p).size : 0);
  return size(path) + size(`${path}-wal`);
}

export async function pruneSqliteLog(path: string, options: PruneOptions): Promise<PruneReport> {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.defaultSafeIntegers(true);
    db.pragma('busy_timeout = 5000');
    const bytesBefore = fileBytes(path);
    const prefixes = EPHEMERAL_STREAM_PREFIXES.map(() => 'substr(stream_id, 1, ?) = ?').join(' OR ');
    const prefixParams = EPHEMERAL_STREAM_PREFIXES.flatMap((p) => [p.length, p]);
    // A stream whose events do not all name an expiry is not one we understand: it is kept.
    const candidates = db.prepare(
      `SELECT stream_id FROM events WHERE ${prefixes}
       GROUP BY stream_id
       HAVING count(${EXPIRY_SQL}) = count(*) AND max(${EXPIRY_SQL}) <= ?
         AND max(position) < (SELECT max(position) FROM events)`,
    );
    const rowsOf = db.prepare('SELECT * FROM events WHERE stream_id = ? ORDER BY position');
    const remove = db.prepare('DELETE FROM events WHERE position = ?');
    const keep = new Set(options.keepStreams ?? []);
    const expiredBy = options.nowMs - options.graceMs;
    const chosen = (candidates.all(...prefixParams, expiredBy) as { stream_id: string }[]).filter((row) => !keep.has(row.stream_id));
    const rows = chosen.flatMap((row) => rowsOf.all(row.stream_id) as PrunedRow[]).sort((a, b) => (a.position < b.position ? -1 : 1));
    if (rows.length > 0) await options.record?.(rows);
    const pruned = db
      .transaction(() => {
        let events = 0;
        for (const row of rows) events += remove.run(row.position).changes;
        return { streams: chosen.length, events };
      })
      .immediate();
    let vacuumed = false;
    const free = Number(db.pragma('freelist_count', { simple: true }));
    const pages = Number(db.pragma('page_count', { simple: true }));
    if (pruned.events > 0 && ((options.vacuum ?? 'always') === 'always' || free * 4 >= pages)) {
      // Freed pages stay in the file (and the deleted rows in the WAL) until these.
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.exec('VACUUM');
      db.pragma('wal_checkpoint(TRUNCATE)');
      vacuumed = true;
    }
    return { ...pruned, bytesBefore, bytesAfter: fileBytes(path), vacuumed };
  } finally {
    db.close();
  }
}
