// How the Redis read model talks to its Lua scripts (redis-read-model-scripts.ts): events and
// their operations encoded as script arguments, in chunks one call each, and the scripts' replies
// (checkpoints, provenance, dumped keys) parsed back, refusing any shape they never send.
import type { ProjectedEvent, ReadModelOp, ReadModelProvenance } from './read-model.ts';
import type { ScriptArg } from './redis-read-model-scripts.ts';
import type { DigestEntry } from './read-model-digest.ts';

/** Events per script call: big enough for replay speed, small enough not to block Redis for long. */
const MAX_EVENTS_PER_SCRIPT = 500;
/** Also cap the arguments of one call, since one event may carry many ops. */
const MAX_ARGS_PER_SCRIPT = 50_000;

export const padPosition = (position: bigint): string => position.toString().padStart(20, '0');

export function parseCheckpoint(reply: unknown): bigint {
  if (reply === null || reply === undefined || reply === '') return -1n;
  if (typeof reply !== 'string' || !/^\d{1,20}$/.test(reply)) throw new Error(`redis read model: unexpected checkpoint ${String(reply)}`);
  return BigInt(reply);
}

export function asStrings(reply: unknown, what: string): string[] {
  if (!Array.isArray(reply) || !reply.every((x): x is string => typeof x === 'string')) {
    throw new Error(`redis read model: unexpected reply to ${what}`);
  }
  return reply;
}

export function pairsToRecord(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

function encodeOp(op: ReadModelOp, args: ScriptArg[]): void {
  switch (op.op) {
    case 'set':
      args.push('s', op.key, op.value, op.expireAtMs === undefined ? '' : String(op.expireAtMs));
      return;
    case 'del':
      args.push('d', op.key);
      return;
    case 'hset': {
      const names = Object.keys(op.fields);
      args.push('h', op.key, op.expireAtMs === undefined ? '' : String(op.expireAtMs), names.length);
      for (const name of names) args.push(name, op.fields[name] as string);
      return;
    }
    case 'sadd':
      args.push('a', op.key, op.member);
      return;
    case 'srem':
      args.push('r', op.key, op.member);
      return;
  }
}

/** Events encoded as script arguments, split into chunks each applied by one script call. */
export function encodeChunks(events: readonly ProjectedEvent[]): ScriptArg[][] {
  const chunks: ScriptArg[][] = [];
  let current: ScriptArg[] = [];
  let count = 0;
  for (const event of events) {
    const ref = event.event ? JSON.stringify([String(event.position), event.event.id, event.event.streamId, String(event.event.revision)]) : '';
    const encoded: ScriptArg[] = [padPosition(event.position), ref, event.ops.length];
    for (const op of event.ops) encodeOp(op, encoded);
    if (count > 0 && (count >= MAX_EVENTS_PER_SCRIPT || current.length + encoded.length > MAX_ARGS_PER_SCRIPT)) {
      chunks.push(current);
      current = [];
      count = 0;
    }
    for (const arg of encoded) current.push(arg);
    count++;
  }
  if (count > 0) chunks.push(current);
  return chunks;
}

export function parseProvenance(reply: unknown): ReadModelProvenance {
  const [generation, checkpoint, logId, ref] = asStrings(reply, 'provenance');
  const provenance: ReadModelProvenance = { generation: generation ?? '0', checkpoint: parseCheckpoint(checkpoint) };
  if (logId) provenance.logId = logId;
  if (ref) {
    const parsed: unknown = JSON.parse(ref);
    if (!Array.isArray(parsed) || parsed.length !== 4 || !parsed.every((x): x is string => typeof x === 'string')) {
      throw new Error('redis read model: unexpected checkpoint event');
    }
    const [position, id, streamId, revision] = parsed as [string, string, string, string];
    provenance.checkpointEvent = { position: BigInt(position), id, streamId, revision: BigInt(revision) };
  }
  return provenance;
}

/** One key as the dump script answers it ([type, content]); undefined for a key gone meanwhile. */
export function parseDumpedKey(key: string, fullKey: string, item: unknown): DigestEntry | undefined {
  if (!Array.isArray(item)) throw new Error('redis read model: unexpected reply to digest');
  const [type, content] = item as unknown[];
  if (type === 'string' && typeof content === 'string') return { key, type: 'string', value: content };
  if (type === 'hash') {
    const flat = asStrings(content, 'digest');
    const fields: [string, string][] = [];
    for (let j = 0; j + 1 < flat.length; j += 2) fields.push([flat[j] as string, flat[j + 1] as string]);
    return { key, type: 'hash', fields };
  }
  if (type === 'set') return { key, type: 'set', members: asStrings(content, 'digest') };
  if (type !== 'none') throw new Error(`redis read model: unexpected ${String(type)} key ${fullKey} in the read model`);
  return undefined;
}
