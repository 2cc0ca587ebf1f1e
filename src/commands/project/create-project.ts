// Creating a project draws its three keys, appends ProjectCreated holding only their digests,
// and hands the keys back exactly once.
import { randomUUID } from 'node:crypto';
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { newApiKey } from '../../crypto/codes.ts';
import { streamName } from '../../events/streams.ts';
import { handleCommand } from '../handler.ts';
import { projectDecider } from './project-decider.ts';

export interface CreatedProject {
  project_id: string;
  name: string;
  trusted_domains: string[];
  publishable_client_key: string;
  secret_server_key: string;
  super_secret_admin_key: string;
}

export async function createProject(
  ctx: Pick<AppContext, 'store' | 'hasher' | 'clock'> & Partial<Pick<AppContext, 'projections' | 'config'>>,
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
  const result = await handleCommand(
    ctx.store,
    streamName('project', projectId),
    projectDecider,
    {
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
    },
    metadataFor({ ...origin, projectId }, ctx.clock()),
  );
  if (ctx.projections && ctx.config) await settle(ctx as AppContext, result.position);
  return { project_id: projectId, name: input.name, trusted_domains: input.trustedDomains, ...keys };
}
