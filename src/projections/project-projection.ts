// Read model of projects: the project record, the key index (digest -> project, level, key id)
// used to authenticate every request, and the set of the project's admin users.
import type { Projector } from './projector.ts';
import type { ReadModelQueries } from '../readmodel/read-model.ts';
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
}

export interface ApiKeyView {
  projectId: string;
  level: AccessLevel;
  keyId: string;
}

export async function findProject(rm: ReadModelQueries, projectId: string): Promise<ProjectView | undefined> {
  const h = await rm.hgetall(projectKey(projectId));
  if (!h?.name) return undefined;
  return {
    id: projectId,
    name: h.name,
    trustedDomains: JSON.parse(h.trustedDomains ?? '[]') as string[],
    rateLimits: JSON.parse(h.rateLimits ?? '{}') as RateLimitOverrides,
  };
}

export async function findApiKey(rm: ReadModelQueries, digest: string): Promise<ApiKeyView | undefined> {
  const h = await rm.hgetall(apiKeyKey(digest));
  if (!h?.projectId || !h.keyId) return undefined;
  const level = h.level;
  if (level !== 'client' && level !== 'server' && level !== 'admin') return undefined;
  return { projectId: h.projectId, level, keyId: h.keyId };
}

export async function isProjectAdmin(rm: ReadModelQueries, projectId: string, userId: string): Promise<boolean> {
  return (await rm.smembers(adminsKey(projectId))).includes(userId);
}
