// CSRF protection of the approval page's forms: a random cookie (HttpOnly, SameSite=Strict) and,
// in each form, a token that is the HMAC of that cookie and the form's action under the server
// secret. A forged post from another site can neither read the cookie nor compute the token,
// and a token of one form is not valid for another.
import { randomBytes } from 'node:crypto';
import type { Hasher } from '../../crypto/digests.ts';
import { knownError } from '../../errors.ts';
import type { AppCtx } from '../app-state.ts';
import { readCookie, writeCookie, type CookieScope } from './page-cookies.ts';

export type PageAction = 'email' | 'otp' | 'review' | 'approve' | 'deny' | 'sign-out';

const tokenOf = (hasher: Hasher, cookie: string, action: PageAction): string => hasher.digest('page-csrf', `${action}\0${cookie}`);

/** The token for each form of the page, setting the cookie first when the browser has none. */
export function csrfTokens(hasher: Hasher, ctx: AppCtx, scope: CookieScope): (action: PageAction) => string {
  let cookie = readCookie(ctx, 'csrf', scope);
  if (cookie === undefined) {
    cookie = randomBytes(32).toString('base64url');
    writeCookie(ctx, 'csrf', cookie, scope);
  }
  const value = cookie;
  return (action) => tokenOf(hasher, value, action);
}

/** Throws FORM_EXPIRED unless the posted token is the one for this cookie and this form. */
export function verifyCsrf(hasher: Hasher, ctx: AppCtx, scope: CookieScope, action: PageAction, posted: string | undefined): void {
  const cookie = readCookie(ctx, 'csrf', scope);
  if (cookie === undefined || posted === undefined || !hasher.same(posted, tokenOf(hasher, cookie, action))) throw knownError('FORM_EXPIRED');
}
