// The CLI's poll claims a completed attempt: CliAuthClaimed is appended first, on the attempt's
// stream, so exactly one poll wins however many race; only the winner then mints the refresh
// token, of a new session for the approving user linked to the attempt and the approving
// session. The token exists nowhere but in that one response.
//
// A crash between the claim and the session leaves a claimed attempt whose session never came to
// be: the CLI got no token and its next poll says `used`, so the person logs in again. The other
// order would leave sessions nobody holds a token for, one per losing poll.
import { randomUUID } from 'node:crypto';
import { metadataFor, type AppContext, type Origin } from '../../app-context.ts';
import { streamName } from '../../events/streams.ts';
import { handleCommand } from '../handler.ts';
import { cliAuthDecider, isCliAuthExpired } from './cli-auth-decider.ts';
import { createSession } from '../session/create-session.ts';
import { userIsLive } from '../user/user-is-live.ts';
import { DEFAULT_SESSION_MS } from '../session/session-lifetimes.ts';
import { liveParentSession } from '../session/parent-session.ts';

export type ClaimOutcome =
  | { status: 'claimed'; refreshToken: string }
  | { status: 'pending' | 'used' | 'expired' | 'denied' };

export async function claimCliAuth(ctx: AppContext, projectId: string, cliAuthId: string, origin: Origin): Promise<ClaimOutcome> {
  const now = ctx.clock();
  const sessionId = randomUUID();
  const result = await handleCommand(
    ctx.store,
    streamName('cliAuth', cliAuthId),
    cliAuthDecider,
    { type: 'ClaimCliAuth', projectId, sessionId, nowMs: now },
    metadataFor({ ...origin, projectId }, now),
  );
  const state = result.state;
  if (result.appended.length === 0) {
    if (isCliAuthExpired(state, now)) return { status: 'expired' };
    if (state.status === 'denied') return { status: 'denied' };
    return { status: state.status === 'claimed' ? 'used' : 'pending' };
  }
  const userId = state.userId as string;
  // The approver was deleted between approval and claim: no session for them.
  if (!(await userIsLive(ctx, projectId, userId))) return { status: 'expired' };
  // The CLI's session is derived from the one that approved it, which must still be in force:
  // it bounds the new session's life, and an impersonation carries over with its actor.
  const parent = state.approvingSessionId === undefined ? undefined : await liveParentSession(ctx, projectId, state.approvingSessionId, now);
  if (!parent) return { status: 'expired' };
  const session = await createSession(
    ctx,
    {
      projectId,
      userId,
      expiresInMs: DEFAULT_SESSION_MS,
      isImpersonation: false,
      parent,
      via: 'cli-login',
      sessionId,
      cliAuthId,
      approvingSessionId: parent.sessionId,
    },
    origin,
  );
  return { status: 'claimed', refreshToken: session.refreshToken };
}
