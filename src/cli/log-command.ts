// `authlog log seal-personal-data`: brings a log written before personal data was sealed up to
// date. An embedded (SQLite) log is rewritten in place: every plain email, display name, address
// and user agent sealed under its subject's key, as new appends are, then the file vacuumed; users
// deleted before erasure existed are erased now (their keys deleted), as a delete is today.
// EventStoreDB cannot rewrite an event: there it rewrites nothing, and says how many events still
// hold personal data in plain text (readable until their streams are deleted and scavenged).
// `authlog log prune`: removes expired ephemeral streams from an embedded log (log-pruning.ts).
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { openLog, openReadModel, sqlitePath } from '../backends.ts';
import { resealSqliteLog } from '../store/sqlite-reseal.ts';
import { sealEvent } from '../store/sealing-store.ts';
import { isSealed, subjects } from '../crypto/sealed.ts';
import { personalFields } from '../events/personal-fields.ts';
import { isEventType } from '../events/catalogue.ts';
import { createHasher } from '../crypto/digests.ts';
import type { NewEvent } from '../store/event-store.ts';
import { systemClock, type Clock } from '../clock.ts';
import { pruneLog } from '../log-pruning.ts';
import { hashOfRow, recordPrune, recordReseal } from '../integrity/rewrite-records.ts';
import { UsageError } from './usage.ts';
import type { CliIo } from './cli-io.ts';
import { emailDigestCandidates } from '../crypto/email-digests.ts';

/** Whether the event still carries a personal value in plain text. */
function holdsPlainPersonalData(event: Pick<NewEvent, 'type' | 'data' | 'metadata'>): boolean {
  if (typeof event.metadata.ip === 'string' || typeof event.metadata.userAgent === 'string') return true;
  const spec = isEventType(event.type) ? personalFields[event.type] : undefined;
  if (!spec || event.data === null || typeof event.data !== 'object') return false;
  const data = event.data as Record<string, unknown>;
  return (spec.fields as readonly string[]).some((f) => typeof data[f] === 'string' && !isSealed(data[f]));
}

/** `clock`: the instant expiries are judged against (tests move it; the command uses the system's). */
export async function logCommand(config: Config, args: string[], io: CliIo, clock: Clock = systemClock): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'prune') return prune(config, rest, io, clock);
  if (sub !== 'seal-personal-data') throw new UsageError('try: authlog log seal-personal-data  or  authlog log prune [--json]');
  parseArgs({ args: rest, options: {}, strict: true });
  const log = openLog(config);
  try {
    if (config.EVENTSTORE_URL) {
      let plain = 0;
      let scanned = 0;
      for await (const e of log.store.readAll()) {
        scanned++;
        if (holdsPlainPersonalData(e)) plain++;
      }
      io.out(`EventStoreDB cannot rewrite events: nothing was changed. ${plain} of ${scanned} events hold personal data in plain text, readable until their streams are deleted and scavenged; every event appended now is sealed.`);
      return;
    }
    const hasher = createHasher(log.secret.value, log.secret.previous);
    const deleted = new Map<string, { projectId: string; email: string | undefined }>();
    const emails = new Map<string, string>();
    const report = await resealSqliteLog(sqlitePath(config), async (event) => {
      // Chained: appended through the sealing store, sealed then; its hash is what it is.
      if (event.metadata.chain) return event;
      const data = event.data as Record<string, unknown>;
      if (event.type === 'UserCreated' && typeof data.primaryEmail === 'string') emails.set(String(data.userId), data.primaryEmail);
      if (event.type === 'UserDeleted') deleted.set(String(data.userId), { projectId: String(data.projectId), email: emails.get(String(data.userId)) });
      return sealEvent(log.personal, event, { originRetentionDays: config.ORIGIN_RETENTION_DAYS });
    }, (changes) => recordReseal(log.store, log.checkpointKeys, changes.map((c) => ({ position: c.position, before: hashOfRow(c.before), after: hashOfRow({ ...c.before, data: c.data, metadata: c.metadata }) })), Date.now()));
    // Deleted before erasure existed: a delete erases today, so these are erased now.
    let erasedUsers = 0;
    for (const [userId, { projectId, email }] of deleted) {
      const emailSubjects = email === undefined ? [] : emailDigestCandidates({ hasher }, email).map((d) => subjects.email(projectId, d));
      if ((await log.personal.erase([subjects.user(userId), ...emailSubjects])).length > 0) erasedUsers++;
    }
    io.out(`sealed the personal data of ${report.rewritten} of ${report.scanned} events in ${sqlitePath(config)} (the file was vacuumed: no plain value remains in it)`);
    if (erasedUsers > 0) io.out(`erased ${erasedUsers} user(s) deleted before erasure existed`);
    io.out('with REDIS_URL, run `authlog projections rebuild` next: Redis still holds what it projected before.');
  } finally {
    await log.close();
  }
}

async function prune(config: Config, args: string[], io: CliIo, clock: Clock): Promise<void> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true });
  if (config.EVENTSTORE_URL) {
    const note = `EventStoreDB drops expired CLI attempts, login codes and sign-in codes by itself (their streams' $maxAge: expiry + ${config.EPHEMERAL_RETENTION_HOURS} h); run a scavenge on the server to reclaim the space. Nothing was changed.`;
    io.out(values.json ? JSON.stringify({ eventStore: 'eventstoredb', pruned: false, note }) : note);
    return;
  }
  // A Redis read model outlives the server: its checkpoint event must stay in the log.
  const readModel = config.REDIS_URL ? openReadModel(config, clock) : undefined;
  const log = openLog(config);
  try {
    const report = await pruneLog(config, readModel, clock(), 'always', (rows) => recordPrune(log.store, log.checkpointKeys, rows, clock()));
    if (!report) return;
    if (values.json) {
      io.out(JSON.stringify({ eventStore: 'sqlite', path: sqlitePath(config), ...report }));
      return;
    }
    io.out(
      `pruned ${report.streams} expired ephemeral streams (${report.events} events, more than ${config.EPHEMERAL_RETENTION_HOURS} h past expiry) from ${sqlitePath(config)}: ${report.bytesBefore} -> ${report.bytesAfter} bytes${report.vacuumed ? ' (vacuumed)' : ''}`,
    );
  } finally {
    await Promise.all([readModel?.close(), log.close()]);
  }
}
