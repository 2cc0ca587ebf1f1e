// Every code and token comes from crypto.randomBytes: nothing is derived from time or counters.
// Typed prefixes (poll_, rt_, pck_, ssk_, sak_) let secret scanners recognise a leaked value.
import { randomBytes } from 'node:crypto';

/** Lowercase Crockford base32: no i, l, o, u, so codes read back unambiguously. */
export const BASE32_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** RFC 8628 §6.1 base-20: consonants only, no vowels (no words), no lookalikes. */
export const LOGIN_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

/** `length` characters drawn uniformly from `alphabet` (rejection sampling: no modulo bias). */
export function randomString(length: number, alphabet: string): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit) out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

export const newPollingCode = (): string => 'poll_' + randomString(40, BASE32_ALPHABET);
export const newRefreshToken = (): string => 'rt_' + randomString(48, BASE32_ALPHABET);

export type ApiKeyKind = 'publishable-client' | 'secret-server' | 'super-secret-admin';
const API_KEY_PREFIX: Record<ApiKeyKind, string> = {
  'publishable-client': 'pck_',
  'secret-server': 'ssk_',
  'super-secret-admin': 'sak_',
};
export const newApiKey = (kind: ApiKeyKind): string => API_KEY_PREFIX[kind] + randomString(48, BASE32_ALPHABET);

/** `XXXX-XXXX` from the base-20 alphabet: 20^8 ≈ 2.6e10 combinations, typed by a person. */
export function newLoginCode(): string {
  const raw = randomString(8, LOGIN_CODE_ALPHABET);
  return `${raw.slice(0, 4)}-${raw.slice(4)}`;
}

/** Case-insensitive, dashes and spaces ignored: what the person typed, in canonical form. */
export function normaliseLoginCode(input: string): string {
  return input.replace(/[\s-]/g, '').toUpperCase();
}

/** A sign-in code: 45 lowercase base32 characters; the OTP is the first 6, the nonce the last 39. */
export const newSignInCode = (): string => randomString(45, BASE32_ALPHABET);
