// `authlog project create`: appends ProjectCreated straight to the event store (a running server
// on the same data sees it through its subscription) and prints the keys, the only time they
// exist in plain text.
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { systemClock } from '../clock.ts';
import { openLog } from '../backends.ts';
import { createHasher } from '../crypto/digests.ts';
import { createProject, type CreatedProject } from '../commands/project/create-project.ts';
import { changeProject, normaliseTrustedDomain } from '../commands/project/change-project.ts';
import { isUserLive } from '../commands/user/live-user.ts';
import { systemOrigin } from '../app-context.ts';
import { UsageError } from './usage.ts';
import { PROJECT_KEY_SUBCOMMANDS, projectKeysCommand } from './project-keys-command.ts';
import { setProjectConfig } from './project-config-command.ts';
import { foldStream } from '../commands/handler.ts';
import { projectDecider } from '../commands/project/project-decider.ts';
import { streamName } from '../events/streams.ts';
import { RATE_LIMIT_NAMES, effectiveRateLimit, type RateLimitName, type RateLimitOverrides } from '../rate-limit-catalogue.ts';

export async function projectCommand(config: Config, args: string[], out: (line: string) => void): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === 'create') return create(config, rest, out);
  if (sub === 'add-admin' || sub === 'remove-admin') return changeAdmins(config, sub, rest, out);
  if (sub === 'set-trusted-domains') return setTrustedDomains(config, rest, out);
  if (sub === 'set-rate-limit') return setRateLimit(config, rest, out);
  if (sub === 'set-config') return setProjectConfig(config, rest, out);
  const keySub = PROJECT_KEY_SUBCOMMANDS.find((s) => s === sub);
  if (keySub) return projectKeysCommand(config, keySub, rest, out);
  throw new UsageError(`unknown project command ${JSON.stringify(sub ?? '')}; try: authlog project create --name NAME`);
}

/**
 * Admin users are people: their access tokens act with admin access on the project, and the
 * audit names them (not a shared key) for every session they create. The user must exist in
 * the project, decided on the user's own stream.
 */
async function changeAdmins(config: Config, sub: 'add-admin' | 'remove-admin', rest: string[], out: (line: string) => void): Promise<void> {
  const { values } = parseArgs({
    args: rest,
    options: { project: { type: 'string' }, user: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  if (!values.project || !UUID.test(values.project)) throw new UsageError(`project ${sub} needs --project PROJECT_ID (a UUID)`);
  if (!values.user || !UUID.test(values.user)) throw new UsageError(`project ${sub} needs --user USER_ID (a UUID)`);
  const projectId = values.project.toLowerCase();
  const userId = values.user.toLowerCase();
  const log = openLog(config);
  const store = log.store;
  try {
    if (sub === 'add-admin' && !(await isUserLive({ store }, projectId, userId))) {
      throw new Error(`user ${userId} does not exist in project ${projectId}`);
    }
    const result = await changeProject(
      { store, clock: systemClock },
      sub === 'add-admin' ? { type: 'AddAdmin', projectId, userId } : { type: 'RemoveAdmin', projectId, userId },
      systemOrigin('cli'),
    );
    const done = sub === 'add-admin' ? 'is an admin of' : 'is no longer an admin of';
    out(`User ${userId} ${done} project ${projectId}${result.changed ? '' : ' (unchanged)'}.`);
  } finally {
    await log.close();
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseTrustedDomains(values: readonly string[] | undefined): string[] {
  return (values ?? []).map((domain) => {
    try {
      return normaliseTrustedDomain(domain);
    } catch {
      throw new UsageError(`--trusted-domain ${JSON.stringify(domain)} is not an http(s) URL such as https://app.example.com or https://*.example.com`);
    }
  });
}

/** Replaces the project's trusted domains (where sign-in links may point) with the ones given. */
async function setTrustedDomains(config: Config, rest: string[], out: (line: string) => void): Promise<void> {
  const { values } = parseArgs({
    args: rest,
    options: { project: { type: 'string' }, 'trusted-domain': { type: 'string', multiple: true } },
    strict: true,
    allowPositionals: false,
  });
  if (!values.project || !UUID.test(values.project)) throw new UsageError('project set-trusted-domains needs --project PROJECT_ID (a UUID)');
  const trustedDomains = parseTrustedDomains(values['trusted-domain']);
  const projectId = values.project.toLowerCase();
  const log = openLog(config);
  const store = log.store;
  try {
    const result = await changeProject({ store, clock: systemClock }, { type: 'SetTrustedDomains', projectId, trustedDomains }, systemOrigin('cli'));
    out(`Project ${projectId} trusts ${trustedDomains.join(', ') || 'no domain'}${result.changed ? '' : ' (unchanged)'}.`);
  } finally {
    await log.close();
  }
}

/** Overrides one of the project's rate limits, or (--default) puts it back to the default. */
async function setRateLimit(config: Config, rest: string[], out: (line: string) => void): Promise<void> {
  const { values } = parseArgs({
    args: rest,
    options: {
      project: { type: 'string' },
      name: { type: 'string' },
      limit: { type: 'string' },
      'window-seconds': { type: 'string' },
      default: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.project || !UUID.test(values.project)) throw new UsageError('project set-rate-limit needs --project PROJECT_ID (a UUID)');
  const name = values.name as RateLimitName | undefined;
  if (!name || !RATE_LIMIT_NAMES.includes(name)) throw new UsageError(`--name must be one of ${RATE_LIMIT_NAMES.join(', ')}`);
  const projectId = values.project.toLowerCase();
  const log = openLog(config);
  const store = log.store;
  try {
    const current = foldStream(projectDecider, await store.readStream(streamName('project', projectId)));
    const rateLimits: RateLimitOverrides = { ...current.rateLimits };
    if (values.default) {
      delete rateLimits[name];
    } else {
      const limit = Number(values.limit);
      const windowSeconds = values['window-seconds'] === undefined ? effectiveRateLimit(current.rateLimits, name).windowMs / 1000 : Number(values['window-seconds']);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) throw new UsageError('--limit must be a whole number from 1 to 1000000 (or use --default)');
      if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > 86_400) throw new UsageError('--window-seconds must be a whole number from 1 to 86400');
      rateLimits[name] = { limit, windowMs: windowSeconds * 1000 };
    }
    const result = await changeProject({ store, clock: systemClock }, { type: 'SetRateLimits', projectId, rateLimits }, systemOrigin('cli'));
    const now = effectiveRateLimit(rateLimits, name);
    out(`Project ${projectId}: ${name} is ${now.limit} per ${now.windowMs / 1000} s${values.default ? ' (the default)' : ''}${result.changed ? '' : ' (unchanged)'}.`);
  } finally {
    await log.close();
  }
}

async function create(config: Config, rest: string[], out: (line: string) => void): Promise<void> {
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
  const trustedDomains = parseTrustedDomains(values['trusted-domain']);

  const log = openLog(config);
  const store = log.store;
  const secret = log.secret;
  let created: CreatedProject;
  try {
    created = await createProject({ store, hasher: createHasher(secret.value, secret.previous), clock: systemClock }, { name, trustedDomains }, systemOrigin('cli'));
  } finally {
    await log.close();
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
