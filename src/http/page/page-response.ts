// How a server-rendered page answers: the headers every page carries (no framing, no referrer, its
// content security policy) and a rendered page as the response.
import type { AppCtx } from '../app-state.ts';
import { CONTENT_SECURITY_POLICY } from './html.ts';
import type { CookieScope } from './page-cookies.ts';
import type { RenderedPage } from './cli-page-views.ts';

export function setPageHeaders(ctx: AppCtx, scope: CookieScope): void {
  ctx.set('content-security-policy', CONTENT_SECURITY_POLICY);
  ctx.set('x-frame-options', 'DENY');
  ctx.set('referrer-policy', 'no-referrer');
  ctx.set('x-content-type-options', 'nosniff');
  ctx.set('cross-origin-opener-policy', 'same-origin');
  ctx.set('cross-origin-resource-policy', 'same-origin');
  ctx.set('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=()');
  if (scope.secure) ctx.set('strict-transport-security', 'max-age=31536000');
}

export function show(ctx: AppCtx, rendered: RenderedPage): void {
  ctx.status = rendered.status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = rendered.body;
}

export const seeOther = (ctx: AppCtx, href: string): void => {
  ctx.status = 303;
  ctx.redirect(href);
};
