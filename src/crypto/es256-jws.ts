// An ES256 compact JWS signed with node:crypto in one synchronous call. jose's SignJWT signs
// through WebCrypto, whose async sign cost about 270 µs of CPU per token here against about 50 µs
// for the same signature through crypto.sign (BENCHMARKS.md, "What each fix bought"): a fifth of
// every refresh. The signature is the JOSE form (r || s, 64 bytes, RFC 7518 §3.4), which is
// what jose and every JWT library verify; verification stays with jose (its claim checks).
import { sign, type KeyObject } from 'node:crypto';

export interface JwsHeader {
  alg: 'ES256';
  kid: string;
  typ: 'JWT';
}

const base64urlJson = (value: object): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

export function signEs256Jws(header: JwsHeader, payload: object, privateKey: KeyObject): string {
  const signingInput = `${base64urlJson(header)}.${base64urlJson(payload)}`;
  const signature = sign('sha256', Buffer.from(signingInput, 'ascii'), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}
