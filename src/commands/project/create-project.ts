// Creating a project draws its three keys, appends ProjectCreated holding only their digests,
// and hands the keys back exactly once.
import { randomUUID } from 'node:crypto';
import type { AppContext, Origin } from '../../app-context.ts';
import { newApiKey } from '../../crypto/codes.ts';
import { projects } from '../aggregates.ts';
import type { CommandContext } from '../handler.ts';

export interface CreatedProject {
  project_id: string;
  name: string;
  trusted_domains: string[];
  publishable_client_key: string;
  secret_server_key: string;
  super_secret_admin_key: string;
}

export async function createProject(
  ctx: CommandContext & Pick<AppContext, 'hasher'>,
  input: { name: string; trustedDomains: string[] },
  origin: Origin,
): Promise<CreatedProject> {
  const projectId = randomUUID();
  const keys = {
    publishable_client_key: newApiKey('publishable-client'),
    secret_server_key: newApiKey('secret-server'),
    super_secret_admin_key: newApiKey('super-secret-admin'),
  };
  const record = (key: string) => ({ id: randomUUID(), digest: ctx.hasher.digest('api-key', key) });
  await projects.handle(
    ctx,
    projectId,
    () => ({
      type: 'CreateProject',
      data: {
        projectId,
        name: input.name,
        trustedDomains: input.trustedDomains,
        keys: {
          publishableClientKey: record(keys.publishable_client_key),
          secretServerKey: record(keys.secret_server_key),
          superSecretAdminKey: record(keys.super_secret_admin_key),
        },
      },
    }),
    { origin, projectId },
  );
  return { project_id: projectId, name: input.name, trusted_domains: input.trustedDomains, ...keys };
}
