// Completing a CLI login: a person approves the attempt whose login code they typed. The code is
// looked up on its reservation stream (the write side), and the approval is decided on the
// attempt's stream, so a code is completed once, by one person, before it expires.
import type { AppContext, Origin } from '../../app-context.ts';
import { LOGIN_CODE_ALPHABET, normaliseLoginCode } from '../../crypto/codes.ts';
import type { EventData } from '../../events/catalogue.ts';
import { cliAuths, loginCodes, projectScoped } from '../aggregates.ts';

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
    const cliAuthId = (await loginCodes.load(ctx, projectScoped(projectId, digest))).cliAuthId;
    if (cliAuthId !== undefined) return cliAuthId;
  }
  return undefined;
}

export async function completeCliAuth(ctx: AppContext, projectId: string, cliAuthId: string, approver: Approver, origin: Origin): Promise<void> {
  // Settled: the CLI's next poll must see the approval.
  await cliAuths.handle(
    ctx,
    cliAuthId,
    (nowMs) => ({
      type: 'CompleteCliAuth',
      projectId,
      userId: approver.userId,
      approvingSessionId: approver.sessionId,
      ...(approver.impersonator ? { impersonator: approver.impersonator } : {}),
      nowMs,
    }),
    { origin, projectId },
  );
}
