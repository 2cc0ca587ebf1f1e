// `authlog secret status [--json]`: how many live things still depend on the previous server
// secret, per kind, and whether AUTHLOG_SECRET_PREVIOUS can be removed (audit/secret-status.ts).
// It only reads: data keys are not rewrapped by being counted. Exit 0 whatever the verdict, so
// that a script reads the verdict from the output, not from a failure.
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { openLog } from '../backends.ts';
import { secretStatus, type SecretStatus, type Tally } from '../audit/secret-status.ts';
import { UsageError } from './usage.ts';
import type { CliIo } from './cli-io.ts';

const COLUMNS = ['kind', 'under current', 'under previous', 'unknown'] as const;

function table(kinds: readonly Tally[]): string[] {
  const rows = [[...COLUMNS], ...kinds.map((k) => [k.kind, String(k.current), String(k.previous), String(k.unknown)])];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
}

function verdict(status: SecretStatus): string {
  if (status.previousRemovable) return 'AUTHLOG_SECRET_PREVIOUS can be removed: nothing live depends on it.';
  const previous = status.kinds.reduce((n, k) => n + k.previous, 0);
  const unknown = status.kinds.reduce((n, k) => n + k.unknown, 0);
  const parts = [previous > 0 ? `${previous} live thing(s) depend on it` : '', unknown > 0 ? `${unknown} predate secret ids and may depend on it` : ''].filter(Boolean);
  return `AUTHLOG_SECRET_PREVIOUS is still needed: ${parts.join('; ')}.`;
}

export async function secretCommand(config: Config, args: string[], io: CliIo): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'status') throw new UsageError('try: authlog secret status [--json]');
  const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } }, strict: true });
  const log = openLog(config);
  try {
    if (log.secret.previous.length === 0) {
      if (values.json) io.out(JSON.stringify({ previous_configured: false, previous_removable: true }));
      else io.out('AUTHLOG_SECRET_PREVIOUS is not set: nothing depends on a previous secret.');
      return;
    }
    const status = await secretStatus(log, Date.now());
    if (values.json) {
      io.out(JSON.stringify({
        previous_configured: true,
        current_secret_id: status.currentSecretId,
        previous_secret_ids: status.previousSecretIds,
        kinds: status.kinds,
        previous_removable: status.previousRemovable,
      }));
      return;
    }
    io.out(`current secret id ${status.currentSecretId}, previous ${status.previousSecretIds.join(', ')}`);
    for (const line of table(status.kinds)) io.out(line);
    const unknown = status.kinds.some((k) => k.unknown > 0);
    if (unknown) io.out('unknown: written before secret ids were recorded; they depend on whichever secret was current then (email reservations were re-checked against their holder\'s email where it can still be opened).');
    const neither = status.kinds.reduce((n, k) => n + k.neither, 0);
    if (neither > 0) io.out(`${neither} live thing(s) were made under a secret that is neither current nor previous: they already work nowhere, and the previous secret does not change that.`);
    io.out(verdict(status));
  } finally {
    await log.close();
  }
}
