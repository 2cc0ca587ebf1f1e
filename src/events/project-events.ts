// Events of the `project-<id>` stream.
import { z } from 'zod';

const keyRecord = z.object({
  /** Non-secret identifier, used to name the key in audit records (actor id). */
  id: z.string().uuid(),
  /** HMAC digest of the key; the key itself exists only in the one response that created it. */
  digest: z.string(),
});

export const projectEvents = {
  ProjectCreated: z.object({
    projectId: z.string().uuid(),
    name: z.string().min(1).max(200),
    trustedDomains: z.array(z.string()),
    keys: z.object({
      publishableClientKey: keyRecord,
      secretServerKey: keyRecord,
      superSecretAdminKey: keyRecord,
    }),
  }),
  ProjectTrustedDomainsChanged: z.object({
    projectId: z.string().uuid(),
    trustedDomains: z.array(z.string()),
  }),
  ProjectAdminAdded: z.object({ projectId: z.string().uuid(), userId: z.string().uuid() }),
  ProjectAdminRemoved: z.object({ projectId: z.string().uuid(), userId: z.string().uuid() }),
};
