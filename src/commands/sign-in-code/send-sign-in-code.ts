// Sending a sign-in code: draw a 45-character code, mail it, and only once the SMTP server has
// accepted the mail append SignInCodeSent (holding the code's digest). A mail that cannot be
// handed over fails the request with 503 before anything is written, so that code can never be
// used; an append that fails after the mail left makes the mailed code one that never validates.
import type { AppContext, Origin } from '../../app-context.ts';
import { newSignInCode } from '../../crypto/codes.ts';
import { signInCodes } from '../aggregates.ts';
import { nonceDigestOf, nonceOf, otpOf } from './sign-in-code-streams.ts';
import { emailDigestOf } from '../../crypto/email-digests.ts';
import { magicLink, signInMail } from '../../mail/sign-in-mail.ts';

export const SIGN_IN_CODE_LIFETIME_MS = 60 * 60_000;

export interface SendSignInCodeInput {
  projectId: string;
  projectName: string;
  email: string;
  callbackUrl: string;
  /**
   * false: the mail holds the OTP only. The CLI approval page asks for the typed OTP and keeps
   * codes out of URLs, so a link there would only be a secret in browser history.
   */
  withLink?: boolean;
}

export async function sendSignInCode(ctx: AppContext, input: SendSignInCodeInput, origin: Origin): Promise<{ nonce: string }> {
  const code = newSignInCode();
  const nonce = nonceOf(code);
  const now = ctx.clock();
  const mail = signInMail(input.projectName, otpOf(code).toUpperCase(), input.withLink === false ? undefined : magicLink(input.callbackUrl, code), SIGN_IN_CODE_LIFETIME_MS / 60_000);
  await ctx.mailer.send({ to: input.email, ...mail });

  const nonceDigest = nonceDigestOf(ctx, nonce);
  await signInCodes.handle(
    ctx,
    nonceDigest,
    () => ({
      type: 'SendSignInCode',
      data: {
        projectId: input.projectId,
        nonceDigest,
        codeDigest: ctx.hasher.digest('sign-in-code', code),
        email: input.email,
        emailDigest: emailDigestOf(ctx, input.email),
        callbackUrl: input.callbackUrl,
        sentAtMillis: now,
        expiresAtMillis: now + SIGN_IN_CODE_LIFETIME_MS,
      },
    }),
    { origin, projectId: input.projectId, nowMs: now },
  );
  return { nonce };
}

