// A refresh token exchanged for a new access token. Both the Stack Auth refresh endpoint and the
// OAuth token endpoint the official SDK uses come here.
//
// Refresh-token rotation (per project: `authlog project set-refresh-token-rotation`, by default
// for CLI logins only, as upstream never rotates): a refresh then also hands out the token's
// successor and retires the presented one, decided on the session's stream so that of two
// concurrent refreshes exactly one rotates. A retired token presented again gets the same
// successor while that successor is unused (a retry, or a client that ignores refresh_token);
// once the successor was used, the retired token is reuse (after REFRESH_TOKEN_REUSE_GRACE_MS)
// and the whole session ends with the reason refresh-token-reused. Reuse is detected whatever
// the project's setting now is: a retired token is never just "unknown".
import type { AppContext, Origin } from '../../app-context.ts';
import { knownError } from '../../errors.ts';
import { findByDigests } from '../../crypto/digests.ts';
import { refreshTokenSuccessor } from '../../crypto/refresh-successor.ts';
import { findRetiredRefreshSessionId, findSession, type SessionView } from '../../projections/session-projection.ts';
import { findUser, userOf } from '../../projections/user-projection.ts';
import type { ProjectView } from '../../projections/project-projection.ts';
import { sessions } from '../aggregates.ts';
import { DEFAULT_REFRESH_TOKEN_ROTATION } from '../project/project-decider.ts';
import { recordSessionActivity } from './revoke-session.ts';
import { findSessionByRefreshToken } from './find-session-by-refresh-token.ts';
import { SESSION_ACTIVITY_INTERVAL_MS } from './session-decider.ts';

export interface RefreshedSession {
  accessToken: string;
  sessionId: string;
  /** The successor to use from now on, when the session's refresh tokens rotate. */
  refreshToken?: string;
}

/** Whether this session's refresh tokens rotate under the project's setting. */
export function rotatesRefreshTokens(project: Pick<ProjectView, 'refreshTokenRotation'>, session: Pick<SessionView, 'via'>): boolean {
  const mode = project.refreshTokenRotation ?? DEFAULT_REFRESH_TOKEN_ROTATION;
  return mode === 'all' || (mode === 'cli-login' && session.via === 'cli-login');
}

export async function refreshSession(app: AppContext, project: ProjectView, refreshToken: string, origin: Origin): Promise<RefreshedSession> {
  const projectId = project.id;
  const current = await findSessionByRefreshToken(app, projectId, refreshToken);
  let session = current?.session;
  let presentedDigest = current?.digest;
  let rotate = session !== undefined && rotatesRefreshTokens(project, session);
  if (!current) {
    // Not a current token: perhaps a retired one (a retry, or reuse).
    const retired = await findByDigests(app.hasher.candidates('refresh-token', refreshToken), (d) => findRetiredRefreshSessionId(app.readModel, d));
    if (!retired) throw knownError('REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
    session = await findSession(app.readModel, projectId, retired.value);
    presentedDigest = retired.digest;
    rotate = true;
  }
  if (!session || presentedDigest === undefined) throw knownError('REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
  // A deleted user's sessions stop at once, even before their revocations are written.
  const user =
    current && 'userRecord' in current
      ? await userOf(app.personal, projectId, session.userId, current.userRecord)
      : await findUser(app.readModel, app.personal, projectId, session.userId);
  if (!user) throw knownError('REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');

  let successor: string | undefined;
  if (rotate) {
    successor = refreshTokenSuccessor(app.hasher, refreshToken);
    const successorDigest = app.hasher.digest('refresh-token', successor);
    // Waited for: the successor must work for the client's very next request, and a reuse must
    // have ended the session before the refusal is answered.
    const result = await sessions.handle(app, session.id, (nowMs) => ({ type: 'RotateRefreshToken', projectId, presentedDigest, successorDigest, nowMs }), { origin, projectId });
    if (result.appended.some((e) => e.type === 'SessionRevoked')) throw knownError('REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
    // A retry: the successor handed out must be the one recorded (it is, unless AUTHLOG_SECRET
    // changed in between; then the retry is refused, without ending the session).
    if (result.appended.length === 0 && result.state.retired.get(presentedDigest)?.successorDigest !== successorDigest) {
      throw knownError('REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
    }
  }

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
  return successor === undefined ? { accessToken, sessionId: session.id } : { accessToken, sessionId: session.id, refreshToken: successor };
}
