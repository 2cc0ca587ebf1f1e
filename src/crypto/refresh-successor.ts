// The refresh token that replaces a rotated one is derived, not drawn: an HMAC of the presented
// token under the server secret. A client retrying the same refresh within the grace (its first
// answer lost, or two tabs racing) gets the very same successor, although no token is stored —
// only its digest. Nobody without the server secret can compute it, and nobody without the
// presented token (itself random, codes.ts) can ask for it; it has the shape of a drawn one.
import type { Hasher } from './digests.ts';
import { BASE32_ALPHABET } from './codes.ts';

const TOKEN_CHARS = 48; // as newRefreshToken: 240 bits, of the HMAC's 256

export function refreshTokenSuccessor(hasher: Pick<Hasher, 'digest'>, refreshToken: string): string {
  const bytes = Buffer.from(hasher.digest('refresh-token-successor', refreshToken), 'base64url');
  let out = 'rt_';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < TOKEN_CHARS + 3) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}
