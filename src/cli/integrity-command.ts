// `authlog audit verify` and `authlog audit checkpoint`: the tamper evidence of the log
// (src/integrity/). verify exits 0 when the log is intact, 1 when it found a break (or could not
// read the log), 2 on a misuse; the breaks go to stdout (one JSON report with --json), progress
// to stderr on a terminal.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createPublicKey, verify } from 'node:crypto';
import type { Config } from '../config.ts';
import { openLog } from '../backends.ts';
import { resolveServerSecret } from '../server-secret.ts';
import { checkpointKeyring, thumbprintOf, type CheckpointPublicJwk } from '../integrity/checkpoint-keys.ts';
import { signedCheckpointSchema, readIntegrityStream, type SignedCheckpoint } from '../integrity/integrity-records.ts';
import { integrityState } from '../integrity/integrity-state.ts';
import { publishedKids, writeCheckpoint } from '../integrity/checkpointer.ts';
import { verifyLog, type Break } from '../integrity/verify-log.ts';
import { SIGNATURE_DOMAIN } from '../integrity/signed-record.ts';
import { canonicalJson } from '../integrity/canonical-json.ts';
import { UsageError } from './usage.ts';
import type { CliIo } from './cli-io.ts';

/** The command found the log broken (or the checkpoint invalid): exit 1, after the report was printed. */
export class LogBrokenError extends Error {
  override readonly name = 'LogBrokenError';
}

function readCheckpointFile(path: string): SignedCheckpoint {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed;
  try {
    parsed = signedCheckpointSchema.safeParse(JSON.parse(text));
  } catch {
    throw new UsageError(`${path} is not JSON`);
  }
  if (!parsed.success) throw new UsageError(`${path} is not an exported checkpoint (authlog audit checkpoint --export): ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}

const describeBreak = (b: Break): string =>
  `${b.kind} at position ${b.position}${b.streamId ? ` (${b.streamId}${b.revision !== undefined ? ` revision ${b.revision}` : ''})` : ''}: ${b.detail}`;

export async function verifyCommand(config: Config, args: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { from: { type: 'string' }, json: { type: 'boolean', default: false }, checkpoint: { type: 'string', multiple: true } },
    strict: true,
  });
  if (values.from !== undefined && !/^\d{1,20}$/.test(values.from)) throw new UsageError(`--from ${JSON.stringify(values.from)} is not a position (a whole number)`);
  const anchors = (values.checkpoint ?? []).map(readCheckpointFile);
  const log = openLog(config);
  const started = performance.now();
  try {
    const report = await verifyLog(log.store, {
      keyring: log.checkpointKeys,
      ...(values.from !== undefined ? { fromPosition: BigInt(values.from) } : {}),
      densePositions: !config.EVENTSTORE_URL,
      ephemeralMayAgeOut: Boolean(config.EVENTSTORE_URL),
      anchors,
      ...(io.isTty ? { onProgress: (n: number, p: bigint) => io.err(`… ${n} events verified (position ${p})`) } : {}),
    });
    const ms = Math.round(performance.now() - started);
    const perSecond = ms > 0 ? Math.round((report.events * 1000) / ms) : report.events;
    if (values.json) io.out(JSON.stringify({ ...report, ms, eventsPerSecond: perSecond }));
    else {
      const first = report.breaks[0];
      if (first) {
        io.out(`BROKEN: ${describeBreak(first)}`);
        for (const b of report.breaks.slice(1, 20)) io.out(`  also ${describeBreak(b)}`);
        if (report.breaks.length > 20) io.out(`  and ${report.breaks.length - 20} more`);
      } else io.out(`intact: ${report.events} events up to position ${report.head}, ${report.checkpoints} checkpoint(s)${report.provenUpTo ? `, signed proof up to position ${report.provenUpTo}` : ''}`);
      for (const note of report.notes) io.out(`note: ${note}`);
    }
    io.err(`verified ${report.events} events in ${ms} ms (${perSecond} events/s)`);
    if (!report.ok) throw new LogBrokenError(`the log is broken: ${report.breaks.length} break(s), the first at position ${report.breaks[0]?.position}`);
  } finally {
    await log.close();
  }
}

function loadJwks(source: string): CheckpointPublicJwk[] {
  const parsed = JSON.parse(readFileSync(source, 'utf8')) as { keys?: CheckpointPublicJwk[] };
  return parsed.keys ?? [];
}

async function fetchJwks(url: string): Promise<CheckpointPublicJwk[]> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return ((await response.json()) as { keys?: CheckpointPublicJwk[] }).keys ?? [];
}

/** The documented check of an exported checkpoint: Ed25519 over the domain and its canonical body, by a published key. */
export function checkExported(checkpoint: SignedCheckpoint, keys: readonly CheckpointPublicJwk[]): { kid: string } | undefined {
  const { signatures, ...body } = checkpoint;
  const message = Buffer.from(SIGNATURE_DOMAIN + canonicalJson(body), 'utf8');
  for (const s of signatures) {
    const key = keys.find((k) => k.kid === s.kid && k.x === s.x && thumbprintOf(k.x) === k.kid);
    if (key && verify(null, message, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.x }, format: 'jwk' }), Buffer.from(s.sig, 'base64url'))) return { kid: s.kid };
  }
  return undefined;
}

export async function checkpointCommand(config: Config, args: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { export: { type: 'boolean', default: false }, verify: { type: 'string' }, keys: { type: 'string' }, 'show-keys': { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.verify !== undefined) {
    const checkpoint = readCheckpointFile(values.verify);
    const keys = values.keys === undefined ? checkpointKeyring(resolveServerSecret(config)).jwks().keys : /^https?:\/\//.test(values.keys) ? await fetchJwks(values.keys) : loadJwks(values.keys);
    const valid = checkExported(checkpoint, keys);
    if (!valid) throw new LogBrokenError(`${values.verify}: no valid signature by any of the ${keys.length} checkpoint key(s)`);
    io.out(`valid: checkpoint of log ${checkpoint.log} at position ${checkpoint.position} (${checkpoint.events} durable and ${checkpoint.ephemeralEvents} ephemeral events, ${checkpoint.streams} streams), signed ${checkpoint.at} by key ${valid.kid}`);
    return;
  }
  if (values['show-keys']) {
    io.out(JSON.stringify(checkpointKeyring(resolveServerSecret(config)).jwks(), null, 2));
    return;
  }
  const log = openLog(config);
  try {
    if (values.export) {
      const logId = await log.store.logIdentity();
      const last = integrityState((await readIntegrityStream(log.store)).events, logId, publishedKids(log.checkpointKeys)).checkpoints.at(-1);
      if (!last) throw new LogBrokenError('the log has no checkpoint yet: run `authlog audit checkpoint` (or let `authlog serve` write one)');
      io.out(JSON.stringify(signedCheckpointSchema.parse(last.event.data), null, 2));
      return;
    }
    const written = await writeCheckpoint(log.store, log.checkpointKeys, Date.now(), { force: true });
    if (!written) throw new LogBrokenError('the log is empty: nothing to checkpoint');
    io.out(JSON.stringify(written.checkpoint, null, 2));
    io.err(`wrote a checkpoint at position ${written.position} covering the log up to position ${written.checkpoint.position}`);
  } finally {
    await log.close();
  }
}
