// How a project's signing keys come from the server secret.
//
// The private keys are derived from the server secret instead of generated and stored: every
// instance and every restart signs with the same key, and no private key ever sits in a file,
// an event or Redis. The derivation is a permanent contract: changing anything in it (the
// info string, the salt, the encoding of the secret) changes every project's key, so every
// access token in flight stops verifying and every client must refetch the JWKS. The "v1" in
// the info string is the lever for a deliberate rotation (derive v2, publish both for a while).
import { createECDH, createHash, createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from 'node:crypto';

export const ALG = 'ES256';

// The order n of the P-256 group: a private scalar must lie in [1, n-1].
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const MAX_DERIVATION_ATTEMPTS = 16;

/** A project's public signing key as published in its JWKS (a JsonWebKey with a kid). */
export interface PublicJwk extends JsonWebKey {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

export interface ProjectKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: PublicJwk;
}

/** True when `scalar` (32 big-endian bytes) is a usable P-256 private key, i.e. in [1, n-1]. */
export function isValidP256Scalar(scalar: Uint8Array): boolean {
  if (scalar.length !== 32) return false;
  const value = BigInt(`0x${Buffer.from(scalar).toString('hex')}`);
  return value > 0n && value < P256_ORDER;
}

/** Whose tokens a key signs: a project's users, or its anonymous users (upstream's `<project>:anon` audience). */
export type Audience = 'users' | 'anonymous';

function derivationInfo(projectId: string, generation: number, attempt: number, audience: Audience): string {
  const who = audience === 'anonymous' ? `${projectId} anonymous users` : projectId;
  const base = `authlog access-token signing key v1 ${who}${generation === 0 ? '' : ` generation ${generation}`}`;
  // Attempt 0 is the documented info string; the counter only appears on the (probability
  // about 2^-32) re-derivation, so it never shows up in practice.
  return attempt === 0 ? base : `${base} retry ${attempt}`;
}

export function deriveProjectKey(secret: Buffer, projectId: string, generation: number, audience: Audience): ProjectKey {
  for (let attempt = 0; attempt < MAX_DERIVATION_ATTEMPTS; attempt++) {
    // Rejection sampling rather than reducing mod n keeps the scalar uniform over [1, n-1].
    const scalar = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), derivationInfo(projectId, generation, attempt, audience), 32));
    if (!isValidP256Scalar(scalar)) continue;
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(scalar);
    const point = ecdh.getPublicKey(); // uncompressed: 0x04 || X (32) || Y (32)
    const x = point.subarray(1, 33).toString('base64url');
    const y = point.subarray(33, 65).toString('base64url');
    const privateKey = createPrivateKey({
      key: { kty: 'EC', crv: 'P-256', x, y, d: scalar.toString('base64url') },
      format: 'jwk',
    });
    const kid = keyId(x, y);
    return {
      kid,
      privateKey,
      publicKey: createPublicKey(privateKey),
      publicJwk: { kty: 'EC', crv: 'P-256', x, y, kid, alg: ALG, use: 'sig' },
    };
  }
  // Sixteen rejections in a row has probability about 2^-512: it means HKDF is broken.
  throw new Error('could not derive an access-token signing key');
}

/**
 * The RFC 7638 thumbprint of the public key (SHA-256 over the required members in
 * lexicographic order, no whitespace), cut to 16 bytes: any JOSE library can recompute it
 * from the JWKS, and it changes exactly when the key does.
 */
function keyId(x: string, y: string): string {
  const canonical = JSON.stringify({ crv: 'P-256', kty: 'EC', x, y });
  return createHash('sha256').update(canonical, 'utf8').digest().subarray(0, 16).toString('base64url');
}
