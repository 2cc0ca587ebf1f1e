// A refresh token exchanged for a new access token (the refresh token is not rotated, as
// upstream). Both the Stack Auth refresh endpoint and the OAuth token endpoint the official SDK
// uses come here.
import type { AppContext, Origin } from '../../app-context.ts';
import { knownError } from '../../errors.ts';
import { findSessionByRefreshDigest } from '../../projections/session-projection.ts';
import { findUser } from '../../projections/user-projection.ts';
import { recordSessionActivity } from './revoke-session.ts';
import { SESSION_ACTIVITY_INTERVAL_MS } from './session-decider.ts';

export interface RefreshedSession {
  accessToken: string;
  sessionId: string;
}

export async function refreshSession(app: AppContext, projectId: string, refreshToken: string, origin: Origin): Promise<RefreshedSession> {
  const session = await findSessionByRefreshDigest(app.readModel, projectId, app.hasher.digest('refresh-token', refreshToken));
  if (!session) throw knownError('REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  // A deleted user's sessions stop at once, even before their revocations are written.
  const user = await findUser(app.readModel, app.personal, projectId, session.userId);
  if (!user) throw knownError('REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  const now = app.clock();
  const accessToken = await app.tokens.sign(
    { sub: session.userId, projectId, sessionId: session.id, profile: user, actorChain: session.actorChain },
    now,
  );
  // At most one activity event per interval: a CLI refreshing every few minutes would otherwise
  // write tens of thousands of events a year per session.
  if (session.lastUsedAtMillis === undefined || now - session.lastUsedAtMillis >= SESSION_ACTIVITY_INTERVAL_MS) {
    await recordSessionActivity(app, projectId, session.id, origin);
  }
  return { accessToken, sessionId: session.id };
}
