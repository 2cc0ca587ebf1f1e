// What one event is, for tamper evidence: a SHA-256 over its stream, id, type, data and metadata
// exactly as stored (sealed personal fields as ciphertext, so erasing a person, which deletes only
// their key, changes no hash), in the canonical byte form (canonical-json.ts). The event's own
// link is the one part of its metadata left out: it names the previous event's hash and cannot
// contain its own. Revision and position are not hashed: the link orders a stream, the log digest
// (log-digest.ts) binds positions, and EventStoreDB's retention may recreate an aged-out stream at
// a revision the appender could not know.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from './canonical-json.ts';

export const EVENT_HASH_DOMAIN = 'authlog event v1\0';

/** The link every appended event carries in `metadata.chain`: the hash of its stream's previous event, null for the first. */
export const chainLinkSchema = z.strictObject({ v: z.literal(1), prev: z.string().regex(/^[A-Za-z0-9_-]{43}$/).nullable() });
export type ChainLink = z.infer<typeof chainLinkSchema>;

export interface HashableEvent {
  streamId: string;
  id: string;
  type: string;
  data: unknown;
  metadata: object;
}

/** The event's hash, base64url (43 characters). */
export function eventHash(event: HashableEvent): string {
  const { chain: _link, ...metadata } = event.metadata as Record<string, unknown>;
  return createHash('sha256')
    .update(EVENT_HASH_DOMAIN)
    .update(canonicalJson({ stream: event.streamId, id: event.id, type: event.type, data: event.data ?? null, metadata }))
    .digest('base64url');
}

/** The event's link, if it carries a well-formed one; `invalid` when it carries something else there. */
export function chainLinkOf(metadata: object): ChainLink | undefined | 'invalid' {
  const raw = (metadata as { chain?: unknown }).chain;
  if (raw === undefined) return undefined;
  const parsed = chainLinkSchema.safeParse(raw);
  return parsed.success ? parsed.data : 'invalid';
}
