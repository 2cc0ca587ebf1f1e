// Secrets are never at rest: codes, tokens and keys are stored only as HMAC-SHA-256 digests
// under the server secret. Each kind of secret gets its own purpose label, so a digest of one
// kind can never be replayed as another (a refresh token's digest is not a valid key digest).
// The secret is a keyring: new digests are made under the current secret, and a lookup tries the
// current and then the previous one, so rotating AUTHLOG_SECRET invalidates nothing already issued.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type DigestPurpose =
  | 'api-key'
  | 'refresh-token'
  | 'refresh-token-successor'
  | 'polling-code'
  | 'login-code'
  | 'sign-in-code'
  | 'sign-in-nonce'
  | 'email'
  | 'admin-access-token'
  | 'page-csrf'
  /** Whom a rate-limit bucket counts (a client address, an email digest): no address sits in the read model in plain text. */
  | 'rate-limit-key'
  /** The memory read model's snapshot file: its sha256, so that a file made without the secret is never used. */
  | 'read-model-snapshot';

export interface Hasher {
  /** base64url HMAC-SHA-256 of `value` under the current server secret, separated by purpose. */
  digest(purpose: DigestPurpose, value: string): string;
  /**
   * The digests `value` may be stored under: the current secret's first, then the previous
   * secret's (only while AUTHLOG_SECRET_PREVIOUS is set). Every lookup by digest tries them in order.
   */
  candidates(purpose: DigestPurpose, value: string): string[];
  /** Whether `digest` is the digest of `value` under any secret of the keyring (constant time each). */
  matches(purpose: DigestPurpose, value: string, digest: string): boolean;
  /** Whether `digest` of `value` was made under the current secret (false: the previous one, or none). */
  isCurrent(purpose: DigestPurpose, value: string, digest: string): boolean;
  /** Constant-time comparison of two digests (the time does not depend on how much matches). */
  same(a: string, b: string): boolean;
}

const hmac = (key: Buffer, purpose: DigestPurpose, value: string): string =>
  createHmac('sha256', key).update(purpose).update('\0').update(value, 'utf8').digest('base64url');

function same(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  // Digests all have one length, so a length mismatch reveals nothing secret.
  if (ba.length !== bb.length) return false;
  return timingSafeEqual(ba, bb);
}

/**
 * Values a caller sends again with every request, its API key and its address: their digests are
 * kept, so that each is made once rather than two to six times a request (a tenth of a small
 * read request's CPU, BENCHMARKS.md). The memo is looked up by a SHA-256 of the value, never the
 * value itself, so it holds no key a heap dump could give away; it starts over when full, so
 * random values an attacker sends only cost it its hits.
 */
const RECURRING: ReadonlySet<DigestPurpose> = new Set(['api-key', 'rate-limit-key']);
const MEMO_ENTRIES = 10_000;

/** `previous`: the secrets rotated out whose digests must still be found (AUTHLOG_SECRET_PREVIOUS). */
export function createHasher(secret: string, previous: readonly string[] = []): Hasher {
  const key = Buffer.from(secret, 'utf8');
  const older = previous.filter((p) => p !== secret).map((p) => Buffer.from(p, 'utf8'));
  const allOf = (purpose: DigestPurpose, value: string): string[] => [hmac(key, purpose, value), ...older.map((k) => hmac(k, purpose, value))];
  const memo = new Map<string, readonly string[]>();
  const recurring = (purpose: DigestPurpose, value: string): readonly string[] => {
    const id = `${purpose}\0${createHash('sha256').update(value, 'utf8').digest('base64')}`;
    const hit = memo.get(id);
    if (hit) return hit;
    if (memo.size >= MEMO_ENTRIES) memo.clear();
    const made = allOf(purpose, value);
    memo.set(id, made);
    return made;
  };
  return {
    digest: (purpose, value) => (RECURRING.has(purpose) ? (recurring(purpose, value)[0] as string) : hmac(key, purpose, value)),
    candidates: (purpose, value) => (RECURRING.has(purpose) ? [...recurring(purpose, value)] : allOf(purpose, value)),
    matches(purpose, value, digest) {
      // Every candidate is compared, so the time does not say which secret matched.
      let found = false;
      for (const candidate of [hmac(key, purpose, value), ...older.map((k) => hmac(k, purpose, value))]) found = same(candidate, digest) || found;
      return found;
    },
    isCurrent: (purpose, value, digest) => same(hmac(key, purpose, value), digest),
    same,
  };
}

/** The first candidate digest `lookup` finds something under, current secret first. */
export async function findByDigests<T>(digests: readonly string[], lookup: (digest: string) => Promise<T | undefined>): Promise<{ value: T; digest: string } | undefined> {
  for (const digest of digests) {
    const value = await lookup(digest);
    if (value !== undefined) return { value, digest };
  }
  return undefined;
}
