// `authlog audit verify`: walks the whole log once, in position order, streamed (what stays in
// memory is one head per stream, and the integrity stream), and checks
//   - every stream's chain: each event linked to the hash of its stream's previous event, the
//     revisions without a hole and in position order (event-hash.ts, chaining-store.ts);
//   - every trusted checkpoint, from the log and exported ones given to it: the events up to its
//     position fold to its digest, its counts of events and of streams begun (log-digest.ts);
//   - every record of the integrity stream is signed by a key of this server (signed-record.ts);
//   - on a store whose positions have no holes (SQLite), every hole is explained by a prune.
// Each break is named with its position and what it looks like: changed, missing, reordered,
// stream deleted, truncated, forged. After a checkpoint that does not match, the fold starts again
// from that checkpoint, so one break does not make every later checkpoint fail with it.
import { isEphemeralStream } from '../events/ephemeral-streams.ts';
import type { EventStore, RecordedEvent } from '../store/event-store.ts';
import { chainLinkOf, eventHash } from './event-hash.ts';
import { INTEGRITY_STREAM, readIntegrityStream, signersOf, type CheckpointBody, type SignedCheckpoint } from './integrity-records.ts';
import { integrityState } from './integrity-state.ts';
import { LogDigestFold, emptyLogDigest, type LogDigest } from './log-digest.ts';
import { walkLog } from './log-walk.ts';
import type { CheckpointKeyring } from './checkpoint-keys.ts';
import { publishedKids } from './checkpointer.ts';

export type BreakKind = 'changed' | 'missing' | 'reordered' | 'stream deleted' | 'truncated' | 'forged';

export interface Break {
  kind: BreakKind;
  /** The global position where it is seen (the changed or first missing event, the checkpoint). */
  position: string;
  streamId?: string;
  revision?: string;
  detail: string;
}

export interface VerifyOptions {
  keyring: CheckpointKeyring;
  /** Start at the last checkpoint at or before this position (chains of streams begun earlier are taken as they are). */
  fromPosition?: bigint;
  /** Positions have no holes but the ones a prune made (SQLite). */
  densePositions: boolean;
  /** Ephemeral events may age out unrecorded (EventStoreDB `$maxAge`): their digest and holes are not held against the log. */
  ephemeralMayAgeOut: boolean;
  /** Checkpoints kept elsewhere (`authlog audit checkpoint --export`): the log must still extend each. */
  anchors?: readonly SignedCheckpoint[];
  onProgress?: (events: number, position: bigint) => void;
}

export interface VerifyReport {
  ok: boolean;
  events: number;
  /** Position of the last event seen, -1 for an empty log. */
  head: string;
  checkpoints: number;
  /** Covered by the last checkpoint that matched: events at or before it are proven. */
  provenUpTo: string | null;
  /** In position order; the first is the first break. */
  breaks: Break[];
  notes: string[];
}

const MAX_BREAKS = 1000;
const PROGRESS_EVERY = 100_000;

interface Head {
  revision: bigint;
  hash: string;
  /** A resealed event's hash before its reseal: what a successor written before it was linked to. */
  alt?: string;
  position: bigint;
  chained: boolean;
}

interface Covering {
  body: CheckpointBody;
  source: 'log' | 'exported';
}

const stateOf = (body: CheckpointBody): LogDigest => ({ position: body.position, events: body.events, streams: body.streams, digest: body.digest, ephemeralEvents: body.ephemeralEvents, ephemeralDigest: body.ephemeralDigest });

export async function verifyLog(store: EventStore, options: VerifyOptions): Promise<VerifyReport> {
  const breaks: Break[] = [];
  const notes: string[] = [];
  const report = (b: Break) => void (breaks.length < MAX_BREAKS && breaks.push(b));
  const logId = await store.logIdentity();
  const integrity = await readIntegrityStream(store);
  const state = integrityState(integrity.events, logId, publishedKids(options.keyring));
  for (const r of state.rejected) report({ kind: 'forged', position: r.event.position.toString(), streamId: INTEGRITY_STREAM, revision: r.event.revision.toString(), detail: `the integrity record ${r.why}` });

  const covering: Covering[] = state.checkpoints.map((c) => ({ body: c.body, source: 'log' }));
  const trustedKids = new Set(publishedKids(options.keyring));
  for (const c of state.checkpoints) for (const kid of signersOf({ body: c.body, signatures: (c.event.data as SignedCheckpoint).signatures }).keys()) trustedKids.add(kid);
  for (const anchor of options.anchors ?? []) {
    const { signatures, ...body } = anchor;
    if (![...signersOf({ body, signatures }).keys()].some((k) => trustedKids.has(k))) report({ kind: 'forged', position: body.position, detail: 'the exported checkpoint carries no valid signature by a checkpoint key of this log' });
    else if (body.log !== logId) report({ kind: 'forged', position: body.position, detail: `the exported checkpoint is of another log (${body.log})` });
    else covering.push({ body, source: 'exported' });
  }
  covering.sort((a, b) => (BigInt(a.body.position) < BigInt(b.body.position) ? -1 : 1));

  const from = options.fromPosition;
  const startAt = from === undefined ? undefined : covering.filter((c) => BigInt(c.body.position) <= from).at(-1);
  if (from !== undefined) notes.push(startAt ? `started at the checkpoint at ${startAt.body.position}, the last at or before ${from}` : `no checkpoint at or before ${from}: started at the beginning`);
  const partial = startAt !== undefined;
  let fold = new LogDigestFold(startAt ? stateOf(startAt.body) : emptyLogDigest());
  const startPosition = BigInt(fold.state.position);
  let next = covering.findIndex((c) => BigInt(c.body.position) > startPosition);
  if (next < 0) next = covering.length;
  let provenUpTo: string | null = startAt ? startAt.body.position : null;
  let lastCovered = startPosition;

  const heads = new Map<string, Head>();
  let gaps: { from: bigint; to: bigint }[] = [];
  let expectedNext: bigint | undefined = options.densePositions ? (startPosition < 1n ? 1n : startPosition + 1n) : undefined;
  let firstChained: bigint | undefined;
  let events = 0;
  let head = -1n;

  const compare = (c: Covering): void => {
    const at = c.body.position;
    const got = fold.state;
    const what = c.source === 'exported' ? 'the exported checkpoint' : 'the checkpoint';
    const segment = gaps.filter((g) => g.to <= BigInt(at));
    gaps = gaps.filter((g) => g.to > BigInt(at));
    let kind: BreakKind | undefined;
    let detail = '';
    const ephemeralCounts = !options.ephemeralMayAgeOut;
    if (got.streams < c.body.streams) [kind, detail] = ['stream deleted', `${c.body.streams - got.streams} stream(s) ${what} at ${at} covered are gone`];
    else if (got.events < c.body.events || (ephemeralCounts && got.ephemeralEvents < c.body.ephemeralEvents) || got.position !== at)
      [kind, detail] = ['missing', `${what} at ${at} covered ${c.body.events + c.body.ephemeralEvents} events, ${got.events + got.ephemeralEvents} are left`];
    else if (got.digest !== c.body.digest || got.events !== c.body.events || got.streams !== c.body.streams || (ephemeralCounts && (got.ephemeralDigest !== c.body.ephemeralDigest || got.ephemeralEvents !== c.body.ephemeralEvents)))
      [kind, detail] = ['changed', `the events from ${lastCovered + 1n} to ${at} no longer fold to the digest of ${what} at ${at} (signed ${c.body.at})`];
    if (kind) {
      const gap = segment[0];
      const where = gap ? gap.from.toString() : at;
      const holes = segment.map((g) => (g.from === g.to ? `${g.from}` : `${g.from}-${g.to}`)).join(', ');
      report({ kind, position: where, detail: gap ? `positions ${holes} are missing; ${detail}` : detail });
      fold = new LogDigestFold(stateOf(c.body));
    } else provenUpTo = at;
    lastCovered = BigInt(at);
  };
  const compareBefore = (position: bigint): void => {
    for (; next < covering.length && BigInt(covering[next]!.body.position) < position; next++) compare(covering[next]!);
  };

  const diagnose = async (event: RecordedEvent, h: Head | undefined, prev: string | null): Promise<Break> => {
    const at = { position: event.position.toString(), streamId: event.streamId, revision: event.revision.toString() };
    const later = prev === null ? undefined : (await store.readStream(event.streamId)).find((e) => e.position > event.position && eventHash(e) === prev);
    if (later) return { ...at, kind: 'reordered', detail: `revision ${event.revision} is linked to the event now at position ${later.position} (revision ${later.revision}), which comes after it` };
    if (h) return { kind: 'changed', position: h.position.toString(), streamId: event.streamId, revision: h.revision.toString(), detail: `this event no longer hashes to what its successor (revision ${event.revision}, position ${event.position}) was linked to` };
    return { ...at, kind: 'changed', detail: prev === null ? 'its link says it begins its stream, but it does not' : 'it is linked to a predecessor that is not in the log' };
  };

  const checkChain = async (event: RecordedEvent): Promise<void> => {
    const link = chainLinkOf(event.metadata);
    const at = { position: event.position.toString(), streamId: event.streamId, revision: event.revision.toString() };
    const loose = options.ephemeralMayAgeOut && isEphemeralStream(event.streamId);
    const h = heads.get(event.streamId);
    if (link === 'invalid') return report({ ...at, kind: 'changed', detail: 'its chain link is malformed' });
    if (link && firstChained === undefined) firstChained = event.position;
    if (!h) {
      if (partial || loose) return;
      if (link && (link.prev === null) !== (event.revision === 0n)) return report(await diagnose(event, undefined, link.prev));
      if (event.revision > 0n && (link || !isEphemeralStream(event.streamId))) report({ ...at, kind: 'missing', detail: `the stream begins at revision ${event.revision}: revisions 0 to ${event.revision - 1n} are missing` });
      return;
    }
    if (event.revision <= h.revision) return report(link ? await diagnose(event, h, link.prev) : { ...at, kind: 'reordered', detail: `revision ${event.revision} comes after revision ${h.revision} (position ${h.position})` });
    if (event.revision > h.revision + 1n && !loose) return report({ ...at, kind: 'missing', detail: `revisions ${h.revision + 1n} to ${event.revision - 1n} are missing (after position ${h.position})` });
    if (link && event.revision === h.revision + 1n && link.prev !== h.hash && link.prev !== h.alt) return report(await diagnose(event, h, link.prev));
    if (!link && h.chained) report({ ...at, kind: 'changed', detail: 'it lost its chain link (the events before it have theirs)' });
  };

  for await (const w of walkLog(store, startPosition, state)) {
    const position = w.kind === 'present' ? w.event.position : w.pruned.position;
    compareBefore(position);
    if (expectedNext !== undefined && position > expectedNext) gaps.push({ from: expectedNext, to: position - 1n });
    if (expectedNext !== undefined) expectedNext = position + 1n;
    if (w.kind === 'pruned') {
      const p = w.pruned;
      heads.set(p.streamId, { revision: p.revision, hash: p.hash, position: p.position, chained: true });
      fold.add(p.streamId, p.revision, p.position, p.hash);
      continue;
    }
    const { event, hash } = w;
    head = event.position;
    if (++events % PROGRESS_EVERY === 0) options.onProgress?.(events, event.position);
    if (w.problem) report({ kind: 'changed', position: event.position.toString(), streamId: event.streamId, revision: event.revision.toString(), detail: `it ${w.problem}` });
    await checkChain(event);
    const chained = chainLinkOf(event.metadata) !== undefined;
    heads.set(event.streamId, { revision: event.revision, hash, position: event.position, chained, ...(w.digestHash !== hash ? { alt: w.digestHash } : {}) });
    fold.add(event.streamId, event.revision, event.position, w.digestHash);
  }
  const end = BigInt(fold.state.position);
  compareBefore(end + 1n);
  for (; next < covering.length; next++) {
    const c = covering[next]!;
    report({ kind: 'truncated', position: (end + 1n).toString(), detail: `the log ends at ${end}, but ${c.source === 'exported' ? 'the exported checkpoint' : 'the checkpoint'} at ${c.body.position} (signed ${c.body.at}) covered ${c.body.events + c.body.ephemeralEvents} events up to there` });
  }
  for (const g of gaps) {
    const span = g.from === g.to ? `position ${g.from} is` : `positions ${g.from} to ${g.to} are`;
    if (firstChained !== undefined && g.to > firstChained) report({ kind: 'missing', position: g.from.toString(), detail: `${span} missing, and no prune recorded removing them` });
    else notes.push(`${span} missing from before the log was chained (an earlier prune); the first checkpoint covers what was left`);
  }
  if (covering.length === 0) notes.push('no checkpoint yet: only the chains were checked (a deleted stream or a truncated tail shows only against a checkpoint)');
  if (options.ephemeralMayAgeOut) notes.push('EventStoreDB ages ephemeral streams out by $maxAge: their digest is not checked, only the durable one');
  breaks.sort((a, b) => (BigInt(a.position) < BigInt(b.position) ? -1 : BigInt(a.position) > BigInt(b.position) ? 1 : 0));
  return { ok: breaks.length === 0, events, head: head.toString(), checkpoints: covering.length, provenUpTo, breaks, notes };
}
