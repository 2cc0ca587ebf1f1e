// `authlog audit impersonations`: the impersonation audit, replayed from the log, as a table or
// as JSON lines; its time goes to stderr. `authlog audit verify` and `authlog audit checkpoint`:
// the log's tamper evidence (integrity-command.ts).
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { openLog } from '../backends.ts';
import { auditImpersonations, type ImpersonationRow } from '../audit/impersonation-audit.ts';
import { UsageError } from './usage.ts';
import type { CliIo } from './cli-io.ts';
import { checkpointCommand, verifyCommand } from './integrity-command.ts';

function instant(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`--${name} ${JSON.stringify(value)} is not a time (use ISO 8601, e.g. 2026-11-22T10:00:00Z)`);
  return ms;
}

const COLUMNS: [keyof ImpersonationRow, string][] = [
  ['created_at', 'created'],
  ['actor', 'actor'],
  ['user_id', 'user'],
  ['is_impersonation', 'imp'],
  ['parent_session_id', 'parent'],
  ['ip', 'from'],
  ['revoked_at', 'revoked'],
  ['revoked_by', 'revoked by'],
  ['revoke_reason', 'why'],
  ['last_used_at', 'last used'],
  ['live', 'live'],
];

export async function auditCommand(config: Config, args: string[], io: CliIo): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'verify') return verifyCommand(config, rest, io);
  if (sub === 'checkpoint') return checkpointCommand(config, rest, io);
  if (sub !== 'impersonations') {
    throw new UsageError('try: authlog audit impersonations [--project P] [--user U] [--actor A] [--since T] [--until T] [--as-of T] [--json], authlog audit verify [--from P] [--checkpoint FILE] [--json], or authlog audit checkpoint [--export | --verify FILE [--keys FILE|URL] | --show-keys]');
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      project: { type: 'string' },
      user: { type: 'string' },
      actor: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      'as-of': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const log = openLog(config);
  const started = performance.now();
  try {
    const { rows, eventsRead } = await auditImpersonations(
      log.store,
      log.personal,
      {
        projectId: values.project,
        userId: values.user,
        actor: values.actor,
        sinceMs: instant('since', values.since),
        untilMs: instant('until', values.until),
        asOfMs: instant('as-of', values['as-of']),
      },
      Date.now(),
      (n) => io.err(`… ${n} events read`),
    );
    if (values.json) for (const row of rows) io.out(JSON.stringify(row));
    else printTable(rows, io);
    const rssMb = Math.round(process.memoryUsage().rss / 1e6);
    io.err(`${rows.length} sessions from ${eventsRead} events in ${Math.round(performance.now() - started)} ms (RSS ${rssMb} MB)`);
  } finally {
    await log.close();
  }
}

function printTable(rows: readonly ImpersonationRow[], io: CliIo): void {
  const cells = rows.map((row) => COLUMNS.map(([key]) => (row[key] === null ? '-' : String(row[key]))));
  const widths = COLUMNS.map(([, title], i) => Math.max(title.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  io.out(line(COLUMNS.map(([, title]) => title)));
  for (const c of cells) io.out(line(c));
}
