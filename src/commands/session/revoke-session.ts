// Ending sessions: one (sign-out, or revoked by id), or every live session of a user (when the
// user is deleted). A revocation answers only once refresh can no longer succeed.
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { streamName } from '../../events/streams.ts';
import type { EventData } from '../../events/catalogue.ts';
import { handleCommand } from '../handler.ts';
import { sessionDecider, type SessionState } from './session-decider.ts';

export async function revokeSession(
  ctx: AppContext,
  projectId: string,
  sessionId: string,
  reason: EventData<'SessionRevoked'>['reason'],
  origin: Origin,
  options: { settle?: boolean } = {},
): Promise<{ state: SessionState; position: bigint | undefined; /** False when it had ended already. */ revoked: boolean }> {
  const now = ctx.clock();
  const result = await handleCommand(
    ctx.store,
    streamName('session', sessionId),
    sessionDecider,
    { type: 'RevokeSession', projectId, reason, nowMs: now },
    metadataFor({ ...origin, projectId }, now),
  );
  if (options.settle ?? true) await settle(ctx, result.position);
  return { state: result.state, position: result.position, revoked: result.appended.length > 0 };
}

/** Records that a session was used, at most once per SESSION_ACTIVITY_INTERVAL_MS (the decider says when). */
export async function recordSessionActivity(ctx: AppContext, projectId: string, sessionId: string, origin: Origin): Promise<void> {
  const now = ctx.clock();
  await handleCommand(
    ctx.store,
    streamName('session', sessionId),
    sessionDecider,
    { type: 'RecordActivity', nowMs: now },
    metadataFor({ ...origin, projectId }, now),
  );
}
