// Events of a CLI login: the `cliAuth-<id>` stream (an attempt initiated by the CLI, completed by
// a person approving its login code or denied by them, claimed by the CLI's poll) and the
// `cliLoginCode-<project>.<digest>` reservation stream that keeps login codes unique among live
// attempts. Codes appear only as digests; who asked, from where, is in each event's metadata.
import { z } from 'zod';
import { actorSchema } from './actor.ts';

export const cliAuthEvents = {
  CliAuthInitiated: z.object({
    cliAuthId: z.uuid(),
    projectId: z.uuid(),
    pollingCodeDigest: z.string().min(1),
    loginCodeDigest: z.string().min(1),
    createdAtMillis: z.number().int(),
    expiresAtMillis: z.number().int(),
    /**
     * The CLI started as an anonymous user (upstream's `anon_refresh_token`): that user's
     * session, named by its id only (the token itself is never kept; the session's own stream
     * holds its digest). Approval may hand that session over to the browser, once.
     */
    anonSessionId: z.uuid().optional(),
    anonUserId: z.uuid().optional(),
  }),
  /**
   * The approval page took over the anonymous session the CLI started as (cli/complete with mode
   * claim-anon-session): `sessionId` is the browser's new session of the anonymous user, derived
   * from the CLI's. Once per attempt, before it is completed.
   */
  CliAnonymousSessionHandedOver: z.object({
    cliAuthId: z.uuid(),
    projectId: z.uuid(),
    anonUserId: z.uuid(),
    anonSessionId: z.uuid(),
    sessionId: z.uuid(),
    handedOverAtMillis: z.number().int(),
    attemptExpiresAtMillis: z.number().int(),
  }),
  /** A person approved the attempt by its login code: the CLI will get a session of this user. */
  LoginCodeCompleted: z.object({
    cliAuthId: z.uuid(),
    projectId: z.uuid(),
    userId: z.uuid(),
    /** The session the person approved from (their browser). */
    approvingSessionId: z.uuid(),
    /**
     * Set when the approving session is an impersonation session: the CLI's session then is one
     * too, of the same impersonator, so impersonation cannot launder itself into a plain session.
     */
    impersonator: actorSchema.optional(),
    completedAtMillis: z.number().int(),
    attemptExpiresAtMillis: z.number().int(),
  }),
  /**
   * A person refused the attempt on the approval page: it can no longer be completed or claimed,
   * and the CLI's poll answers `denied`.
   */
  CliAuthDenied: z.object({
    cliAuthId: z.uuid(),
    projectId: z.uuid(),
    userId: z.uuid(),
    /** The session the person denied from. */
    denyingSessionId: z.uuid(),
    deniedAtMillis: z.number().int(),
    attemptExpiresAtMillis: z.number().int(),
  }),
  /** The CLI's poll took the approval: `sessionId` is the new session minted for it. */
  CliAuthClaimed: z.object({
    cliAuthId: z.uuid(),
    projectId: z.uuid(),
    sessionId: z.uuid(),
    claimedAtMillis: z.number().int(),
    attemptExpiresAtMillis: z.number().int(),
  }),
  CliLoginCodeReserved: z.object({
    projectId: z.uuid(),
    cliAuthId: z.uuid(),
    expiresAtMillis: z.number().int(),
  }),
};
