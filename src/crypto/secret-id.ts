// A short public fingerprint of a server secret, recorded in every event's metadata at append
// time (store/sealing-store.ts): a digest alone does not say which secret made it, and without
// knowing that an operator cannot tell when AUTHLOG_SECRET_PREVIOUS may be dropped
// (`authlog secret status`). It is an HMAC under the secret, so it reveals nothing of it, and
// 64 bits tell the two or three secrets of a keyring apart with no real chance of a collision.
import { createHmac } from 'node:crypto';

export function secretIdOf(secret: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update('authlog secret id').digest().subarray(0, 8).toString('base64url');
}
