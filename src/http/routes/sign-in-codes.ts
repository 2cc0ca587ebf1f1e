// Sign-in codes (API.md §5; reference page otp-check-code): send a code by email, check it
// without using it, sign in with it.
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppState } from '../app-state.ts';
import { callerOf, requireAccess } from '../access.ts';
import { parseInput } from '../validate.ts';
import { originOf } from '../origin.ts';
import { projectLimit, reserveLimits, type RateLimit } from '../rate-limit.ts';
import type { ProjectView } from '../../projections/project-projection.ts';
import { isOnTrustedDomain } from '../../commands/project/change-project.ts';
import { sendSignInCode } from '../../commands/sign-in-code/send-sign-in-code.ts';
import { signInWithCode } from '../../flows/sign-in-with-code.ts';
import { checkSignInCode } from '../../commands/sign-in-code/check-sign-in-code.ts';
import { ensureEmailAllowsSignIn } from '../../commands/sign-in-code/email-allows-sign-in.ts';
import { NONCE_LENGTH, SIGN_IN_CODE_LENGTH } from '../../commands/sign-in-code/sign-in-code-streams.ts';
import { emailDigestOf } from '../../crypto/email-digests.ts';
import { KnownError, knownError } from '../../errors.ts';
import { describeRoutes } from '../route-description.ts';
import { reserveSignInGuess } from '../sign-in-guess.ts';
import { limitAddressOf } from '../../trust-proxy.ts';

export const sendSignInCodeBody = z.strictObject({
  email: z.email().max(254),
  callback_url: z.url().max(2000),
  // Upstream's bot challenge (Cloudflare Turnstile): authlog has none (its send budgets are its
  // defence), so these are accepted and ignored.
  bot_challenge_token: z.string().max(4096).optional(),
  bot_challenge_phase: z.enum(['invisible', 'visible']).optional(),
  bot_challenge_unavailable: z.literal('true').optional(),
});
/** The whole code: OTP + nonce, or the magic link's `code`; case-insensitive. */
export const signInCodeBody = z.strictObject({
  code: z.string().length(SIGN_IN_CODE_LENGTH).transform((code) => code.toLowerCase()),
});

export const signInCodeRouteDescriptions = describeRoutes(
  {
    method: 'POST',
    path: '/api/v1/auth/otp/send-sign-in-code',
    tag: 'Sign-in codes',
    summary: 'Email a sign-in code (an OTP and a magic link).',
    description: 'callback_url must be on the project\'s trusted domains. Sends are rate limited per email and per address. An address that is an existing user\'s unverified primary email is refused (409, would_work_if_email_was_verified: true) after the budgets are spent. The bot_challenge_* fields are accepted and ignored.',
    access: 'client',
    body: sendSignInCodeBody,
    responses: { 200: { description: 'Sent; the nonce completes the OTP typed by the person.', schema: z.strictObject({ nonce: z.string().length(NONCE_LENGTH) }) } },
    errors: ['REDIRECT_URL_NOT_WHITELISTED', 'USER_EMAIL_ALREADY_EXISTS', 'RATE_LIMITED'],
  },
  {
    method: 'POST',
    path: '/api/v1/auth/otp/sign-in/check-code',
    tag: 'Sign-in codes',
    summary: 'Whether a code would sign in now; never uses it.',
    description: 'A well-formed code that is unknown, expired, used or locked answers false. Each wrong guess counts against the code (5), the email and address (10 per hour) and the email (while 20 in an hour stand, one wrong guess locks a code); a right code is never refused for what others guessed.',
    access: 'client',
    body: signInCodeBody,
    responses: { 200: { description: 'The verdict.', schema: z.strictObject({ is_code_valid: z.boolean() }) } },
    errors: ['RATE_LIMITED'],
  },
  {
    method: 'POST',
    path: '/api/v1/auth/otp/sign-in',
    tag: 'Sign-in codes',
    summary: 'Sign in with a code (used exactly once); creates the user of an unknown email.',
    access: 'client',
    body: signInCodeBody,
    responses: {
      200: {
        description: 'Signed in.',
        schema: z.strictObject({ refresh_token: z.string().startsWith('rt_'), access_token: z.string(), is_new_user: z.boolean(), user_id: z.uuid() }),
      },
    },
    errors: ['VERIFICATION_CODE_NOT_FOUND', 'VERIFICATION_CODE_EXPIRED', 'VERIFICATION_CODE_ALREADY_USED', 'VERIFICATION_CODE_MAX_ATTEMPTS_REACHED', 'USER_EMAIL_ALREADY_EXISTS', 'RATE_LIMITED'],
  },
);

// Mail costs the recipient attention, the sender reputation and the log a stream: sends are
// limited per email, per client address and per project. Failed guesses: sign-in-guess.ts.
// Defaults in rate-limit-catalogue.ts; a project may override them.
export const signInSendLimits = (app: AppContext, project: ProjectView, email: string, ip: string): RateLimit[] => [
  projectLimit(project, 'sign-in-sends-per-email', `otp-send-email:${project.id}:${emailDigestOf(app, email)}`),
  projectLimit(project, 'sign-in-sends-per-address', `otp-send-ip:${project.id}:${limitAddressOf(ip)}`),
  projectLimit(project, 'sign-in-sends-per-project', `otp-send-project:${project.id}`),
];

export function signInCodeRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/auth/otp' });

  router.post('/send-sign-in-code', requireAccess(app, 'client'), async (ctx) => {
    const body = parseInput(ctx, sendSignInCodeBody, ctx.state.body);
    const project = callerOf(ctx).project;
    if (!isOnTrustedDomain(body.callback_url, project.trustedDomains)) {
      throw knownError('REDIRECT_URL_NOT_WHITELISTED', `The callback URL is not on the project's trusted domains (${project.trustedDomains.join(', ') || 'none set'}).`);
    }
    const limits = signInSendLimits(app, project, body.email, ctx.ip);
    const send = await reserveLimits(app, limits);
    // Refused after the budgets are spent, and never given back: asking whether an address has an
    // unverified account costs what a send costs.
    await ensureEmailAllowsSignIn(app, project.id, body.email);
    let sent;
    try {
      sent = await sendSignInCode(app, { projectId: project.id, projectName: project.name, email: body.email, callbackUrl: body.callback_url }, originOf(ctx));
    } catch (error) {
      await send.release(); // nothing was sent
      throw error;
    }
    ctx.body = { nonce: sent.nonce };
  });

  router.post('/sign-in/check-code', requireAccess(app, 'client'), async (ctx) => {
    const { code } = parseInput(ctx, signInCodeBody, ctx.state.body);
    const projectId = callerOf(ctx).project.id;
    const guess = await reserveSignInGuess(app, callerOf(ctx).project, ctx.ip, code);
    if (!guess.found) {
      ctx.body = { is_code_valid: false }; // an unknown nonce: a failed guess, it stays counted
      return;
    }
    // Used, locked or expired: all simply "not valid", as the reference page types the answer as
    // a boolean. Only a wrong guess stays counted.
    const outcome = await checkSignInCode(app, projectId, code, guess.found, guess.nonceDigest, originOf(ctx));
    if (outcome !== 'wrong') await guess.release();
    ctx.body = { is_code_valid: outcome === 'valid' };
  });

  router.post('/sign-in', requireAccess(app, 'client'), async (ctx) => {
    const { code } = parseInput(ctx, signInCodeBody, ctx.state.body);
    const guess = await reserveSignInGuess(app, callerOf(ctx).project, ctx.ip, code);
    let signedIn;
    try {
      signedIn = await signInWithCode(app, callerOf(ctx).project.id, code, originOf(ctx));
    } catch (error) {
      // A wrong OTP or an unknown nonce is answered "not found": that is a failed guess, it stays
      // counted. Anything else (expired, used, locked, unavailable) is not a guess.
      if (!(error instanceof KnownError && error.code === 'VERIFICATION_CODE_NOT_FOUND')) await guess.release();
      throw error;
    }
    await guess.release();
    ctx.body = { refresh_token: signedIn.refreshToken, access_token: signedIn.accessToken, is_new_user: signedIn.isNewUser, user_id: signedIn.userId };
  });

  return router;
}
