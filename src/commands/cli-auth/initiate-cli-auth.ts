// Initiating a CLI login: draw a polling code and a login code, reserve the login code among the
// project's live attempts (drawing again on the rare clash), append CliAuthInitiated with only
// the codes' digests, and hand the codes back once.
import { randomUUID } from 'node:crypto';
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { newLoginCode, newPollingCode, normaliseLoginCode } from '../../crypto/codes.ts';
import { streamName } from '../../events/streams.ts';
import { handleCommand } from '../handler.ts';
import { cliAuthDecider } from './cli-auth-decider.ts';
import { LoginCodeTakenError, loginCodeDecider } from './login-code-decider.ts';

export const DEFAULT_CLI_AUTH_MS = 15 * 60_000;
/** 20^8 codes: a clash is already unlikely once; five in a row means something is wrong. */
const MAX_CODE_DRAWS = 5;

export const loginCodeStreamOf = (projectId: string, loginCodeDigest: string): string => streamName('cliLoginCode', `${projectId}.${loginCodeDigest}`);
export const loginCodeStream = (ctx: Pick<AppContext, 'hasher'>, projectId: string, loginCode: string): string =>
  loginCodeStreamOf(projectId, ctx.hasher.digest('login-code', normaliseLoginCode(loginCode)));

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
  const metadata = metadataFor({ ...origin, projectId }, now);

  let loginCode = newLoginCode();
  for (let draw = 1; ; draw++) {
    try {
      await handleCommand(
        ctx.store,
        loginCodeStream(ctx, projectId, loginCode),
        loginCodeDecider,
        { type: 'ReserveLoginCode', projectId, cliAuthId, expiresAtMillis, nowMs: now },
        metadata,
      );
      break;
    } catch (error) {
      if (!(error instanceof LoginCodeTakenError) || draw >= MAX_CODE_DRAWS) throw error;
      loginCode = newLoginCode();
    }
  }

  const pollingCode = newPollingCode();
  const result = await handleCommand(
    ctx.store,
    streamName('cliAuth', cliAuthId),
    cliAuthDecider,
    {
      type: 'InitiateCliAuth',
      data: {
        cliAuthId,
        projectId,
        pollingCodeDigest: ctx.hasher.digest('polling-code', pollingCode),
        loginCodeDigest: ctx.hasher.digest('login-code', normaliseLoginCode(loginCode)),
        createdAtMillis: now,
        expiresAtMillis,
        ...(anonSession ? { anonSessionId: anonSession.sessionId, anonUserId: anonSession.userId } : {}),
      },
    },
    metadata,
  );
  await settle(ctx, result.position);
  return { cliAuthId, pollingCode, loginCode, expiresAtMillis };
}
