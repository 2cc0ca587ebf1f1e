// The two legitimate ways events leave or change, recorded in the integrity stream before they
// happen and signed like checkpoints, so that verify tells them from tampering and nobody without
// the secret can pass tampering off as one of them:
//   - a prune of expired ephemeral streams records each removed event's position, stream,
//     revision and hash: the digest goes on over them, and a reused stream's chain goes on from
//     the last of them. Only ephemeral streams are accepted as pruned;
//   - a reseal of legacy events (plain personal data) records each event's hash before and
//     after: the digest keeps the hash before, so no earlier checkpoint breaks.
// Recorded first, changed second: a crash in between leaves a record of a change not made, which
// verify accepts (the event still hashes to its "before"), never a change without a record.
import { WrongExpectedVersionError, type EventStore } from '../store/event-store.ts';
import { isEphemeralStream } from '../events/ephemeral-streams.ts';
import { appendRecord, PRUNE_EVENT, readIntegrityStream, RECORD_CHUNK, RESEAL_EVENT } from './integrity-records.ts';
import { eventHash } from './event-hash.ts';
import type { CheckpointKeyring } from './checkpoint-keys.ts';
import type { EventRow } from '../store/sqlite-rows.ts';

export const hashOfRow = (row: Pick<EventRow, 'stream_id' | 'event_id' | 'type' | 'data' | 'metadata'>): string =>
  eventHash({ streamId: row.stream_id, id: row.event_id, type: row.type, data: JSON.parse(row.data) as unknown, metadata: JSON.parse(row.metadata) as object });

async function appendChunks(store: EventStore, keyring: CheckpointKeyring, type: string, entries: readonly unknown[], nowMs: number): Promise<void> {
  const log = await store.logIdentity();
  for (let i = 0; i < entries.length; i += RECORD_CHUNK) {
    const body = { v: 1, log, at: new Date(nowMs).toISOString(), events: entries.slice(i, i + RECORD_CHUNK) };
    for (let attempt = 1; ; attempt++) {
      const stream = await readIntegrityStream(store);
      try {
        await appendRecord(store, type, body, keyring.signing, stream.expected, stream.events.at(-1));
        break;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || attempt >= 8) throw error;
      }
    }
  }
}

export async function recordPrune(store: EventStore, keyring: CheckpointKeyring, rows: readonly EventRow[], nowMs: number): Promise<void> {
  const foreign = rows.find((r) => !isEphemeralStream(r.stream_id));
  if (foreign) throw new Error(`refusing to record the prune of ${foreign.stream_id}: only ephemeral streams are pruned`);
  await appendChunks(store, keyring, PRUNE_EVENT, rows.map((r) => [String(r.position), r.stream_id, String(r.revision), hashOfRow(r)]), nowMs);
}

export async function recordReseal(store: EventStore, keyring: CheckpointKeyring, changes: readonly { position: number | bigint; before: string; after: string }[], nowMs: number): Promise<void> {
  await appendChunks(store, keyring, RESEAL_EVENT, changes.map((c) => [String(c.position), c.before, c.after]), nowMs);
}
