// A CLI login that started as an anonymous user (upstream's anon_refresh_token): the CLI names
// its anonymous session when it starts, the approval page asks whether there is one
// (cli/complete mode check) and may take it over, once (mode claim-anon-session), so the person
// can go on as that user in the browser.
//
// authlog keeps no token it can hand back: the attempt records the anonymous session's id, and
// the hand-over mints a new session of the anonymous user derived from the CLI's (it never
// outlives it, and, like every anonymous session, carries no person's rights). The hand-over is
// decided on the attempt's stream first, so of two racing claims exactly one gets tokens.
import { randomUUID } from 'node:crypto';
import type { AppContext, Origin } from '../app-context.ts';
import { knownError } from '../errors.ts';
import { cliAuths } from '../commands/aggregates.ts';
import { isCliAuthOpen } from '../policy/cli-auth-poll.ts';
import { findSessionByRefreshToken } from '../commands/session/find-session-by-refresh-token.ts';
import { liveParentSession } from '../commands/session/parent-session.ts';
import { createSession } from '../commands/session/create-session.ts';
import { DEFAULT_SESSION_MS } from '../commands/session/session-lifetimes.ts';
import { findLiveUser } from '../commands/user/live-user.ts';

export interface AnonymousSession {
  sessionId: string;
  userId: string;
}

/** Whether the session is still in force and its user still anonymous (read from the log). */
async function isLiveAnonymous(ctx: AppContext, projectId: string, session: AnonymousSession): Promise<boolean> {
  const [parent, user] = await Promise.all([liveParentSession(ctx, projectId, session.sessionId, ctx.clock()), findLiveUser(ctx, projectId, session.userId)]);
  return parent !== undefined && user?.isAnonymous === true;
}

/**
 * The anonymous session a refresh token names: live, of this project, its user anonymous. One
 * answer for every other case (unknown, another project's, expired, a real user's), as the
 * token is a secret and its owner is the only one who should learn anything about it.
 */
export async function anonymousSessionOf(ctx: AppContext, projectId: string, refreshToken: string): Promise<AnonymousSession> {
  const session = (await findSessionByRefreshToken(ctx, projectId, refreshToken))?.session;
  const anonymous = session && { sessionId: session.id, userId: session.userId };
  if (!anonymous || !(await isLiveAnonymous(ctx, projectId, anonymous))) throw knownError('INVALID_ANON_REFRESH_TOKEN');
  return anonymous;
}

async function openAttempt(ctx: AppContext, projectId: string, cliAuthId: string): Promise<{ anonSession: AnonymousSession | undefined }> {
  const state = await cliAuths.load(ctx, cliAuthId);
  // What complete would refuse, check refuses alike (upstream: one message for all).
  if (state.status === 'none' || state.projectId !== projectId || !isCliAuthOpen(state, ctx.clock())) throw knownError('INVALID_LOGIN_CODE');
  return state;
}

/** Upstream's `cli_session_state`: whether approving may take over an anonymous session of the CLI. */
export async function cliSessionState(ctx: AppContext, projectId: string, cliAuthId: string): Promise<'anonymous' | 'none'> {
  const { anonSession } = await openAttempt(ctx, projectId, cliAuthId);
  return anonSession && (await isLiveAnonymous(ctx, projectId, anonSession)) ? 'anonymous' : 'none';
}

export async function handOverAnonymousSession(ctx: AppContext, projectId: string, cliAuthId: string, origin: Origin): Promise<{ accessToken: string; refreshToken: string }> {
  const { anonSession } = await openAttempt(ctx, projectId, cliAuthId);
  // A session that ended (or a user who signed up meanwhile) is not handed over, and not spent.
  if (!anonSession || !(await isLiveAnonymous(ctx, projectId, anonSession))) throw knownError('NO_ANONYMOUS_CLI_SESSION');
  const sessionId = randomUUID();
  const { nowMs: now } = await cliAuths.handle(ctx, cliAuthId, (nowMs) => ({ type: 'HandOverAnonymousSession', projectId, sessionId, nowMs }), {
    origin,
    projectId,
    settle: false,
  });
  const parent = await liveParentSession(ctx, projectId, anonSession.sessionId, now);
  if (!parent) throw knownError('NO_ANONYMOUS_CLI_SESSION', 'Anonymous session is no longer valid');
  const session = await createSession(
    ctx,
    { projectId, userId: anonSession.userId, expiresInMs: DEFAULT_SESSION_MS, isImpersonation: false, via: 'cli-anonymous-handover', parent, sessionId, cliAuthId },
    origin,
  );
  return { accessToken: session.accessToken, refreshToken: session.refreshToken };
}
