// The session a new one is derived from, read from the log (the write side): live by its own
// stream, and, when it ends with its parent, by every ancestor's. A derived session is minted
// only from a parent that is still in force.
import type { AppContext } from '../../app-context.ts';
import { sessions } from '../aggregates.ts';
import type { ParentSession } from '../../policy/session-authority.ts';
import { asParent, type SessionState } from './session-decider.ts';

/** Ancestors are few (one per CLI login approved from a CLI session); this bounds a corrupt loop. */
const MAX_ANCESTORS = 64;

export async function liveParentSession(ctx: Pick<AppContext, 'store'>, projectId: string, sessionId: string, nowMs: number): Promise<ParentSession | undefined> {
  let parent: ParentSession | undefined;
  let id: string | undefined = sessionId;
  for (let depth = 0; id !== undefined && depth < MAX_ANCESTORS; depth++) {
    const state: SessionState = await sessions.load(ctx, id);
    const session: ParentSession | undefined = state.projectId === projectId ? asParent(state, nowMs) : undefined;
    if (!session) return undefined;
    parent ??= session;
    id = session.endsWithParent ? session.parentSessionId : undefined;
  }
  return id === undefined ? parent : undefined;
}
