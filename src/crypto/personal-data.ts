// Sealing and opening personal data (crypto-shredding). Each subject has its own random data key,
// stored only wrapped under a key-encryption key derived from the server secret; erasing a subject
// deletes its key, after which everything sealed under it, wherever a copy lies, opens as nothing.
// Unwrapped keys are cached in memory for a short while (KEY_CACHE_MS) and never written anywhere.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { DataKeyStore, WrappedKey } from '../keystore/data-key-store.ts';
import { ERASED, isSealed, type Personal, type Sealed } from './sealed.ts';

/** How long an unwrapped key is kept in memory: an erasure by another process reaches this one within it. */
export const KEY_CACHE_MS = 30_000;
const KEY_CACHE_SIZE = 10_000;

export interface PersonalData {
  seal(subject: string, plaintext: string): Promise<Sealed>;
  /** The plain value; undefined when its key is gone (erased) or it does not open. */
  tryOpen(value: Personal): Promise<string | undefined>;
  /** For outputs: the plain value, or `[erased]`. Null stays null. */
  show<T extends Personal | null | undefined>(value: T): Promise<string | Exclude<T, Personal>>;
  /** A copy of a JSON value with every sealed value in it opened (or `[erased]`). */
  showDeep(value: unknown): Promise<unknown>;
  erase(subjects: readonly string[]): Promise<string[]>;
  /**
   * Which secret of the keyring `key` is wrapped under, without rewrapping it (a report must not
   * change what it reports on): 'none' when no secret of ours unwraps it (it opens nothing).
   */
  wrappedUnder(key: WrappedKey): 'current' | 'previous' | 'none';
  keys: DataKeyStore;
}

const b64 = (b: Buffer) => b.toString('base64url');
const unb64 = (s: string) => Buffer.from(s, 'base64url');

/** A key of its own for wrapping: never the HMAC key, never a signing key. */
const kekOf = (secret: string): Buffer => Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), 'authlog data-key wrap v1', 32));

/**
 * `previousSecrets` (AUTHLOG_SECRET_PREVIOUS): keys wrapped under a rotated-out secret still open,
 * and are wrapped again under the current one the first time they are used, so the previous
 * secret can go once every key has been used (or `authlog log seal-personal-data` rewrapped them).
 */
export function createPersonalData(secret: string, keys: DataKeyStore, now: () => number = Date.now, previousSecrets: readonly string[] = []): PersonalData {
  const kek = kekOf(secret);
  const olderKeks = previousSecrets.filter((p) => p !== secret).map(kekOf);
  const cache = new Map<string, { keyId: string; key: Buffer; until: number }>();

  const wrap = (subject: string, keyId: string, key: Buffer): Buffer => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', kek, iv).setAAD(Buffer.from(`${subject}\n${keyId}`));
    return Buffer.concat([iv, cipher.update(key), cipher.final(), cipher.getAuthTag()]);
  };
  const unwrapWith = (k: Buffer, w: WrappedKey): Buffer => {
    const iv = w.wrapped.subarray(0, 12);
    const tag = w.wrapped.subarray(w.wrapped.length - 16);
    const decipher = createDecipheriv('aes-256-gcm', k, iv).setAAD(Buffer.from(`${w.subject}\n${w.keyId}`));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(w.wrapped.subarray(12, w.wrapped.length - 16)), decipher.final()]);
  };
  const unwrap = async (w: WrappedKey): Promise<Buffer> => {
    try {
      return unwrapWith(kek, w);
    } catch (current) {
      for (const older of olderKeks) {
        try {
          const key = unwrapWith(older, w);
          await keys.rewrap({ ...w, wrapped: wrap(w.subject, w.keyId, key) });
          return key;
        } catch {
          // not this one either
        }
      }
      throw current;
    }
  };
  const remember = (subject: string, keyId: string, key: Buffer) => {
    cache.delete(subject);
    cache.set(subject, { keyId, key, until: now() + KEY_CACHE_MS });
    if (cache.size > KEY_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  };
  const cached = (subject: string) => {
    const hit = cache.get(subject);
    if (hit && hit.until > now()) return hit;
    cache.delete(subject);
    return undefined;
  };

  async function keyFor(subject: string): Promise<{ keyId: string; key: Buffer }> {
    const hit = cached(subject);
    if (hit) return hit;
    let held = await keys.get(subject);
    if (!held) {
      const keyId = b64(randomBytes(9));
      const key = randomBytes(32);
      held = await keys.putIfAbsent({ subject, keyId, wrapped: wrap(subject, keyId, key) });
    }
    const key = await unwrap(held);
    remember(subject, held.keyId, key);
    return { keyId: held.keyId, key };
  }

  async function existingKey(subject: string, keyId: string): Promise<Buffer | undefined> {
    const hit = cached(subject);
    if (hit) return hit.keyId === keyId ? hit.key : undefined;
    const held = await keys.get(subject);
    if (!held || held.keyId !== keyId) return undefined;
    // A key no secret of ours unwraps (AUTHLOG_SECRET changed without AUTHLOG_SECRET_PREVIOUS)
    // opens nothing, like an erased one; sealing under it refuses instead (keyFor).
    let key: Buffer;
    try {
      key = await unwrap(held);
    } catch {
      return undefined;
    }
    remember(subject, held.keyId, key);
    return key;
  }

  const pd: PersonalData = {
    keys,
    async seal(subject, plaintext) {
      const { keyId, key } = await keyFor(subject);
      const iv = randomBytes(12);
      // The subject and key id are bound to the ciphertext: a value moved under another subject does not open.
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(`${subject}\n${keyId}`));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return { sealed: 1, subject, key: keyId, iv: b64(iv), data: b64(data) };
    },
    async tryOpen(value) {
      if (typeof value === 'string') return value;
      const key = await existingKey(value.subject, value.key);
      if (!key) return undefined;
      try {
        const data = unb64(value.data);
        const decipher = createDecipheriv('aes-256-gcm', key, unb64(value.iv)).setAAD(Buffer.from(`${value.subject}\n${value.key}`));
        decipher.setAuthTag(data.subarray(data.length - 16));
        return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
    async show(value) {
      if (value === null || value === undefined) return value as Exclude<typeof value, Personal>;
      return (await pd.tryOpen(value)) ?? ERASED;
    },
    async showDeep(value) {
      if (isSealed(value)) return pd.show(value);
      if (Array.isArray(value)) return Promise.all(value.map((v) => pd.showDeep(v)));
      if (value !== null && typeof value === 'object') {
        const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await pd.showDeep(v)] as const));
        return Object.fromEntries(entries);
      }
      return value;
    },
    wrappedUnder(w) {
      for (const [k, under] of [[kek, 'current'] as const, ...olderKeks.map((o) => [o, 'previous'] as const)]) {
        try {
          unwrapWith(k, w);
          return under;
        } catch {
          // not under this one
        }
      }
      return 'none';
    },
    async erase(subjectList) {
      for (const s of subjectList) cache.delete(s);
      return keys.erase(subjectList);
    },
  };
  return pd;
}
