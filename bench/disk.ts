// What one durable commit costs on this disk: the event store commits every append in WAL mode
// with synchronous = FULL (an fsync of the WAL), synchronously on the event loop. This puts an
// upper bound on appends per second for one process, whatever else the service does.
import { mkdtempSync, rmSync } from 'node:fs';
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

export function measureCommitCost(commits = 300): CommitCost {
  const dir = mkdtempSync(join(tmpdir(), 'authlog-bench-disk-'));
  try {
    const db = new Database(join(dir, 'commit.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const once = db.transaction((v: string) => insert.run(v));
    const times = new Float64Array(commits);
    const payload = 'x'.repeat(400);
    for (let i = 0; i < commits; i++) {
      const t0 = performance.now();
      once.immediate(payload);
      times[i] = performance.now() - t0;
    }
    db.close();
    const sorted = times.sort();
    return { commits, meanMs: sorted.reduce((a, b) => a + b, 0) / commits, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
