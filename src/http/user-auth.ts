// The end user behind a request: `x-stack-access-token` (a JWT of this project), verified without
// a lookup. What the token names (user, session, actor) is then checked against the read model by
// the routes that need more than the signature.
import type { AppContext } from '../app-context.ts';
import type { VerifiedAccessToken } from '../crypto/access-tokens.ts';
import type { AppCtx } from './app-state.ts';
import { callerOf } from './access.ts';
import { stackHeader } from './headers.ts';
import { knownError } from '../errors.ts';
import { decodeJwt } from 'jose';
import { findSession, type SessionView } from '../projections/session-projection.ts';

/** The verified access token, or undefined when none is sent. An invalid one is a 401. */
export async function optionalUserToken(app: AppContext, ctx: AppCtx): Promise<VerifiedAccessToken | undefined> {
  const token = stackHeader(ctx, 'access-token');
  if (token === undefined) return undefined;
  const now = app.clock();
  const projectId = callerOf(ctx).project.id;
  // As upstream: an anonymous user's token counts only where the request says it may
  // (x-stack-allow-anonymous-user: true, which the official SDK always sends).
  const allowAnonymous = stackHeader(ctx, 'allow-anonymous-user') === 'true';
  const verified = await app.tokens.verify(token, now, projectId, { allowAnonymous: true });
  if (verified && verified.isAnonymous && !allowAnonymous) throw knownError('ANONYMOUS_AUTHENTICATION_NOT_ALLOWED');
  if (verified) return verified;
  throw knownError(looksExpired(token, now) ? 'ACCESS_TOKEN_EXPIRED' : 'UNPARSABLE_ACCESS_TOKEN');
}

export async function requireUserToken(app: AppContext, ctx: AppCtx): Promise<VerifiedAccessToken> {
  const verified = await optionalUserToken(app, ctx);
  if (!verified) throw knownError('USER_AUTHENTICATION_REQUIRED', 'This endpoint needs the user\'s access token in x-stack-access-token.');
  return verified;
}

/**
 * The token's session, which must still be live: an access token of a revoked or signed-out
 * session may still read for its remaining minutes, but never changes anything (revoking a
 * session, approving a CLI login).
 */
export async function liveSessionOf(app: AppContext, token: VerifiedAccessToken): Promise<SessionView> {
  const session = await findSession(app.readModel, token.projectId, token.sessionId);
  if (session?.userId !== token.userId) throw knownError('UNPARSABLE_ACCESS_TOKEN', 'The access token belongs to a session that has ended.');
  return session;
}

/** Only picks the error message: the claims of a token that failed verification decide nothing else. */
function looksExpired(token: string, nowMs: number): boolean {
  try {
    const exp = decodeJwt(token).exp;
    return typeof exp === 'number' && exp * 1000 <= nowMs;
  } catch {
    return false;
  }
}
