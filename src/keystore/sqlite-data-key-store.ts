// Data keys in the embedded mode: their own SQLite file beside the log (`keys.db`), so that a copy
// of the log alone holds no key, and deleting a key removes its bytes: secure_delete zeroes the
// freed page content, and the WAL is truncated after every erasure so no old page image remains.
import Database from 'better-sqlite3';
import type { DataKeyStore, WrappedKey } from './data-key-store.ts';

export function openSqliteDataKeyStore(path: string): DataKeyStore {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('secure_delete = ON');
  db.pragma('busy_timeout = 2000');
  db.exec('CREATE TABLE IF NOT EXISTS data_keys (subject TEXT PRIMARY KEY, key_id TEXT NOT NULL, wrapped BLOB NOT NULL, created_at TEXT NOT NULL)');
  const select = db.prepare<[string], { subject: string; key_id: string; wrapped: Buffer }>('SELECT subject, key_id, wrapped FROM data_keys WHERE subject = ?');
  const insert = db.prepare('INSERT OR IGNORE INTO data_keys (subject, key_id, wrapped, created_at) VALUES (?, ?, ?, ?)');
  const remove = db.prepare('DELETE FROM data_keys WHERE subject = ?');
  const update = db.prepare('UPDATE data_keys SET wrapped = ? WHERE subject = ? AND key_id = ?');
  const before = db.prepare<[string, string, string], { subject: string }>('SELECT subject FROM data_keys WHERE subject >= ? AND subject < ? AND subject < ? ORDER BY subject');
  const page = db.prepare<[string, number], { subject: string; key_id: string; wrapped: Buffer }>('SELECT subject, key_id, wrapped FROM data_keys WHERE subject > ? ORDER BY subject LIMIT ?');
  const row = (r: { subject: string; key_id: string; wrapped: Buffer } | undefined): WrappedKey | undefined =>
    r ? { subject: r.subject, keyId: r.key_id, wrapped: Buffer.from(r.wrapped) } : undefined;

  return {
    async get(subject) {
      return row(select.get(subject));
    },
    async putIfAbsent(candidate) {
      insert.run(candidate.subject, candidate.keyId, candidate.wrapped, new Date().toISOString());
      const held = row(select.get(candidate.subject));
      if (!held) throw new Error(`data key store: the key of ${candidate.subject} vanished while being created`);
      return held;
    },
    async rewrap(key) {
      update.run(key.wrapped, key.subject, key.keyId);
    },
    async erase(subjectList) {
      const erased = db.transaction((list: readonly string[]) => list.filter((s) => remove.run(s).changes > 0))(subjectList);
      if (erased.length > 0) db.pragma('wal_checkpoint(TRUNCATE)');
      return erased;
    },
    async listBefore(prefix, limit) {
      // Every subject with the prefix sorts between prefix and prefix + U+FFFF.
      return before.all(prefix, `${prefix}\uffff`, limit).map((r) => r.subject);
    },
    async *list() {
      // Pages by subject rather than one open cursor: the caller may use the store between keys.
      let after = '';
      for (;;) {
        const rows = page.all(after, 500);
        for (const r of rows) yield { subject: r.subject, keyId: r.key_id, wrapped: Buffer.from(r.wrapped) };
        if (rows.length < 500) return;
        after = rows[rows.length - 1]!.subject;
      }
    },
    async close() {
      db.close();
    },
  };
}
