// Read model of projects: the project record, the key index (digest -> project, level, key id)
// used to authenticate every request, and the set of the project's admin users.
import type { Projector } from './projector.ts';
import type { ReadModelOp, ReadModelQueries } from '../readmodel/read-model.ts';
import type { SigningKeyState } from '../crypto/access-tokens.ts';
import { REFRESH_TOKEN_ROTATION_MODES, type RefreshTokenRotationMode } from '../events/project-events.ts';
import type { RateLimitOverrides } from '../rate-limit-catalogue.ts';

export type AccessLevel = 'client' | 'server' | 'admin';

const projectKey = (projectId: string) => `project:${projectId}`;
const apiKeyKey = (digest: string) => `apikey:${digest}`;
const adminsKey = (projectId: string) => `project-admins:${projectId}`;

/** The keys read to authenticate every request; they never expire, so they may be cached in-process. */
export const isProjectReadModelKey = (key: string): boolean => key.startsWith('project:') || key.startsWith('apikey:') || key.startsWith('project-admins:');

export const projectProjector: Projector = (event) => {
  switch (event.type) {
    case 'ProjectCreated': {
      const { projectId, name, trustedDomains, keys } = event.data;
      const key = (digest: string, level: AccessLevel, keyId: string) => ({
        op: 'hset' as const,
        key: apiKeyKey(digest),
        fields: { projectId, level, keyId },
      });
      return [
        { op: 'hset', key: projectKey(projectId), fields: { name, trustedDomains: JSON.stringify(trustedDomains) } },
        key(keys.publishableClientKey.digest, 'client', keys.publishableClientKey.id),
        key(keys.secretServerKey.digest, 'server', keys.secretServerKey.id),
        key(keys.superSecretAdminKey.digest, 'admin', keys.superSecretAdminKey.id),
      ];
    }
    case 'ProjectRateLimitsChanged':
      return [{ op: 'hset', key: projectKey(event.data.projectId), fields: { rateLimits: JSON.stringify(event.data.rateLimits) } }];
    case 'ProjectTrustedDomainsChanged':
      return [{ op: 'hset', key: projectKey(event.data.projectId), fields: { trustedDomains: JSON.stringify(event.data.trustedDomains) } }];
    case 'ProjectKeyRotated': {
      const { projectId, kind, newKey, previousKey, previousKeyEndsAtMillis, rotatedAtMillis } = event.data;
      const ops: ReadModelOp[] = [{ op: 'hset', key: apiKeyKey(newKey.digest), fields: { projectId, level: kind, keyId: newKey.id } }];
      // The end is checked against the clock at each request (findApiKey's caller), not by an
      // expiry: the cached key record must never outlive it, and a timer decides nothing here.
      if (previousKey) ops.push({ op: 'hset', key: apiKeyKey(previousKey.digest), fields: { notAfter: String(previousKeyEndsAtMillis ?? rotatedAtMillis) } });
      return ops;
    }
    case 'ProjectKeyRevoked':
      return [{ op: 'del', key: apiKeyKey(event.data.key.digest) }];
    case 'ProjectSigningKeyRotated':
      return [
        {
          op: 'hset',
          key: projectKey(event.data.projectId),
          fields: { signingKeyGeneration: String(event.data.generation), previousSigningKeyUntil: String(event.data.previousVerifiesUntilMillis) },
        },
      ];
    case 'ProjectConfigChanged': {
      const { requirePublishableClientKey, clientUserDeletionEnabled } = event.data;
      const fields: Record<string, string> = {};
      if (requirePublishableClientKey !== undefined) fields.requirePublishableClientKey = requirePublishableClientKey ? '1' : '0';
      if (clientUserDeletionEnabled !== undefined) fields.clientUserDeletionEnabled = clientUserDeletionEnabled ? '1' : '0';
      return [{ op: 'hset', key: projectKey(event.data.projectId), fields }];
    }
    case 'ProjectRefreshTokenRotationChanged':
      return [{ op: 'hset', key: projectKey(event.data.projectId), fields: { refreshTokenRotation: event.data.rotation } }];
    case 'ProjectAdminAdded':
      return [{ op: 'sadd', key: adminsKey(event.data.projectId), member: event.data.userId }];
    case 'ProjectAdminRemoved':
      return [{ op: 'srem', key: adminsKey(event.data.projectId), member: event.data.userId }];
    default:
      return [];
  }
};

export interface ProjectView {
  id: string;
  name: string;
  trustedDomains: string[];
  /** Overrides of the default rate limits (rate-limit-catalogue.ts). */
  rateLimits: RateLimitOverrides;
  /** Absent: the default (project-decider.ts DEFAULT_REFRESH_TOKEN_ROTATION). */
  refreshTokenRotation: RefreshTokenRotationMode | undefined;
  /** Client calls must send a publishable key (default false, as upstream). */
  requirePublishableClientKey: boolean;
  /** A signed-in user may delete themself with client access (default false, as upstream). */
  clientUserDeletionEnabled: boolean;
}

export interface ApiKeyView {
  projectId: string;
  level: AccessLevel;
  keyId: string;
  /** Set once the key was rotated out: it works only while now < notAfterMillis. */
  notAfterMillis: number | undefined;
}

export async function findProject(rm: ReadModelQueries, projectId: string): Promise<ProjectView | undefined> {
  const h = await rm.hgetall(projectKey(projectId));
  if (!h?.name) return undefined;
  return {
    id: projectId,
    name: h.name,
    trustedDomains: JSON.parse(h.trustedDomains ?? '[]') as string[],
    rateLimits: JSON.parse(h.rateLimits ?? '{}') as RateLimitOverrides,
    refreshTokenRotation: REFRESH_TOKEN_ROTATION_MODES.find((m) => m === h.refreshTokenRotation),
    requirePublishableClientKey: h.requirePublishableClientKey === '1',
    clientUserDeletionEnabled: h.clientUserDeletionEnabled === '1',
  };
}

/** The project's signing-key generation for the access-token signer (generation 0 before any rotation). */
export async function signingKeyState(rm: ReadModelQueries, projectId: string): Promise<SigningKeyState> {
  const h = await rm.hgetall(projectKey(projectId));
  const generation = Number(h?.signingKeyGeneration ?? '0');
  if (!Number.isSafeInteger(generation) || generation <= 0) return { generation: 0 };
  return { generation, previousUntilMs: Number(h?.previousSigningKeyUntil ?? '0') };
}

export async function findApiKey(rm: ReadModelQueries, digest: string): Promise<ApiKeyView | undefined> {
  const h = await rm.hgetall(apiKeyKey(digest));
  if (!h?.projectId || !h.keyId) return undefined;
  const level = h.level;
  if (level !== 'client' && level !== 'server' && level !== 'admin') return undefined;
  return { projectId: h.projectId, level, keyId: h.keyId, notAfterMillis: h.notAfter === undefined ? undefined : Number(h.notAfter) };
}

export async function isProjectAdmin(rm: ReadModelQueries, projectId: string, userId: string): Promise<boolean> {
  return (await rm.smembers(adminsKey(projectId))).includes(userId);
}
