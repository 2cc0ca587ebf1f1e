// Initiating a CLI login: draw a polling code and a login code, reserve the login code among the
// project's live attempts (drawing again on the rare clash), append CliAuthInitiated with only
// the codes' digests, and hand the codes back once.
import { randomUUID } from 'node:crypto';
import type { AppContext, Origin } from '../../app-context.ts';
import { newLoginCode, newPollingCode, normaliseLoginCode } from '../../crypto/codes.ts';
import { cliAuths, loginCodes, projectScoped } from '../aggregates.ts';
import { LoginCodeTakenError } from './login-code-decider.ts';

export const DEFAULT_CLI_AUTH_MS = 15 * 60_000;
/** 20^8 codes: a clash is already unlikely once; five in a row means something is wrong. */
const MAX_CODE_DRAWS = 5;

const loginCodeDigest = (ctx: Pick<AppContext, 'hasher'>, loginCode: string): string => ctx.hasher.digest('login-code', normaliseLoginCode(loginCode));

export interface InitiatedCliAuth {
  cliAuthId: string;
  pollingCode: string;
  loginCode: string;
  expiresAtMillis: number;
}

export async function initiateCliAuth(
  ctx: AppContext,
  projectId: string,
  expiresInMs: number,
  origin: Origin,
  /** The CLI's anonymous session (cli-anonymous-session.ts), already checked. */
  anonSession?: { sessionId: string; userId: string },
): Promise<InitiatedCliAuth> {
  const now = ctx.clock();
  const cliAuthId = randomUUID();
  const expiresAtMillis = now + expiresInMs;
  // One instant for both streams; the attempt is waited for once, after its last write.
  const call = { origin, projectId, nowMs: now };

  let loginCode = newLoginCode();
  for (let draw = 1; ; draw++) {
    try {
      await loginCodes.handle(
        ctx,
        projectScoped(projectId, loginCodeDigest(ctx, loginCode)),
        (nowMs) => ({ type: 'ReserveLoginCode', projectId, cliAuthId, expiresAtMillis, nowMs }),
        { ...call, settle: false },
      );
      break;
    } catch (error) {
      if (!(error instanceof LoginCodeTakenError) || draw >= MAX_CODE_DRAWS) throw error;
      loginCode = newLoginCode();
    }
  }

  const pollingCode = newPollingCode();
  await cliAuths.handle(
    ctx,
    cliAuthId,
    () => ({
      type: 'InitiateCliAuth',
      data: {
        cliAuthId,
        projectId,
        pollingCodeDigest: ctx.hasher.digest('polling-code', pollingCode),
        loginCodeDigest: loginCodeDigest(ctx, loginCode),
        createdAtMillis: now,
        expiresAtMillis,
        ...(anonSession ? { anonSessionId: anonSession.sessionId, anonUserId: anonSession.userId } : {}),
      },
    }),
    call,
  );
  return { cliAuthId, pollingCode, loginCode, expiresAtMillis };
}
