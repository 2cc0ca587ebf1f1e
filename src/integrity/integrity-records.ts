// The log's own integrity stream: signed checkpoints, and the records of the two legitimate ways
// events leave or change (a prune of expired ephemeral streams, a reseal of legacy events). It is
// not one of our categories (events/streams.ts), so no projection, prune or events listing sees
// it; it is chained and covered by the next checkpoint like every other stream.
import { z } from 'zod';
import { signatureSchema, signBody, validSigners, type Signature } from './signed-record.ts';
import type { CheckpointKey } from './checkpoint-keys.ts';
import { NO_STREAM, type EventStore, type ExpectedRevision, type RecordedEvent } from '../store/event-store.ts';
import { randomUUID } from 'node:crypto';

export const INTEGRITY_STREAM = 'authlogLog-integrity';
export const CHECKPOINT_EVENT = 'LogCheckpointed';
export const PRUNE_EVENT = 'EphemeralStreamsPruned';
export const RESEAL_EVENT = 'LegacyEventsResealed';

const decimal = z.string().regex(/^-?\d{1,20}$/);
const hash = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
const count = z.number().int().min(0);

export const checkpointBodySchema = z.strictObject({
  v: z.literal(1),
  /** The log's identity (store/log-identity.ts): a checkpoint of another log proves nothing here. */
  log: z.string().min(1).max(200),
  /** Every event at or before this global position is covered. */
  position: decimal,
  events: count,
  streams: count,
  digest: hash,
  ephemeralEvents: count,
  ephemeralDigest: hash,
  /** The checkpoint this one extends (null for the first). */
  previous: z.strictObject({ position: decimal, digest: hash }).nullable(),
  at: z.string().min(1).max(40),
});
export type CheckpointBody = z.infer<typeof checkpointBodySchema>;

/** Each pruned event: [position, stream, revision, hash]. */
export const pruneBodySchema = z.strictObject({
  v: z.literal(1),
  log: z.string().min(1).max(200),
  at: z.string().min(1).max(40),
  events: z.array(z.tuple([decimal, z.string().min(1).max(500), decimal, hash])).max(10_000),
});
export type PruneBody = z.infer<typeof pruneBodySchema>;

/** Each resealed event: [position, hash before, hash after]. */
export const resealBodySchema = z.strictObject({
  v: z.literal(1),
  log: z.string().min(1).max(200),
  at: z.string().min(1).max(40),
  events: z.array(z.tuple([decimal, hash, hash])).max(10_000),
});
export type ResealBody = z.infer<typeof resealBodySchema>;

/** How many entries one prune or reseal record holds: records stay well under a megabyte. */
export const RECORD_CHUNK = 5000;

const signed = <T extends z.ZodRawShape>(body: z.ZodObject<T>) => body.extend({ signatures: z.array(signatureSchema).min(1).max(8) });
export const signedCheckpointSchema = signed(checkpointBodySchema);
export type SignedCheckpoint = z.infer<typeof signedCheckpointSchema>;

export type IntegrityRecord =
  | { kind: 'checkpoint'; body: CheckpointBody; signatures: Signature[]; event: RecordedEvent }
  | { kind: 'prune'; body: PruneBody; signatures: Signature[]; event: RecordedEvent }
  | { kind: 'reseal'; body: ResealBody; signatures: Signature[]; event: RecordedEvent };

const schemas = { [CHECKPOINT_EVENT]: ['checkpoint', signed(checkpointBodySchema)], [PRUNE_EVENT]: ['prune', signed(pruneBodySchema)], [RESEAL_EVENT]: ['reseal', signed(resealBodySchema)] } as const;

/** The record an event of the integrity stream holds, or undefined when it holds none we know. */
export function parseRecord(event: RecordedEvent): IntegrityRecord | undefined {
  const entry = (schemas as Record<string, (typeof schemas)[keyof typeof schemas]>)[event.type];
  if (!entry) return undefined;
  const parsed = entry[1].safeParse(event.data);
  if (!parsed.success) return undefined;
  const { signatures, ...body } = parsed.data;
  return { kind: entry[0], body, signatures, event } as IntegrityRecord;
}

export const signersOf = (r: Pick<IntegrityRecord, 'body' | 'signatures'>): Map<string, string> => validSigners(r.body, r.signatures);

/** Appends a signed record at `expected` (the integrity stream's revision as read): two writers never both append on one reading. */
export async function appendRecord(store: EventStore, type: string, body: object, keys: readonly CheckpointKey[], expected: ExpectedRevision, lastEvent?: RecordedEvent): Promise<{ position: bigint; data: object }> {
  const data = { ...body, signatures: signBody(body, keys) };
  const result = await store.append(
    INTEGRITY_STREAM,
    [{ id: randomUUID(), type, data, metadata: { occurredAt: new Date().toISOString(), actor: { kind: 'system', id: 'integrity' } } }],
    expected,
    lastEvent ? { lastEvent } : {},
  );
  return { position: result.position, data };
}

export async function readIntegrityStream(store: Pick<EventStore, 'readStream'>): Promise<{ events: RecordedEvent[]; expected: ExpectedRevision }> {
  const events = await store.readStream(INTEGRITY_STREAM);
  const last = events.at(-1);
  return { events, expected: last ? last.revision : NO_STREAM };
}
