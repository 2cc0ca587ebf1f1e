// Events of the `user-<id>` stream and of the `userEmail-<project>.<digest>` reservation stream
// that keeps primary emails unique per project in the write path.
import { z } from 'zod';

export const userEvents = {
  UserCreated: z.object({
    userId: z.string().uuid(),
    projectId: z.string().uuid(),
    primaryEmail: z.string().nullable(),
    primaryEmailVerified: z.boolean(),
    displayName: z.string().nullable(),
    signedUpAtMillis: z.number().int(),
    /** How the user came to be: created through the API, or signed up with a sign-in code. */
    origin: z.enum(['api', 'sign-in-code']),
  }),
  UserDeleted: z.object({ userId: z.string().uuid(), projectId: z.string().uuid() }),
  UserEmailReserved: z.object({ projectId: z.string().uuid(), userId: z.string().uuid() }),
  UserEmailReleased: z.object({ projectId: z.string().uuid(), userId: z.string().uuid() }),
};
