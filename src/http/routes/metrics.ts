// GET /metrics for Prometheus. Served when METRICS_TOKEN or METRICS_PORT is set: with a token,
// on the API's port behind `authorization: Bearer <token>`; with a port, on that port only (and
// behind the token too when both are set). Otherwise the route does not exist (404).
import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppCtx, AppState } from '../app-state.ts';
import { bearer } from '../headers.ts';
import { knownError } from '../../errors.ts';
import { describeRoutes } from '../route-description.ts';

export const metricsRouteDescriptions = describeRoutes({
  method: 'GET',
  path: '/metrics',
  tag: 'Operations',
  summary: 'Prometheus metrics (text exposition format).',
  description:
    'Off unless METRICS_TOKEN or METRICS_PORT is set. With METRICS_PORT it is served on that port only. With METRICS_TOKEN it needs `authorization: Bearer <METRICS_TOKEN>`.',
  access: 'metrics',
  responses: { 200: { description: 'The metrics.', schema: z.string(), contentType: 'text/plain' } },
  errors: ['ROUTE_NOT_FOUND'],
});

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

function tokenMatches(ctx: AppCtx, token: string): boolean {
  const given = bearer(ctx);
  // Digests have one length, so the comparison takes the same time whatever was sent.
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

/** `listener`: the API's own port, or the separate METRICS_PORT listener. */
export function metricsRoutes(app: AppContext, listener: 'api' | 'metrics' = 'api'): Router<AppState> {
  const router = new Router<AppState>();
  const { METRICS_TOKEN: token, METRICS_PORT: port } = app.config;
  const servedHere = listener === 'metrics' || (token !== undefined && port === undefined);
  router.get('/metrics', async (ctx) => {
    if (!servedHere) throw knownError('ROUTE_NOT_FOUND', `No route for ${ctx.method} ${ctx.path}.`);
    if (token !== undefined && !tokenMatches(ctx, token)) throw knownError('INVALID_METRICS_TOKEN');
    ctx.type = app.metrics.registry.contentType;
    ctx.body = await app.metrics.registry.metrics();
  });
  return router;
}
