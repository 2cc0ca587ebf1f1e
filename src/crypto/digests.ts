// Secrets are never at rest: codes, tokens and keys are stored only as HMAC-SHA-256 digests
// under the server secret. Each kind of secret gets its own purpose label, so a digest of one
// kind can never be replayed as another (a refresh token's digest is not a valid key digest).
import { createHmac, timingSafeEqual } from 'node:crypto';

export type DigestPurpose =
  | 'api-key'
  | 'refresh-token'
  | 'polling-code'
  | 'login-code'
  | 'sign-in-code'
  | 'sign-in-nonce'
  | 'email'
  | 'admin-access-token'
  | 'page-csrf';

export interface Hasher {
  /** base64url HMAC-SHA-256 of `value` under the server secret, separated by purpose. */
  digest(purpose: DigestPurpose, value: string): string;
  /** Constant-time comparison of two digests (the time does not depend on how much matches). */
  same(a: string, b: string): boolean;
}

export function createHasher(secret: string): Hasher {
  const key = Buffer.from(secret, 'utf8');
  return {
    digest(purpose, value) {
      return createHmac('sha256', key).update(purpose).update('\0').update(value, 'utf8').digest('base64url');
    },
    same(a, b) {
      const ba = Buffer.from(a);
      const bb = Buffer.from(b);
      // Digests all have one length, so a length mismatch reveals nothing secret.
      if (ba.length !== bb.length) return false;
      return timingSafeEqual(ba, bb);
    },
  };
}
