// Sealing the personal data of events written before sealing existed, in an embedded log: the
// SQLite file is ours to rewrite, so each such event's row is rewritten in place with its personal
// fields sealed exactly as the sealing store seals new appends, and the file is then vacuumed and
// its WAL truncated so that no page still holds the plain values. (An EventStoreDB log cannot be
// rewritten; see log-command.ts.) Ids, types, streams, revisions and positions never change. The
// rows about to change are handed to `record` first (the integrity stream keeps their hashes
// before and after, integrity/rewrite-records.ts), and changed only once that succeeded.
import Database from 'better-sqlite3';
import type { EventMetadata, NewEvent } from './event-store.ts';

export interface ResealReport {
  scanned: number;
  rewritten: number;
}

export interface ResealedRow {
  position: number;
  before: { stream_id: string; event_id: string; type: string; data: string; metadata: string };
  data: string;
  metadata: string;
}

export async function resealSqliteLog(path: string, seal: (event: NewEvent) => Promise<NewEvent>, record?: (changes: ResealedRow[]) => Promise<void>): Promise<ResealReport> {
  const db = new Database(path);
  try {
    db.pragma('busy_timeout = 5000');
    const rows = db.prepare<[], { position: number; stream_id: string; event_id: string; type: string; data: string; metadata: string }>('SELECT position, stream_id, event_id, type, data, metadata FROM events ORDER BY position');
    const update = db.prepare('UPDATE events SET data = ?, metadata = ? WHERE position = ?');
    let scanned = 0;
    const changes: ResealedRow[] = [];
    for (const row of rows.iterate()) {
      scanned++;
      const event: NewEvent = { id: row.event_id, type: row.type, data: JSON.parse(row.data) as unknown, metadata: JSON.parse(row.metadata) as EventMetadata };
      const sealed = await seal(event);
      const data = JSON.stringify(sealed.data ?? null);
      const metadata = JSON.stringify(sealed.metadata);
      if (data !== row.data || metadata !== row.metadata) changes.push({ position: row.position, before: row, data, metadata });
    }
    if (changes.length > 0) await record?.(changes);
    db.transaction(() => {
      for (const change of changes) update.run(change.data, change.metadata, change.position);
    })();
    if (changes.length > 0) {
      // The old values stay in freed pages and in the WAL until these.
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.exec('VACUUM');
      db.pragma('wal_checkpoint(TRUNCATE)');
    }
    return { scanned, rewritten: changes.length };
  } finally {
    db.close();
  }
}
