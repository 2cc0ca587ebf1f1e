// What the integrity stream says, as the checkpoint writer and the verifier both need it: the
// trusted checkpoints in order, and the hashes of events a trusted prune removed or a trusted
// reseal rewrote. A record is trusted when it parses, names this log, and carries a valid
// signature by a published key or one a trusted record hands trust on to (signed-record.ts).
import type { RecordedEvent } from '../store/event-store.ts';
import { parseRecord, signersOf, type CheckpointBody, type IntegrityRecord } from './integrity-records.ts';
import { trustedRecords } from './signed-record.ts';

export interface PrunedEvent {
  position: bigint;
  streamId: string;
  revision: bigint;
  hash: string;
}

export interface IntegrityState {
  checkpoints: { body: CheckpointBody; event: RecordedEvent }[];
  /** In position order. */
  pruned: PrunedEvent[];
  /** By position: the hash the event had when first covered, and the one it has since its reseal. */
  resealed: Map<bigint, { before: string; after: string }>;
  /** Events of the stream that hold no record we trust: unreadable, of another log, or unsigned by any trusted key. */
  rejected: { event: RecordedEvent; why: string }[];
}

export function integrityState(events: readonly RecordedEvent[], logId: string, publishedKids: Iterable<string>): IntegrityState {
  const rejected: IntegrityState['rejected'] = [];
  const records: IntegrityRecord[] = [];
  for (const event of events) {
    const record = parseRecord(event);
    if (!record) rejected.push({ event, why: `holds no integrity record (${event.type})` });
    else if (record.body.log !== logId) rejected.push({ event, why: `is a record of another log (${record.body.log})` });
    else records.push(record);
  }
  const trusted = trustedRecords(records, signersOf, publishedKids);
  const state: IntegrityState = { checkpoints: [], pruned: [], resealed: new Map(), rejected };
  for (const record of records) {
    if (!trusted.has(record)) {
      rejected.push({ event: record.event, why: 'carries no valid signature by a checkpoint key of this server (forged, or signed under a secret no longer known)' });
      continue;
    }
    if (record.kind === 'checkpoint') state.checkpoints.push({ body: record.body, event: record.event });
    if (record.kind === 'prune') for (const [p, s, r, h] of record.body.events) state.pruned.push({ position: BigInt(p), streamId: s, revision: BigInt(r), hash: h });
    if (record.kind === 'reseal') for (const [p, before, after] of record.body.events) state.resealed.set(BigInt(p), { before, after });
  }
  state.checkpoints.sort((a, b) => (BigInt(a.body.position) < BigInt(b.body.position) ? -1 : 1));
  state.pruned.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  rejected.sort((a, b) => (a.event.position < b.event.position ? -1 : 1));
  return state;
}
