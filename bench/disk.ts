// What one durable commit costs on this disk, both ways SQLite can make it durable: synchronous =
// FULL (the fsync of the WAL inside COMMIT, on the event loop: how the store appended before) and
// synchronous = NORMAL followed by an fdatasync of the WAL (what the store does now: only the
// COMMIT's writes block the loop, the sync runs on the thread pool and batches share it).
import { fdatasyncSync, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { percentile } from './stats.ts';

export interface CommitCost {
  commits: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

export interface DiskCost {
  /** A FULL commit, fsync included, all on the loop. */
  full: CommitCost;
  /** A NORMAL commit: what stays on the loop now. */
  normalCommit: CommitCost;
  /** The WAL's fdatasync after it, off the loop. */
  walSync: CommitCost;
}

const summary = (times: Float64Array): CommitCost => {
  const sorted = times.sort();
  return { commits: times.length, meanMs: sorted.reduce((a, b) => a + b, 0) / times.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
};

export function measureCommitCost(commits = 300): DiskCost {
  const dir = mkdtempSync(join(tmpdir(), 'authlog-bench-disk-'));
  try {
    const path = join(dir, 'commit.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const once = db.transaction((v: string) => insert.run(v));
    const payload = 'x'.repeat(400);
    db.pragma('synchronous = FULL');
    const full = new Float64Array(commits);
    for (let i = 0; i < commits; i++) {
      const t0 = performance.now();
      once.immediate(payload);
      full[i] = performance.now() - t0;
    }
    db.pragma('synchronous = NORMAL');
    const wal = openSync(`${path}-wal`, 'r');
    const normal = new Float64Array(commits);
    const sync = new Float64Array(commits);
    for (let i = 0; i < commits; i++) {
      const t0 = performance.now();
      once.immediate(payload);
      const t1 = performance.now();
      fdatasyncSync(wal);
      normal[i] = t1 - t0;
      sync[i] = performance.now() - t1;
    }
    closeSync(wal);
    db.close();
    return { full: summary(full), normalCommit: summary(normal), walSync: summary(sync) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
