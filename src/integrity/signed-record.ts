// A signed integrity record: a body (plain JSON of strings, whole numbers, arrays and objects)
// and its signatures. Each signature is Ed25519 over the bytes
//   "authlog integrity v1\n" + canonicalJson(body)
// (canonical-json.ts: keys sorted, no whitespace) and names its key by kid and public key x, so a
// checker needs only the published keys. A key is trusted when it is published (derived from the
// keyring) or when a record also carries a valid signature by an already trusted key: that is how
// a rotation of AUTHLOG_SECRET hands trust on, record by record.
import { createPublicKey, sign, verify } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from './canonical-json.ts';
import { thumbprintOf, type CheckpointKey } from './checkpoint-keys.ts';

export const SIGNATURE_DOMAIN = 'authlog integrity v1\n';

export const signatureSchema = z.strictObject({
  kid: z.string().min(1).max(64),
  /** The Ed25519 public key, base64url (a JWK's `x`). */
  x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
});
export type Signature = z.infer<typeof signatureSchema>;

const message = (body: object): Buffer => Buffer.from(SIGNATURE_DOMAIN + canonicalJson(body), 'utf8');

export function signBody(body: object, keys: readonly CheckpointKey[]): Signature[] {
  const bytes = message(body);
  return keys.map((k) => ({ kid: k.kid, x: k.publicJwk.x, sig: sign(null, bytes, k.privateKey).toString('base64url') }));
}

/** The kids of the signatures that are valid for this body (a kid must be its key's thumbprint). */
export function validSigners(body: object, signatures: readonly Signature[]): Map<string, string> {
  const bytes = message(body);
  const valid = new Map<string, string>();
  for (const s of signatures) {
    if (thumbprintOf(s.x) !== s.kid) continue;
    try {
      const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: s.x }, format: 'jwk' });
      if (verify(null, bytes, key, Buffer.from(s.sig, 'base64url'))) valid.set(s.kid, s.x);
    } catch {
      // not a key: not a valid signature
    }
  }
  return valid;
}

/**
 * Which records are trusted, given the published kids: repeated until nothing changes, a record
 * with a valid signature by a trusted kid is trusted and makes its other valid signers trusted.
 */
export function trustedRecords<R>(records: readonly R[], signersOf: (r: R) => ReadonlyMap<string, string>, published: Iterable<string>): Set<R> {
  const kids = new Set(published);
  const trusted = new Set<R>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const r of records) {
      if (trusted.has(r)) continue;
      const signers = signersOf(r);
      if (![...signers.keys()].some((k) => kids.has(k))) continue;
      trusted.add(r);
      changed = true;
      for (const k of signers.keys()) kids.add(k);
    }
  }
  return trusted;
}
