// Sending a sign-in code: draw a 45-character code, mail it, and only once the SMTP server has
// accepted the mail append SignInCodeSent (holding the code's digest). A mail that cannot be
// handed over fails the request with 503 before anything is written, so that code can never be
// used; an append that fails after the mail left makes the mailed code one that never validates.
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { newSignInCode } from '../../crypto/codes.ts';
import { html } from '../../http/page/html.ts';
import { handleCommand } from '../handler.ts';
import { signInCodeDecider } from './sign-in-code-decider.ts';
import { emailDigestOf, nonceDigestOf, nonceOf, otpOf, signInCodeStream } from './sign-in-code-streams.ts';

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

/** The link in the mail: the callback with `code=<the whole code>` added to its query. */
export function magicLink(callbackUrl: string, code: string): string {
  const url = new URL(callbackUrl);
  url.searchParams.set('code', code);
  return url.toString();
}

/**
 * The mail, as text and as HTML (clients and upstream's tests read the OTP from the HTML part).
 * Everything interpolated into the HTML is escaped: the project name and the link carry input.
 */
export function signInMail(projectName: string, otp: string, link: string | undefined, lifetimeMinutes: number): { subject: string; text: string; html: string } {
  const markup = html`<!doctype html>
<html><body style="font-family: sans-serif">
<p>Your code to sign in to ${projectName} is:</p>
<p style="font-size: 24px; font-weight: bold; letter-spacing: 2px">${otp}</p>
${link === undefined ? '' : html`<p><a href="${link}">Sign in to ${projectName}</a></p>`}
<p>The code works once and expires in ${lifetimeMinutes} minutes.</p>
<p>If you did not ask to sign in, you can ignore this email.</p>
</body></html>`;
  return {
    html: markup.markup,
    subject: `Sign in to ${projectName}: Your code is ${otp}`,
    text: [
      `Your code to sign in to ${projectName} is: ${otp}`,
      '',
      ...(link === undefined ? [] : ['Or sign in with this link:', link, '']),
      `The code works once and expires in ${lifetimeMinutes} minutes.`,
      'If you did not ask to sign in, you can ignore this email.',
    ].join('\n'),
  };
}

export async function sendSignInCode(ctx: AppContext, input: SendSignInCodeInput, origin: Origin): Promise<{ nonce: string }> {
  const code = newSignInCode();
  const nonce = nonceOf(code);
  const now = ctx.clock();
  const mail = signInMail(input.projectName, otpOf(code).toUpperCase(), input.withLink === false ? undefined : magicLink(input.callbackUrl, code), SIGN_IN_CODE_LIFETIME_MS / 60_000);
  await ctx.mailer.send({ to: input.email, ...mail });

  const nonceDigest = nonceDigestOf(ctx, nonce);
  const result = await handleCommand(
    ctx.store,
    signInCodeStream(nonceDigest),
    signInCodeDecider,
    {
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
    },
    metadataFor({ ...origin, projectId: input.projectId }, now),
  );
  await settle(ctx, result.position);
  return { nonce };
}

