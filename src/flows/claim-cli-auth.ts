// The CLI's poll claims a completed attempt: CliAuthClaimed is appended first, on the attempt's
// stream, so exactly one poll wins however many race; only the winner then mints the refresh
// token, of a new session for the approving user linked to the attempt and the approving
// session. The token exists nowhere but in that one response.
//
// A crash between the claim and the session leaves a claimed attempt whose session never came to
// be: the CLI got no token and its next poll says `used`, so the person logs in again. The other
// order would leave sessions nobody holds a token for, one per losing poll.
import { randomUUID } from 'node:crypto';
import type { AppContext, Origin } from '../app-context.ts';
import { cliAuths } from '../commands/aggregates.ts';
import { createSession } from '../commands/session/create-session.ts';
import { isUserLive } from '../commands/user/live-user.ts';
import { DEFAULT_SESSION_MS } from '../commands/session/session-lifetimes.ts';
import { liveParentSession } from '../commands/session/parent-session.ts';
import { cliAuthPollStatus } from '../policy/cli-auth-poll.ts';

export type ClaimOutcome =
  | { status: 'claimed'; refreshToken: string }
  | { status: 'pending' | 'used' | 'expired' | 'denied' };

export async function claimCliAuth(ctx: AppContext, projectId: string, cliAuthId: string, origin: Origin): Promise<ClaimOutcome> {
  const sessionId = randomUUID();
  const { state, appended, nowMs: now } = await cliAuths.handle(
    ctx,
    cliAuthId,
    (nowMs) => ({ type: 'ClaimCliAuth', projectId, sessionId, nowMs }),
    // What the CLI's next request reads is the session created next, which is waited for.
    { origin, projectId, settle: false },
  );
  if (state.status !== 'used' || appended.length === 0) {
    if (state.status === 'none') return { status: 'expired' };
    const status = cliAuthPollStatus(state, now);
    // Claimable yet not claimed: the attempt is another project's, which has nothing to claim here.
    return { status: status === 'claimable' ? 'pending' : status };
  }
  // The approver was deleted between approval and claim: no session for them.
  if (!(await isUserLive(ctx, projectId, state.userId))) return { status: 'expired' };
  // The CLI's session is derived from the one that approved it, which must still be in force:
  // it bounds the new session's life, and an impersonation carries over with its actor.
  const parent = await liveParentSession(ctx, projectId, state.approvingSessionId, now);
  if (!parent) return { status: 'expired' };
  const session = await createSession(
    ctx,
    {
      projectId,
      userId: state.userId,
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
