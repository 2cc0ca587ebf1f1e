// Events of the `project-<id>` stream.
import { z } from 'zod';
import { RATE_LIMIT_NAMES, type RateLimitName } from '../rate-limit-catalogue.ts';

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
  /** The project's rate-limit overrides, whole (a limit left out is back at its default). */
  ProjectRateLimitsChanged: z.object({
    projectId: z.string().uuid(),
    rateLimits: z.partialRecord(
      z.enum(RATE_LIMIT_NAMES as [RateLimitName, ...RateLimitName[]]),
      z.object({ limit: z.number().int().min(1).max(1_000_000), windowMs: z.number().int().min(1000).max(24 * 60 * 60_000) }),
    ),
  }),
  ProjectAdminAdded: z.object({ projectId: z.string().uuid(), userId: z.string().uuid() }),
  ProjectAdminRemoved: z.object({ projectId: z.string().uuid(), userId: z.string().uuid() }),
};
