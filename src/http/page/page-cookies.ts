// The approval page's two cookies: the browser session (the refresh token of the session the
// person signed in with) and the CSRF cookie. Both HttpOnly and SameSite=Strict; over https
// they are Secure and `__Host-` prefixed (so no subdomain can plant them), otherwise scoped to
// /cli.
import type { AppCtx } from '../app-state.ts';

export type PageCookie = 'session' | 'csrf';

export interface CookieScope {
  secure: boolean;
}

export const cookieName = (cookie: PageCookie, scope: CookieScope): string => `${scope.secure ? '__Host-' : ''}authlog-cli-${cookie}`;

/** The cookie's value, if the request carries it once and in a plain shape. */
export function readCookie(ctx: AppCtx, cookie: PageCookie, scope: CookieScope): string | undefined {
  const name = cookieName(cookie, scope);
  const values = (ctx.get('cookie') || '')
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${name}=`))
    .map((part) => part.slice(name.length + 1));
  // Two cookies of one name (e.g. one planted with another path) are ambiguous: trust neither.
  if (values.length !== 1) return undefined;
  const value = values[0]!;
  return /^[\w-]{1,200}$/.test(value) ? value : undefined;
}

/** Sets (or, with `undefined`, clears) the cookie; it lives as long as the browser session. */
export function writeCookie(ctx: AppCtx, cookie: PageCookie, value: string | undefined, scope: CookieScope): void {
  const parts = [`${cookieName(cookie, scope)}=${value ?? ''}`, `Path=${scope.secure ? '/' : '/cli'}`, 'HttpOnly', 'SameSite=Strict'];
  if (scope.secure) parts.push('Secure');
  if (value === undefined) parts.push('Max-Age=0');
  ctx.append('set-cookie', parts.join('; '));
}
