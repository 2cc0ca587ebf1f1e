// The digest of a whole log up to a position: a running hash, in position order, over every
// event's position and hash (event-hash.ts), so that a checkpoint's digest is the previous
// checkpoint's carried forward over the events between them: a later checkpoint extends an
// earlier one exactly when folding those events onto the earlier digest gives the later one.
//
// Two running hashes, not one: durable events (every stream kept for ever) and ephemeral ones (CLI
// attempts, codes: events/ephemeral-streams.ts). Ephemeral streams legitimately leave the log
// (SQLite prune, which records the hashes of what it removed; EventStoreDB `$maxAge`, which records
// nothing), so keeping them apart means that nothing they do can ever excuse a durable event
// missing, and a log whose ephemeral part aged out on the server still proves its durable part.
// `streams` counts durable streams begun (events at revision 0): a stream deleted whole leaves no
// link broken, but that count falls short.
import { createHash } from 'node:crypto';
import { isEphemeralStream } from '../events/ephemeral-streams.ts';

export const LOG_DIGEST_DOMAIN = 'authlog log v1\0';
/** The digest of nothing: 32 zero bytes. */
export const EMPTY_DIGEST = Buffer.alloc(32).toString('base64url');

export interface LogDigest {
  /** The position folded last (or the start), as a decimal string: positions are u64. */
  position: string;
  events: number;
  streams: number;
  digest: string;
  ephemeralEvents: number;
  ephemeralDigest: string;
}

export const emptyLogDigest = (): LogDigest => ({ position: '-1', events: 0, streams: 0, digest: EMPTY_DIGEST, ephemeralEvents: 0, ephemeralDigest: EMPTY_DIGEST });

const positionBytes = (position: bigint): Buffer => {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(position);
  return bytes;
};

/** One step of a running hash: digest' = SHA-256(domain, digest, position as u64 BE, event hash). */
export function foldDigest(digest: string, position: bigint, hash: string): string {
  return createHash('sha256').update(LOG_DIGEST_DOMAIN).update(Buffer.from(digest, 'base64url')).update(positionBytes(position)).update(Buffer.from(hash, 'base64url')).digest('base64url');
}

/** Mutable fold over events in position order; `state` is a snapshot. */
export class LogDigestFold {
  private current: LogDigest;
  constructor(start: LogDigest = emptyLogDigest()) {
    this.current = { ...start };
  }

  /** Folds one event; `revision` tells whether it begins its stream. */
  add(streamId: string, revision: bigint, position: bigint, hash: string): void {
    const c = this.current;
    if (isEphemeralStream(streamId)) {
      c.ephemeralDigest = foldDigest(c.ephemeralDigest, position, hash);
      c.ephemeralEvents++;
    } else {
      c.digest = foldDigest(c.digest, position, hash);
      c.events++;
      if (revision === 0n) c.streams++;
    }
    c.position = position.toString();
  }

  get state(): LogDigest {
    return { ...this.current };
  }
}
