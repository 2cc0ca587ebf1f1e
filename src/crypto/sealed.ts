// Personal data as the log and the read model hold it: sealed (AES-256-GCM) under the data key
// of the person or address it is about (crypto-shredding: deleting that key makes every copy
// unreadable, in the log, its backups and replicas, while the log keeps its shape). The subject
// and the key's id travel with the ciphertext, so a reader knows which key opens it and a key made
// again after an erasure never opens what was sealed before.
import { z } from 'zod';

export const sealedSchema = z.strictObject({
  sealed: z.literal(1),
  /** Whose data: `user:<id>`, `email:<project>.<digest>`, `origin:<YYYY-MM-DD>`. */
  subject: z.string().min(1).max(256),
  /** The id of the data key that sealed it. */
  key: z.string().min(1).max(64),
  iv: z.string().min(1).max(64),
  /** Ciphertext and GCM tag, base64url. */
  data: z.string().max(16_384),
});
export type Sealed = z.infer<typeof sealedSchema>;

/**
 * A personal field of an event or read-model record: sealed, or (only in logs written before
 * sealing existed, until `authlog log seal-personal-data` rewrites them) plain.
 */
export const personalString = z.union([sealedSchema, z.string()]);
export type Personal = z.infer<typeof personalString>;

export const isSealed = (value: unknown): value is Sealed => sealedSchema.safeParse(value).success;

/** What outputs show where a key is gone. */
export const ERASED = '[erased]';

/** The subjects personal data is sealed under. */
export const subjects = {
  user: (userId: string) => `user:${userId}`,
  /** An address typed into send-sign-in-code, whether or not it ever became a user. */
  email: (projectId: string, emailDigest: string) => `email:${projectId}.${emailDigest}`,
  /** Client addresses and user agents, by the UTC day they were recorded: forgotten after ORIGIN_RETENTION_DAYS. */
  origin: (occurredAt: string) => `origin:${occurredAt.slice(0, 10)}`,
} as const;

/** A personal value as one read-model string (records are flat string maps). */
export const encodePersonal = (value: Personal): string => JSON.stringify(value);

/** Back from encodePersonal; a record projected before sealing holds the plain value itself. */
export function decodePersonal(stored: string): Personal {
  try {
    const parsed = personalString.safeParse(JSON.parse(stored));
    return parsed.success ? parsed.data : stored;
  } catch {
    return stored;
  }
}
