// Creating a session for a user: the user must be live (decided on the user's own stream, not the
// read model), a refresh token is drawn, only its digest goes into SessionCreated, and the token
// and a first access token are handed back once. Used by /auth/sessions (impersonation), the CLI
// login's claim, and sign-in with a code.
import { randomUUID } from 'node:crypto';
import type { AppContext, Origin } from '../../app-context.ts';
import { newRefreshToken } from '../../crypto/codes.ts';
import type { EventData } from '../../events/catalogue.ts';
import { knownError } from '../../errors.ts';
import { sessions } from '../aggregates.ts';
import { findLiveUser } from '../user/live-user.ts';
import { termsFields, termsForNewSession, type ParentSession } from '../../policy/session-authority.ts';

export interface CreateSessionInput {
  projectId: string;
  userId: string;
  expiresInMs: number;
  isImpersonation: boolean;
  via: EventData<'SessionCreated'>['via'];
  /**
   * The live session this one is derived from (liveParentSession): it bounds the new session's
   * life and powers, and an impersonator acting through it stays the one responsible.
   */
  parent?: ParentSession;
  /** Chosen by the caller when it must name the session before it exists (a CLI claim). */
  sessionId?: string;
  cliAuthId?: string;
  approvingSessionId?: string;
  signInCodeStream?: string;
}

export interface CreatedSession {
  sessionId: string;
  refreshToken: string;
  accessToken: string;
  expiresAtMillis: number;
  position: bigint | undefined;
}

export async function createSession(
  ctx: AppContext,
  input: CreateSessionInput,
  origin: Origin,
  options: { settle?: boolean } = {},
): Promise<CreatedSession> {
  const profile = await findLiveUser(ctx, input.projectId, input.userId);
  if (!profile) {
    throw knownError('USER_ID_DOES_NOT_EXIST', `The given user with the ID ${input.userId} does not exist.`, { user_id: input.userId });
  }
  const now = ctx.clock();
  const sessionId = input.sessionId ?? randomUUID();
  const refreshToken = newRefreshToken();
  const { terms, createdBy } = termsForNewSession(
    { via: input.via, isImpersonation: input.isImpersonation, createdBy: origin.actor, nowMs: now, expiresInMs: input.expiresInMs },
    input.parent,
  );
  const data: EventData<'SessionCreated'> = {
    sessionId,
    projectId: input.projectId,
    userId: input.userId,
    refreshTokenDigest: ctx.hasher.digest('refresh-token', refreshToken),
    createdAtMillis: now,
    expiresAtMillis: terms.expiresAtMillis,
    isImpersonation: terms.isImpersonation,
    createdBy,
    via: input.via,
    ...(input.cliAuthId ? { cliAuthId: input.cliAuthId } : {}),
    ...(input.approvingSessionId ? { approvingSessionId: input.approvingSessionId } : {}),
    ...(input.signInCodeStream ? { signInCodeStream: input.signInCodeStream } : {}),
    ...termsFields(terms),
  };
  const result = await sessions.handle(ctx, sessionId, () => ({ type: 'CreateSession', data }), { origin, projectId: input.projectId, nowMs: now, settle: options.settle });
  const accessToken = await ctx.tokens.sign(
    { sub: input.userId, projectId: input.projectId, sessionId, profile, actorChain: terms.actorChain },
    now,
  );
  return { sessionId, refreshToken, accessToken, expiresAtMillis: terms.expiresAtMillis, position: result.position };
}
