// Upstream's "override error status": a client that asks with `x-stack-override-error-status:
// true` (the official SDK always does, as `x-hexclave-override-error-status`) gets every 4xx as a
// 200 carrying the real status in `x-stack-actual-status` and `x-hexclave-actual-status`. Browsers
// log failed requests to the console; the SDK reads the real status back from the header. The
// body, the known-error header and everything else stay as they were.
import type { Next } from 'koa';
import type { AppCtx } from './app-state.ts';
import { stackHeaderValues } from './headers.ts';

function asksForOverride(ctx: AppCtx): boolean {
  // Read without the strict header rules: this runs outside the error handling, so it must not
  // throw, and a malformed value simply does not ask.
  return stackHeaderValues(ctx, 'override-error-status').some((value) => value.trim().toLowerCase() === 'true');
}

/** Outermost: it sees the final answer, errors included, after requestContext rendered them. */
export async function overrideErrorStatus(ctx: AppCtx, next: Next): Promise<void> {
  await next();
  if (ctx.status < 400 || ctx.status >= 500 || !asksForOverride(ctx)) return;
  const actual = String(ctx.status);
  ctx.status = 200;
  ctx.set('x-stack-actual-status', actual);
  ctx.set('x-hexclave-actual-status', actual);
}
