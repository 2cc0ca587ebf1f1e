// Initiating a CLI login: draw a polling code and a login code, reserve the login code among the
// project's live attempts while appending CliAuthInitiated with only the codes' digests (drawing
// again on the rare clash), and hand the codes back once.
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
  /** Where login codes come from; a test passes its own to make two attempts clash. */
  drawLoginCode: () => string = newLoginCode,
): Promise<InitiatedCliAuth> {
  const now = ctx.clock();
  const expiresAtMillis = now + expiresInMs;
  // One instant for both streams; the attempt is waited for once, after its last write.
  const call = { origin, projectId, nowMs: now };

  for (let draw = 1; ; draw++) {
    const cliAuthId = randomUUID();
    const loginCode = drawLoginCode();
    const pollingCode = newPollingCode();
    // The reservation and the attempt are appended at once, so they share one commit and one
    // sync (sqlite-group-commit.ts) instead of one after the other. The reservation stream alone
    // says which attempt a login code names (findCliAuthByLoginCode), so when the code turns out
    // taken, the attempt just written is reachable by nothing: no code names it and nobody holds
    // its polling code; it stays pending until it expires. Codes are drawn again, attempt and all.
    const [reserved, initiated] = await Promise.allSettled([
      loginCodes.handle(
        ctx,
        projectScoped(projectId, loginCodeDigest(ctx, loginCode)),
        (nowMs) => ({ type: 'ReserveLoginCode', projectId, cliAuthId, expiresAtMillis, nowMs }),
        { ...call, settle: false },
      ),
      cliAuths.handle(
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
      ),
    ]);
    if (reserved.status === 'rejected') {
      if (reserved.reason instanceof LoginCodeTakenError && draw < MAX_CODE_DRAWS) continue;
      throw reserved.reason;
    }
    if (initiated.status === 'rejected') throw initiated.reason;
    return { cliAuthId, pollingCode, loginCode, expiresAtMillis };
  }
}
