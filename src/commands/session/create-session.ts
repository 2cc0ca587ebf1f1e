// Creating a session for a user: the user must be live (decided on the user's own stream, not the
// read model), a refresh token is drawn, only its digest goes into SessionCreated, and the token
// and a first access token are handed back once. Used by /auth/sessions (impersonation), the CLI
// login's claim, and sign-in with a code.
import { randomUUID } from 'node:crypto';
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { newRefreshToken } from '../../crypto/codes.ts';
import { streamName } from '../../events/streams.ts';
import type { EventData } from '../../events/catalogue.ts';
import { knownError } from '../../errors.ts';
import type { Actor } from '../../store/event-store.ts';
import { handleCommand } from '../handler.ts';
import { findLiveUser } from '../user/live-user.ts';
import { sessionDecider } from './session-decider.ts';
import { actorSubject } from '../../actor-subject.ts';

export interface CreateSessionInput {
  projectId: string;
  userId: string;
  expiresInMs: number;
  isImpersonation: boolean;
  via: EventData<'SessionCreated'>['via'];
  /**
   * Who the session is created for, when not the caller: a CLI login approved from an
   * impersonation session is that impersonator's doing, not the polling CLI's.
   */
  createdBy?: Actor;
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
  const createdBy: Actor = input.createdBy ?? origin.actor;
  const data: EventData<'SessionCreated'> = {
    sessionId,
    projectId: input.projectId,
    userId: input.userId,
    refreshTokenDigest: ctx.hasher.digest('refresh-token', refreshToken),
    createdAtMillis: now,
    expiresAtMillis: now + input.expiresInMs,
    isImpersonation: input.isImpersonation,
    createdBy,
    via: input.via,
    ...(input.cliAuthId ? { cliAuthId: input.cliAuthId } : {}),
    ...(input.approvingSessionId ? { approvingSessionId: input.approvingSessionId } : {}),
    ...(input.signInCodeStream ? { signInCodeStream: input.signInCodeStream } : {}),
  };
  const result = await handleCommand(
    ctx.store,
    streamName('session', sessionId),
    sessionDecider,
    { type: 'CreateSession', data },
    metadataFor({ ...origin, projectId: input.projectId }, now),
  );
  if (options.settle ?? true) await settle(ctx, result.position);
  const accessToken = await ctx.tokens.sign(
    { sub: input.userId, projectId: input.projectId, sessionId, profile, ...(input.isImpersonation ? { actorSub: actorSubject(createdBy) } : {}) },
    now,
  );
  return { sessionId, refreshToken, accessToken, position: result.position };
}
