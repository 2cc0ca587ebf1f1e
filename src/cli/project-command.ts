// `authlog project create`: appends ProjectCreated straight to the event store (a running server
// on the same data sees it through its subscription) and prints the keys, the only time they
// exist in plain text.
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { systemClock } from '../clock.ts';
import { resolveServerSecret } from '../server-secret.ts';
import { openEventStore } from '../backends.ts';
import { createHasher } from '../crypto/digests.ts';
import { createProject, type CreatedProject } from '../commands/project/create-project.ts';
import { normaliseTrustedDomain } from '../commands/project/change-project.ts';
import { systemOrigin } from '../app-context.ts';
import { UsageError } from './usage.ts';

export async function projectCommand(config: Config, args: string[], out: (line: string) => void): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'create') throw new UsageError(`unknown project command ${JSON.stringify(sub ?? '')}; try: authlog project create --name NAME`);
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      'trusted-domain': { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const name = values.name?.trim();
  if (!name) throw new UsageError('project create needs --name NAME');
  if (name.length > 200) throw new UsageError('--name must be at most 200 characters');
  const trustedDomains = (values['trusted-domain'] ?? []).map((domain) => {
    try {
      return normaliseTrustedDomain(domain);
    } catch {
      throw new UsageError(`--trusted-domain ${JSON.stringify(domain)} is not an http(s) URL such as https://app.example.com or https://*.example.com`);
    }
  });

  const secret = resolveServerSecret(config);
  const store = openEventStore(config);
  let created: CreatedProject;
  try {
    created = await createProject({ store, hasher: createHasher(secret.value), clock: systemClock }, { name, trustedDomains }, systemOrigin('cli'));
  } finally {
    await store.close();
  }
  if (values.json) {
    out(JSON.stringify(created));
    return;
  }
  out(`Created project ${JSON.stringify(created.name)}.`);
  out(`  project_id              ${created.project_id}`);
  out(`  publishable_client_key  ${created.publishable_client_key}`);
  out(`  secret_server_key       ${created.secret_server_key}`);
  out(`  super_secret_admin_key  ${created.super_secret_admin_key}`);
  out(`  trusted domains         ${created.trusted_domains.join(', ') || '(none)'}`);
  out('The keys are shown only now: authlog keeps only their HMAC digests. Store them somewhere safe.');
}
