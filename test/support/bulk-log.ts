// A large log, fast: rows written straight into the SQLite store's table in one transaction (the
// store itself fsyncs every append, right for a service, far too slow for making a million
// fixture events). The events are valid session events of one project, as /auth/sessions would
// have appended them. Used by the tests (audit over 100k events) and the bench (replay, start-up).
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { openSqliteEventStore } from '../../src/store/sqlite-event-store.ts';

export interface BulkLog {
  path: string;
  projectId: string;
  /** One user who has a handful of sessions among the many. */
  userId: string;
  events: number;
  /** How long writing took. */
  ms: number;
}

/** The store's file with its schema, opened for writing rows straight into it, and the insert. */
function openForBulk(path: string): { db: Database.Database; insert: Database.Statement } {
  openSqliteEventStore(path).close(); // creates the schema
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // A fixture: if the machine fails while it is written, it is written again.
  db.pragma('synchronous = OFF');
  // The unique indexes (event id, stream + revision) take random keys: keep them in cache.
  db.pragma('cache_size = -524288');
  const insert = db.prepare('INSERT INTO events (stream_id, revision, event_id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)');
  return { db, insert };
}

/** Appends about `events` events: per session a SessionCreated, one activity and, for one in two, a revocation. */
export function writeBulkSessionLog(path: string, events: number, nowMs: number = Date.now()): BulkLog {
  const started = performance.now();
  const { db, insert } = openForBulk(path);
  const projectId = randomUUID();
  const userId = randomUUID();
  const keyId = randomUUID();
  let written = 0;
  db.transaction(() => {
    for (let i = 0; written < events; i++) {
      const sessionId = randomUUID();
      const stream = `session-${sessionId}`;
      const user = i % 1000 === 0 ? userId : randomUUID();
      const at = nowMs - (events - written) * 10;
      const meta = (t: number) => JSON.stringify({ projectId, actor: { kind: 'server-key', id: keyId }, ip: '127.0.0.1', occurredAt: new Date(t).toISOString() });
      const expiresAtMillis = at + 365 * 24 * 3600_000;
      const rows: [string, unknown, number][] = [
        [
          'SessionCreated',
          { sessionId, projectId, userId: user, refreshTokenDigest: randomUUID(), createdAtMillis: at, expiresAtMillis, isImpersonation: i % 3 === 0, createdBy: { kind: 'server-key', id: keyId }, via: 'sessions-api' },
          at,
        ],
        ['SessionActivityRecorded', { sessionId, projectId, userId: user, atMillis: at + 1, sessionExpiresAtMillis: expiresAtMillis }, at + 1],
      ];
      if (i % 2 === 0) rows.push(['SessionRevoked', { sessionId, projectId, userId: user, reason: 'revoked', refreshTokenDigest: randomUUID(), revokedAtMillis: at + 2 }, at + 2]);
      rows.forEach(([type, data, t], revision) => {
        if (written >= events) return;
        insert.run(stream, revision, randomUUID(), type, JSON.stringify(data), meta(t));
        written++;
      });
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { path, projectId, userId, events: written, ms: performance.now() - started };
}

/** A recorded row of the log, as a template for bulk copies. */
export interface TemplateRow {
  stream_id: string;
  type: string;
  data: string;
  metadata: string;
}

/**
 * Appends `count` copies of one CLI initiation (its login-code reservation and its attempt, rows
 * read from a log the service wrote, so that their size is the real one: sealed address, digests),
 * each under a fresh attempt id and code digest. For the retention figure (100k initiations).
 */
export function writeBulkInitiations(path: string, count: number, template: readonly TemplateRow[], cliAuthId: string, loginCodeDigest: string): void {
  const db = new Database(path);
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -524288');
  const insert = db.prepare('INSERT INTO events (stream_id, revision, event_id, type, data, metadata) VALUES (?, 0, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const id = randomUUID();
      const digest = randomUUID().replaceAll('-', '').padEnd(loginCodeDigest.length, '0').slice(0, loginCodeDigest.length);
      for (const row of template) {
        const swap = (text: string) => text.replaceAll(cliAuthId, id).replaceAll(loginCodeDigest, digest);
        insert.run(swap(row.stream_id), randomUUID(), row.type, swap(row.data), swap(row.metadata));
      }
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/**
 * A log of about `events` events for the impersonation audit: `impersonations` sessions an admin
 * created for others (each a SessionCreated, one activity and, for one in two, a revocation),
 * spread evenly among events of other kinds (sign-in codes, CLI logins), as a live service's log
 * holds many more of those. The other events carry only their type and stream: nothing but the
 * audit reads this log, and it never decodes them.
 */
export function writeBulkAuditLog(path: string, events: number, impersonations: number, nowMs: number = Date.now()): BulkLog {
  const started = performance.now();
  const { db, insert } = openForBulk(path);
  const projectId = randomUUID();
  const userId = randomUUID();
  const admin = { kind: 'admin-user', id: randomUUID() };
  const sessionEvents = Math.round(impersonations * 2.5);
  const otherPerSession = Math.max(0, (events - sessionEvents) / impersonations);
  let written = 0;
  db.transaction(() => {
    let others = 0;
    for (let i = 0; i < impersonations; i++) {
      const at = nowMs - (events - written) * 10;
      const meta = (t: number, actor: unknown = admin) => JSON.stringify({ projectId, actor, ip: '127.0.0.1', occurredAt: new Date(t).toISOString() });
      for (others += otherPerSession; others >= 1 && written < events; others--) {
        const id = randomUUID();
        const [stream, type] = written % 3 === 0 ? [`cli-auth-${id}`, 'CliAuthInitiated'] : [`sign-in-code-${id}`, 'SignInCodeSent'];
        insert.run(stream, 0, randomUUID(), type, '{}', meta(at, { kind: 'client-key', id: projectId }));
        written++;
      }
      const sessionId = randomUUID();
      const user = i % 100 === 0 ? userId : randomUUID();
      const expiresAtMillis = at + 365 * 24 * 3600_000;
      const rows: [string, unknown][] = [
        ['SessionCreated', { sessionId, projectId, userId: user, refreshTokenDigest: randomUUID(), createdAtMillis: at, expiresAtMillis, isImpersonation: true, createdBy: admin, via: 'sessions-api' }],
        ['SessionActivityRecorded', { sessionId, projectId, userId: user, atMillis: at + 1, sessionExpiresAtMillis: expiresAtMillis }],
      ];
      if (i % 2 === 0) rows.push(['SessionRevoked', { sessionId, projectId, userId: user, reason: 'revoked', refreshTokenDigest: randomUUID(), revokedAtMillis: at + 2 }]);
      rows.forEach(([type, data], revision) => {
        insert.run(`session-${sessionId}`, revision, randomUUID(), type, JSON.stringify(data), meta(at + revision));
        written++;
      });
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { path, projectId, userId, events: written, ms: performance.now() - started };
}
