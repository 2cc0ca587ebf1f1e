// Who made something happen, as every event's metadata and the audit name them: a key, a
// (admin) user through one of their sessions, or the system itself. The schema is the one
// definition; the store, the commands and the HTTP layer use the type inferred from it.
import { z } from 'zod';

export const actorSchema = z.object({
  kind: z.enum(['client-key', 'server-key', 'admin-key', 'admin-user', 'user', 'system']),
  id: z.string().min(1),
  /** For an admin user or user: the session their access token belongs to. */
  sessionId: z.string().optional(),
});

export type Actor = z.infer<typeof actorSchema>;
