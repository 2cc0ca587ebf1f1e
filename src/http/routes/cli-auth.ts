// CLI login (API.md §2; reference pages cli-auth, cli-auth-complete, cli-auth-poll): the CLI
// initiates and polls with its publishable key; the person approves in a browser.
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext, Origin } from '../../app-context.ts';
import type { AppCtx, AppState } from '../app-state.ts';
import { callerOf, requireAccess } from '../access.ts';
import { findByDigests } from '../../crypto/digests.ts';
import { bodyOrEmpty, parseInput } from '../validate.ts';
import { originOf } from '../origin.ts';
import { liveSessionOf, optionalUserToken } from '../user-auth.ts';
import { projectLimit, reserveLimits, reserveWithReads, type RateLimit } from '../rate-limit.ts';
import type { ProjectView } from '../../projections/project-projection.ts';
import { DEFAULT_CLI_AUTH_MS, initiateCliAuth } from '../../commands/cli-auth/initiate-cli-auth.ts';
import { completeCliAuth, type Approver } from '../../commands/cli-auth/complete-cli-auth.ts';
import { claimCliAuth } from '../../flows/claim-cli-auth.ts';
import { cliAuthPollStatus } from '../../policy/cli-auth-poll.ts';
import { cliAuthByPollingDigestReads, cliAuthOfReads, findCliAuthByPollingDigest, type CliAuthView } from '../../projections/cli-auth-projection.ts';
import { pollAnswer, pollDialectOf, type PollState } from '../cli-poll-dialects.ts';
import { findSessionByRefreshToken } from '../../commands/session/find-session-by-refresh-token.ts';
import { userExists } from '../../projections/user-projection.ts';
import { findLiveUser } from '../../commands/user/live-user.ts';
import { knownError } from '../../errors.ts';
import { parseActorSubject } from '../../actor-subject.ts';
import { describeRoutes } from '../route-description.ts';
import { attemptIdOfGuess } from '../login-code-guess.ts';
import { limitAddressOf } from '../../trust-proxy.ts';
import { anonymousSessionOf, cliSessionState, handOverAnonymousSession } from '../../flows/cli-anonymous-session.ts';

export const initiateBody = z.strictObject({
  expires_in_millis: z.number().int().min(1000).max(3_600_000).optional(),
  anon_refresh_token: z.string().min(1).max(200).optional().describe("The CLI's anonymous user's refresh token (upstream): the approval page may take that session over."),
});
export const completeBody = z.strictObject({
  login_code: z.string().min(1).max(64),
  refresh_token: z.string().min(1).max(200).optional(),
  mode: z
    .enum(['check', 'claim-anon-session', 'complete'])
    .optional()
    .describe("Upstream's: check (is the code live, did the CLI start anonymous?), claim-anon-session (take over that anonymous session, once), complete (the default: approve)."),
});
export const pollBody = z.strictObject({
  polling_code: z.string().min(1).max(200),
});

const cliRefreshToken = z.string().startsWith('rt_').describe('of a new session of the approving user; handed out once, ever');
/** Both dialects (http/cli-poll-dialects.ts): the reference page's, and upstream's for requests with a client-version header. */
const pollAnswer200 = z.discriminatedUnion('status', [
  z.strictObject({ status: z.literal('completed'), refresh_token: cliRefreshToken }).describe('reference dialect: the token'),
  z.strictObject({ status: z.literal('waiting') }).describe('upstream dialect: not approved yet, poll again'),
  z.strictObject({ status: z.literal('used') }),
  z.strictObject({ status: z.literal('expired') }),
  z.strictObject({ status: z.literal('denied') }).describe('the person denied it on the approval page'),
]);
const pollAnswer201 = z.discriminatedUnion('status', [
  z.strictObject({ status: z.literal('pending') }).describe('reference dialect: not approved yet, poll again'),
  z.strictObject({ status: z.literal('success'), refresh_token: cliRefreshToken }).describe('upstream dialect: the token'),
]);

export const cliAuthRouteDescriptions = describeRoutes(
  {
    method: 'POST',
    path: '/api/v1/auth/cli',
    tag: 'CLI authentication',
    summary: 'Start a CLI login: a polling code for the CLI, a login code for the person.',
    description:
      "With anon_refresh_token (a live refresh token of an anonymous user of this project, else 400 INVALID_ANON_REFRESH_TOKEN) the attempt records that session's id, never the token.",
    access: 'client',
    body: initiateBody,
    bodyOptional: true,
    responses: {
      200: {
        description: 'The attempt.',
        schema: z.strictObject({
          polling_code: z.string().regex(/^poll_[0-9a-z]{40}$/),
          login_code: z.string().regex(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/),
          expires_at: z.iso.datetime(),
        }),
      },
    },
    errors: ['INVALID_ANON_REFRESH_TOKEN', 'RATE_LIMITED'],
  },
  {
    method: 'POST',
    path: '/api/v1/auth/cli/complete',
    tag: 'CLI authentication',
    summary: 'Approve a CLI login as a user.',
    description:
      'mode complete (or none): the approving user is, in order: refresh_token in the body, x-stack-access-token, or the admin of x-stack-admin-access-token; answers {}. mode check: {cli_session_state: anonymous | none} for a live pending code. mode claim-anon-session: a new session of the anonymous user the CLI started as, once per attempt, no user needed. Every mode spends the same login-code guess budgets: failed guesses are rate limited per address; past the project’s budget a wrong code answers 429, a right one still works.',
    access: 'client',
    body: completeBody,
    headers: [{ name: 'x-stack-access-token', required: false, description: "The approving user's access token (when no refresh_token is sent)." }],
    responses: {
      200: {
        description: 'complete: approved ({}). check: the state. claim-anon-session: the tokens of the handed-over anonymous session.',
        schema: z.union([
          z.strictObject({}),
          z.strictObject({ cli_session_state: z.enum(['anonymous', 'none']) }),
          z.strictObject({ access_token: z.string(), refresh_token: z.string().startsWith('rt_') }),
        ]),
      },
    },
    errors: [
      'INVALID_LOGIN_CODE',
      'NO_ANONYMOUS_CLI_SESSION',
      'RESTRICTED_USER_NOT_ALLOWED',
      'USER_AUTHENTICATION_REQUIRED',
      'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED',
      'UNPARSABLE_ACCESS_TOKEN',
      'ACCESS_TOKEN_EXPIRED',
      'RATE_LIMITED',
    ],
  },
  {
    method: 'POST',
    path: '/api/v1/auth/cli/poll',
    tag: 'CLI authentication',
    summary: 'Poll a CLI login: 201 means keep polling, 200 is the final answer (reference dialect).',
    description:
      'Two dialects, chosen by the request. Without a client-version header (the reference page): 201 {status: pending} while not approved; 200 {status: completed, refresh_token} once; then 200 used / expired / denied. With x-stack-client-version or x-hexclave-client-version (every official SDK, upstream\'s dialect): 200 {status: waiting}; 201 {status: success, refresh_token} once; then 200 used / expired / denied.',
    access: 'client',
    body: pollBody,
    headers: [{ name: 'x-stack-client-version', required: false, description: "Any value: answer in upstream's dialect (also as x-hexclave-client-version)." }],
    responses: {
      200: { description: 'Reference dialect: final (the token exactly once, used, expired, denied). Upstream dialect: waiting, used, expired, denied.', schema: pollAnswer200 },
      201: { description: 'Reference dialect: not approved yet. Upstream dialect: the token, exactly once.', schema: pollAnswer201 },
    },
    errors: ['INVALID_POLLING_CODE', 'RATE_LIMITED'],
  },
);

/**
 * Each attempt costs the log two streams until it is pruned: attempts are capped per address
 * (the caller's own budget) and per project (which bounds how fast the log can grow).
 */
export const cliInitiationLimits = (project: ProjectView, ip: string): RateLimit[] => [
  projectLimit(project, 'cli-initiations-per-address', `cli-start-ip:${project.id}:${limitAddressOf(ip)}`),
  projectLimit(project, 'cli-initiations-per-project', `cli-start-project:${project.id}`),
];

/**
 * An approval from an impersonation session is the impersonator's: the event names them. (The
 * CLI's session takes its terms from the approving session's own stream when it is claimed.)
 */
function withImpersonator(approver: Approver, actorChain: readonly string[]): Approver {
  const current = actorChain[0];
  if (current === undefined) return approver;
  const impersonator = parseActorSubject(current);
  if (!impersonator) throw new Error(`session ${approver.sessionId} has an unreadable actor`);
  return { ...approver, impersonator };
}

/**
 * The person approving: from the body's refresh token, their access token, or an admin access
 * token. Never an anonymous user (upstream: restricted users may not approve): a CLI login is a
 * person lending their account, and an anonymous user is nobody's.
 */
async function approverOf(app: AppContext, ctx: AppCtx, refreshToken: string | undefined): Promise<Approver> {
  const approver = await anyApproverOf(app, ctx, refreshToken);
  if ((await findLiveUser(app, callerOf(ctx).project.id, approver.userId))?.isAnonymous === true) {
    throw knownError('RESTRICTED_USER_NOT_ALLOWED', undefined, { restricted_reason: { type: 'anonymous' } });
  }
  return approver;
}

async function anyApproverOf(app: AppContext, ctx: AppCtx, refreshToken: string | undefined): Promise<Approver> {
  const caller = callerOf(ctx);
  const projectId = caller.project.id;
  if (refreshToken !== undefined) {
    const session = (await findSessionByRefreshToken(app, projectId, refreshToken))?.session;
    if (!session || !(await userExists(app.readModel, projectId, session.userId))) throw knownError('REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
    return withImpersonator({ userId: session.userId, sessionId: session.id }, session.actorChain);
  }
  const token = await optionalUserToken(app, ctx);
  if (token) {
    // Approving mints a session: the approving session must still be live, not just its token.
    const session = await liveSessionOf(app, token);
    return withImpersonator({ userId: token.userId, sessionId: token.sessionId }, session.actorChain);
  }
  if (caller.actor.kind === 'admin-user' && caller.actor.sessionId) return { userId: caller.actor.id, sessionId: caller.actor.sessionId };
  throw knownError(
    'USER_AUTHENTICATION_REQUIRED',
    'Completing a CLI login needs the approving user: send their refresh_token in the body, or their x-stack-access-token.',
  );
}

/** Where the attempt stands for its CLI; claims the token when it is there to be taken. */
async function pollState(app: AppContext, projectId: string, attempt: CliAuthView, origin: Origin): Promise<PollState> {
  const status = cliAuthPollStatus(attempt, app.clock());
  if (status !== 'claimable') return { status };
  // Claiming is decided on the attempt's stream, so exactly one poll gets a token.
  const outcome = await claimCliAuth(app, projectId, attempt.cliAuthId, origin);
  return outcome.status === 'claimed' ? { status: 'completed', refreshToken: outcome.refreshToken } : { status: outcome.status };
}

export function cliAuthRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/auth/cli' });

  router.post('/', requireAccess(app, 'client'), async (ctx) => {
    const body = parseInput(ctx, initiateBody, bodyOrEmpty(ctx));
    const projectId = callerOf(ctx).project.id;
    const anonSession = body.anon_refresh_token === undefined ? undefined : await anonymousSessionOf(app, projectId, body.anon_refresh_token);
    const start = await reserveLimits(app, cliInitiationLimits(callerOf(ctx).project, ctx.ip));
    let started;
    try {
      started = await initiateCliAuth(app, projectId, body.expires_in_millis ?? DEFAULT_CLI_AUTH_MS, originOf(ctx), anonSession);
    } catch (error) {
      await start.release(); // nothing was started
      throw error;
    }
    ctx.body = { polling_code: started.pollingCode, login_code: started.loginCode, expires_at: new Date(started.expiresAtMillis).toISOString() };
  });

  router.post('/complete', requireAccess(app, 'client'), async (ctx) => {
    const body = parseInput(ctx, completeBody, ctx.state.body);
    const project = callerOf(ctx).project;
    const projectId = project.id;
    // Every mode is a guess at a login code, and spends the same budgets: check is no oracle.
    if (body.mode === 'check') {
      const cliAuthId = await attemptIdOfGuess(app, project, ctx.ip, body.login_code);
      ctx.body = { cli_session_state: await cliSessionState(app, projectId, cliAuthId) };
    } else if (body.mode === 'claim-anon-session') {
      const cliAuthId = await attemptIdOfGuess(app, project, ctx.ip, body.login_code);
      const handedOver = await handOverAnonymousSession(app, projectId, cliAuthId, originOf(ctx));
      ctx.body = { access_token: handedOver.accessToken, refresh_token: handedOver.refreshToken };
    } else {
      // Who approves is known before the code is tried: a request without one spends no guess.
      const approver = await approverOf(app, ctx, body.refresh_token);
      const cliAuthId = await attemptIdOfGuess(app, project, ctx.ip, body.login_code);
      await completeCliAuth(app, projectId, cliAuthId, approver, originOf(ctx));
      ctx.body = {};
    }
  });

  router.post('/poll', requireAccess(app, 'client'), async (ctx) => {
    const body = parseInput(ctx, pollBody, ctx.state.body);
    const projectId = callerOf(ctx).project.id;
    const [digest, ...older] = app.hasher.candidates('polling-code', body.polling_code);
    if (digest === undefined) throw new Error('hasher: no candidate digest');
    // A CLI polling once a second never meets the default (15 per 10 s per code). The count and
    // the lookup go in one step: one round trip to Redis. A code issued before AUTHLOG_SECRET was
    // rotated is found under the previous secret's digest, read after.
    const limit = projectLimit(callerOf(ctx).project, 'cli-polls-per-code', `cli-poll:${projectId}:${digest}`);
    const { values } = await reserveWithReads(app, limit, cliAuthByPollingDigestReads(digest));
    const attempt = cliAuthOfReads(projectId, values) ?? (await findByDigests(older, (d) => findCliAuthByPollingDigest(app.readModel, projectId, d)))?.value;
    if (!attempt) throw knownError('INVALID_POLLING_CODE');
    const answer = pollAnswer(await pollState(app, projectId, attempt, originOf(ctx)), pollDialectOf(ctx));
    ctx.status = answer.httpStatus;
    ctx.body = answer.body;
  });

  return router;
}
