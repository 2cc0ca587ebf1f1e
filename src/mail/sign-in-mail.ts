// The sign-in mail: what it says, as text and as HTML, and the link it carries.
import { html } from '../markup.ts';

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
