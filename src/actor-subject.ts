// How an actor is named in one string: the `act.sub` claim of impersonation access tokens and the
// actor column of the audit. `<kind>:<id>`, e.g. `admin-user:<uuid>` or `server-key:<key id>`.
import type { Actor } from './events/actor.ts';

export const actorSubject = (actor: Pick<Actor, 'kind' | 'id'>): string => `${actor.kind}:${actor.id}`;

const ACTOR_KINDS = ['client-key', 'server-key', 'admin-key', 'admin-user', 'user', 'system'] as const;

/** The actor an `act.sub` names, or undefined when it is not one of ours. */
export function parseActorSubject(subject: string): Pick<Actor, 'kind' | 'id'> | undefined {
  const colon = subject.indexOf(':');
  const kind = subject.slice(0, colon);
  const id = subject.slice(colon + 1);
  if (colon < 0 || !id || !(ACTOR_KINDS as readonly string[]).includes(kind)) return undefined;
  return { kind: kind as Actor['kind'], id } as Pick<Actor, 'kind' | 'id'>;
}
