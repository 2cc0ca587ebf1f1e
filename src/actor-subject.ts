// How an actor is named in one string: the `act.sub` claim of impersonation access tokens and the
// actor column of the audit. `<kind>:<id>`, e.g. `admin-user:<uuid>` or `server-key:<key id>`.
import type { Actor } from './store/event-store.ts';

export const actorSubject = (actor: Pick<Actor, 'kind' | 'id'>): string => `${actor.kind}:${actor.id}`;
