// Events of the `user-<id>` stream and of the `userEmail-<project>.<digest>` reservation stream
// that keeps primary emails unique per project in the write path.
import { z } from 'zod';
import { personalString } from '../crypto/sealed.ts';

export const userEvents = {
  UserCreated: z.object({
    userId: z.string().uuid(),
    projectId: z.string().uuid(),
    primaryEmail: personalString.nullable(),
    /** The email's digest (`email` purpose), which names its reservation and its address subject; absent on older events. */
    primaryEmailDigest: z.string().min(1).optional(),
    primaryEmailVerified: z.boolean(),
    displayName: personalString.nullable(),
    signedUpAtMillis: z.number().int(),
    /** How the user came to be: created through the API, signed up with a sign-in code, or anonymously. */
    origin: z.enum(['api', 'sign-in-code', 'anonymous-sign-up']),
    /**
     * An anonymous user (POST /auth/anonymous/sign-up): no email, no name, tokens of their own
     * audience, not listed unless asked for. Absent (older events, every other user): false.
     */
    isAnonymous: z.boolean().optional(),
  }),
  /** Profile fields changed (PATCH /users/{id}, /users/me): only the fields given are in the event. */
  UserUpdated: z.object({
    userId: z.string().uuid(),
    projectId: z.string().uuid(),
    displayName: personalString.nullable().optional(),
    primaryEmailVerified: z.boolean().optional(),
  }),
  /**
   * The primary email changed (or was removed: null). Appended only after the new address was
   * reserved on its reservation stream; the old reservation is released after it.
   */
  UserPrimaryEmailChanged: z.object({
    userId: z.string().uuid(),
    projectId: z.string().uuid(),
    primaryEmail: personalString.nullable(),
    primaryEmailDigest: z.string().min(1).optional(),
    primaryEmailVerified: z.boolean(),
  }),
  UserDeleted: z.object({ userId: z.string().uuid(), projectId: z.string().uuid() }),
  /**
   * The person's data keys were deleted (crypto-shredding): everything sealed under these subjects,
   * in the log, its backups and replicas, reads as `[erased]` from now on. Appended before the keys
   * are deleted, so a crash in between leaves a record that `authlog user erase` completes.
   */
  PersonalDataErased: z.object({ userId: z.string().uuid(), projectId: z.string().uuid(), subjects: z.array(z.string().min(1)).max(16), erasedAtMillis: z.number().int() }),
  UserEmailReserved: z.object({ projectId: z.string().uuid(), userId: z.string().uuid() }),
  UserEmailReleased: z.object({ projectId: z.string().uuid(), userId: z.string().uuid() }),
};
