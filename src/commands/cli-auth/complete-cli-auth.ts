// Completing a CLI login: a person approves the attempt whose login code they typed. The code is
// looked up on its reservation stream (the write side), and the approval is decided on the
// attempt's stream, so a code is completed once, by one person, before it expires.
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { LOGIN_CODE_ALPHABET, normaliseLoginCode } from '../../crypto/codes.ts';
import { streamName } from '../../events/streams.ts';
import type { EventData } from '../../events/catalogue.ts';
import { foldStream, handleCommand } from '../handler.ts';
import { cliAuthDecider } from './cli-auth-decider.ts';
import { loginCodeDecider } from './login-code-decider.ts';
import { loginCodeStreamOf } from './initiate-cli-auth.ts';

const LOGIN_CODE_SHAPE = new RegExp(`^[${LOGIN_CODE_ALPHABET}]{8}$`);

export interface Approver {
  userId: string;
  /** The session the person approves from. */
  sessionId: string;
  /** Who is acting, when that session is an impersonation session. */
  impersonator?: EventData<'LoginCodeCompleted'>['impersonator'];
}

/**
 * The attempt a typed login code names, read from the code's reservation stream (the write side,
 * so a code is found the instant it was issued); undefined when no attempt ever had it.
 */
export async function findCliAuthByLoginCode(ctx: Pick<AppContext, 'store' | 'hasher'>, projectId: string, loginCode: string): Promise<string | undefined> {
  const normalised = normaliseLoginCode(loginCode);
  if (!LOGIN_CODE_SHAPE.test(normalised)) return undefined;
  // Under the current secret, then the previous one: a code issued just before a rotation still works.
  for (const digest of ctx.hasher.candidates('login-code', normalised)) {
    const cliAuthId = foldStream(loginCodeDecider, await ctx.store.readStream(loginCodeStreamOf(projectId, digest))).cliAuthId;
    if (cliAuthId !== undefined) return cliAuthId;
  }
  return undefined;
}

export async function completeCliAuth(ctx: AppContext, projectId: string, cliAuthId: string, approver: Approver, origin: Origin): Promise<void> {
  const now = ctx.clock();
  const result = await handleCommand(
    ctx.store,
    streamName('cliAuth', cliAuthId),
    cliAuthDecider,
    {
      type: 'CompleteCliAuth',
      projectId,
      userId: approver.userId,
      approvingSessionId: approver.sessionId,
      ...(approver.impersonator ? { impersonator: approver.impersonator } : {}),
      nowMs: now,
    },
    metadataFor({ ...origin, projectId }, now),
  );
  // The CLI's next poll must see the approval.
  await settle(ctx, result.position);
}
