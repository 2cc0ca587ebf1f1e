// Events of the `session-<id>` stream: a session is created for a user (by whom, how, for how
// long), its use is recorded now and then, and it is revoked (why). The refresh token itself is
// never here, only its digest.
import { z } from 'zod';
import { actorSchema } from './actor.ts';

export const sessionEvents = {
  SessionCreated: z.object({
    sessionId: z.uuid(),
    projectId: z.uuid(),
    userId: z.uuid(),
    refreshTokenDigest: z.string().min(1),
    createdAtMillis: z.number().int(),
    expiresAtMillis: z.number().int(),
    isImpersonation: z.boolean(),
    /** The actor who asked for the session: for /auth/sessions a key or an admin user. */
    createdBy: actorSchema,
    /**
     * How the session came to be. `anonymous-sign-up`: POST /auth/anonymous/sign-up;
     * `cli-anonymous-handover`: the browser's session of the anonymous user a CLI login started
     * as, minted at approval (cli/complete mode claim-anon-session), its parent that CLI session.
     */
    via: z.enum(['sessions-api', 'cli-login', 'sign-in-code', 'anonymous-sign-up', 'cli-anonymous-handover']),
    /** For a CLI login: the attempt it completes and the browser session that approved it. */
    cliAuthId: z.uuid().optional(),
    approvingSessionId: z.uuid().optional(),
    /** For a sign-in with a code: the code's stream id (`signInCode-<digest of the nonce>`). */
    signInCodeStream: z.string().optional(),
    // What the session may do and what ends it (policy/session-authority.ts). Absent
    // on events written before they were recorded; termsOf() reads those conservatively.
    /** The person started it themselves: the only kind of session that may carry admin rights. */
    startedByUser: z.boolean().optional(),
    /** The session it was derived from (for a CLI login, the approving session). */
    parentSessionId: z.uuid().optional(),
    /** It ends when its parent ends (an impersonation's descendants). */
    endsWithParent: z.boolean().optional(),
    /** RFC 8693 actor chain of its tokens, current actor first (`kind:id` each). */
    actorChain: z.array(z.string().min(1)).max(64).optional(),
  }),
  /**
   * The session was used (its refresh token exchanged for an access token). Recorded at most
   * once per SESSION_ACTIVITY_INTERVAL_MS per session, to keep the log lean.
   */
  SessionActivityRecorded: z.object({
    sessionId: z.uuid(),
    projectId: z.uuid(),
    userId: z.uuid(),
    atMillis: z.number().int(),
    /** Carried so that a projection replayed after the expiry does not resurrect the session. */
    sessionExpiresAtMillis: z.number().int(),
  }),
  /**
   * The refresh token was exchanged for its successor (refresh-token rotation): the presented one
   * is retired; presenting it again after the grace is reuse and ends the session.
   */
  SessionRefreshTokenRotated: z.object({
    sessionId: z.uuid(),
    projectId: z.uuid(),
    userId: z.uuid(),
    previousDigest: z.string().min(1),
    refreshTokenDigest: z.string().min(1),
    rotatedAtMillis: z.number().int(),
    sessionExpiresAtMillis: z.number().int(),
  }),
  SessionRevoked: z.object({
    sessionId: z.uuid(),
    projectId: z.uuid(),
    userId: z.uuid(),
    /** refresh-token-reused: a retired refresh token was presented after its grace (a stolen copy, or the thief's successor). */
    reason: z.enum(['sign-out', 'revoked', 'user-deleted', 'refresh-token-reused']),
    refreshTokenDigest: z.string().min(1),
    revokedAtMillis: z.number().int(),
  }),
};
