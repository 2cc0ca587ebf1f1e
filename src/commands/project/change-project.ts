// Changes to an existing project: trusted domains (for sign-in callback URLs) and admin users
// (people whose access tokens act with admin access; the audit names them).
import type { AppContext, Origin } from '../../app-context.ts';
import { projects } from '../aggregates.ts';
import type { ProjectCommand } from './project-decider.ts';

export async function changeProject(
  ctx: Pick<AppContext, 'store' | 'clock'>,
  command: Exclude<ProjectCommand, { type: 'CreateProject' }>,
  origin: Origin,
): Promise<{ changed: boolean; position: bigint | undefined }> {
  // The caller waits for the position, when its answer depends on the change being visible.
  const result = await projects.handle(ctx, command.projectId, () => command, { origin, projectId: command.projectId, settle: false });
  return { changed: result.appended.length > 0, position: result.position };
}

/** A trusted domain is an origin (scheme://host[:port]) or a pattern with a leading `*.` label. */
export function normaliseTrustedDomain(input: string): string {
  const url = new URL(input.replace('://*.', '://wildcard-placeholder.'));
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${input}: must be an http(s) URL`);
  return url.origin.replace('wildcard-placeholder.', '*.');
}

/** True when `callbackUrl` is on one of the trusted domains (same scheme, host, port). */
export function isOnTrustedDomain(callbackUrl: string, trustedDomains: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(callbackUrl);
  } catch {
    return false;
  }
  return trustedDomains.some((domain) => {
    if (!domain.includes('://*.')) return url.origin === domain;
    const [scheme, rest] = domain.split('://*.');
    const suffix = '.' + rest;
    return url.protocol === `${scheme}:` && `${url.host}`.endsWith(suffix) && url.host.length > suffix.length;
  });
}
