// Events of the `project-<id>` stream.
import { z } from 'zod';
import { RATE_LIMIT_NAMES, type RateLimitName } from '../rate-limit-catalogue.ts';

const keyRecord = z.object({
  /** Non-secret identifier, used to name the key in audit records (actor id). */
  id: z.string().uuid(),
  /** HMAC digest of the key; the key itself exists only in the one response that created it. */
  digest: z.string(),
});

const keyKind = z.enum(['client', 'server', 'admin']);

/** Which sessions' refresh tokens rotate on every refresh (with reuse detection). */
export const REFRESH_TOKEN_ROTATION_MODES = ['cli-login', 'all', 'none'] as const;
export type RefreshTokenRotationMode = (typeof REFRESH_TOKEN_ROTATION_MODES)[number];

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
  /**
   * A new key of `kind` replaces the current one, which keeps working until `previousKeyEndsAtMillis`
   * (the rotation's grace; equal to `rotatedAtMillis` for none). No previous key: the kind had been revoked.
   */
  ProjectKeyRotated: z.object({
    projectId: z.string().uuid(),
    kind: keyKind,
    newKey: keyRecord,
    previousKey: keyRecord.optional(),
    previousKeyEndsAtMillis: z.number().int().optional(),
    rotatedAtMillis: z.number().int(),
  }),
  /** The key stops at once (current or in its grace). */
  ProjectKeyRevoked: z.object({
    projectId: z.string().uuid(),
    kind: keyKind,
    key: keyRecord,
    revokedAtMillis: z.number().int(),
  }),
  /** Access tokens are signed with generation `generation` from now; the previous one verifies until `previousVerifiesUntilMillis`. */
  ProjectSigningKeyRotated: z.object({
    projectId: z.string().uuid(),
    generation: z.number().int().min(1),
    rotatedAtMillis: z.number().int(),
    previousVerifiesUntilMillis: z.number().int(),
  }),
  ProjectRefreshTokenRotationChanged: z.object({
    projectId: z.string().uuid(),
    rotation: z.enum(REFRESH_TOKEN_ROTATION_MODES),
  }),
  /**
   * Settings of what clients may do (upstream's project config): only the settings that changed.
   * `requirePublishableClientKey`: client calls must send a publishable key (default false, as
   * upstream since 2026); `clientUserDeletionEnabled`: a signed-in user may delete themself with
   * client access (DELETE /users/me; default false, as upstream).
   */
  ProjectConfigChanged: z.object({
    projectId: z.string().uuid(),
    requirePublishableClientKey: z.boolean().optional(),
    clientUserDeletionEnabled: z.boolean().optional(),
  }),
  ProjectAdminAdded: z.object({ projectId: z.string().uuid(), userId: z.string().uuid() }),
  ProjectAdminRemoved: z.object({ projectId: z.string().uuid(), userId: z.string().uuid() }),
};
