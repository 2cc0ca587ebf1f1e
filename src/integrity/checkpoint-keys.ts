// The key that signs checkpoints and the other integrity records: an Ed25519 key derived from the
// server secret (HKDF-SHA-256, info "authlog checkpoint signing key v1", 32 bytes = the seed),
// never stored. Its public half is published (GET /api/v1/audit/checkpoint-keys, `authlog audit
// checkpoint --keys`) as a JWK whose kid is its RFC 7638 thumbprint, so anyone holding an exported
// checkpoint can check it without the secret. While AUTHLOG_SECRET_PREVIOUS is set, the previous
// secret's key is published too and every record is signed by both: a checkpoint signed by both
// hands trust on from the old key to the new, so old checkpoints stay checkable after the old
// secret is gone (signed-record.ts).
import { createHash, createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from 'node:crypto';

export const CHECKPOINT_KEY_INFO = 'authlog checkpoint signing key v1';
/** PKCS #8 wrapping of a raw Ed25519 seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface CheckpointPublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

export interface CheckpointKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: CheckpointPublicJwk;
}

/** RFC 7638 thumbprint of an Ed25519 public key (its required members in lexicographic order). */
export const thumbprintOf = (x: string): string => createHash('sha256').update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x })).digest('base64url');

export function checkpointKeyOf(secret: string): CheckpointKey {
  const seed = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), CHECKPOINT_KEY_INFO, 32));
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const x = (createPublicKey(privateKey).export({ format: 'jwk' }) as { x: string }).x;
  const kid = thumbprintOf(x);
  return { kid, privateKey, publicJwk: { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' } };
}

export interface CheckpointKeyring {
  /** Signs: the current secret's key first, then the previous secrets' (each record carries all). */
  signing: CheckpointKey[];
  /** The public keys, current first, as published. */
  jwks(): { keys: (CheckpointPublicJwk & { status: 'current' | 'previous' })[] };
}

export function checkpointKeyring(secret: { value: string; previous: readonly string[] }): CheckpointKeyring {
  const signing = [secret.value, ...secret.previous.filter((p) => p !== secret.value)].map(checkpointKeyOf);
  return {
    signing,
    jwks: () => ({ keys: signing.map((k, i) => ({ ...k.publicJwk, status: i === 0 ? ('current' as const) : ('previous' as const) })) }),
  };
}
