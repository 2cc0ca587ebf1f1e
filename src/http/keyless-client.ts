// Client access without a publishable key (upstream's `requirePublishableClientKey`, off by
// default since 2026): an SDK app built without a key sends `x-stack-access-type: client` and
// `x-stack-project-id` only, and OAuth's token endpoint gets upstream's sentinel as its
// client_secret. A publishable key is public (it ships in every browser bundle), so going without
// one gives a caller nothing a key-holder lacks: it is client access to that project, no more;
// server and admin access still need their keys. A project that requires keys refuses it.
import type { Caller } from './app-state.ts';
import type { ProjectView } from '../projections/project-projection.ts';
import { knownError } from '../errors.ts';

/** What upstream's SDK sends as OAuth's client_secret when it has no publishable key. */
export const PUBLIC_CLIENT_SENTINEL = '__stack_public_client__';

/** The audit names keyless client calls `client-key:none`. */
export const KEYLESS_CLIENT_KEY_ID = 'none';

/** Client access to `project` without a key, or PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT. */
export function keylessClientOf(project: ProjectView): Caller {
  if (project.requirePublishableClientKey) throw knownError('PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT', undefined, { project_id: project.id });
  return { project, accessType: 'client', actor: { kind: 'client-key', id: KEYLESS_CLIENT_KEY_ID } };
}
