// Each request, once answered (errors included), is counted and timed in the metrics and logged
// as one line: ids, the route template and the outcome only, never headers, bodies or the query.
import type { Next } from 'koa';
import type { AppCtx } from './app-state.ts';
import type { AppContext } from '../app-context.ts';

/** Finds the route template of a request the routers did not reach (e.g. its body was refused first). */
export type RouteResolver = (method: string, path: string) => string | undefined;

/** The route template (`/api/v1/users/:userId`), never the raw path: bounded labels, no ids or stray secrets in logs. */
function routeOf(ctx: AppCtx, resolve: RouteResolver): string {
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return (typeof matched === 'string' ? matched : resolve(ctx.method, ctx.path)) ?? 'unmatched';
}

export function accessLog({ log, metrics }: Pick<AppContext, 'log' | 'metrics'>, resolveRoute: RouteResolver) {
  return async function accessLogMiddleware(ctx: AppCtx, next: Next): Promise<void> {
    const started = performance.now();
    try {
      await next();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const labels = { method: ctx.method, route: routeOf(ctx, resolveRoute), status: String(ctx.status) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
      log.info('request', { requestId: ctx.state.requestId, ...labels, status: ctx.status, durationMs: Math.round(seconds * 10_000) / 10 });
    }
  };
}
