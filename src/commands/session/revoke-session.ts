// Ending sessions: one (sign-out, or revoked by id), or every live session of a user (when the
// user is deleted). A revocation answers only once refresh can no longer succeed.
import type { AppContext, Origin } from '../../app-context.ts';
import type { EventData } from '../../events/catalogue.ts';
import { sessions } from '../aggregates.ts';
import type { SessionState } from './session-decider.ts';

export async function revokeSession(
  ctx: AppContext,
  projectId: string,
  sessionId: string,
  reason: EventData<'SessionRevoked'>['reason'],
  origin: Origin,
  options: { settle?: boolean } = {},
): Promise<{ state: SessionState; position: bigint | undefined; /** False when it had ended already. */ revoked: boolean }> {
  const result = await sessions.handle(ctx, sessionId, (nowMs) => ({ type: 'RevokeSession', projectId, reason, nowMs }), { origin, projectId, settle: options.settle });
  return { state: result.state, position: result.position, revoked: result.appended.length > 0 };
}

/** Records that a session was used, at most once per SESSION_ACTIVITY_INTERVAL_MS (the decider says when). */
export async function recordSessionActivity(ctx: AppContext, projectId: string, sessionId: string, origin: Origin): Promise<void> {
  // Nothing reads it at once: it is not waited for.
  await sessions.handle(ctx, sessionId, (nowMs) => ({ type: 'RecordActivity', nowMs }), { origin, projectId, settle: false });
}
