// Holds SQLite's write lock on a file from a separate OS process, the way a long `authlog`
// command (or any other writer) would: BEGIN IMMEDIATE, print `locked`, then wait for a line
// `release` on stdin, ROLLBACK, print `released` and exit.
//
//   node --import tsx test/support/hold-write-lock.ts /tmp/x/events.db
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';

const db = new Database(process.argv[2] ?? '', { fileMustExist: true, timeout: 5000 });
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'release') continue;
  db.exec('ROLLBACK');
  db.close();
  process.stdout.write('released\n');
  process.stdin.destroy(); // the open pipe would keep this process alive
  break;
}
