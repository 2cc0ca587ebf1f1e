// The listener of METRICS_PORT: only GET /metrics, with the same request context (ids, logs,
// errors) as the API.
import Koa from 'koa';
import type { AppContext } from '../app-context.ts';
import type { AppState } from './app-state.ts';
import { requestContext } from './request-context.ts';
import { metricsRoutes } from './routes/metrics.ts';

export function createMetricsApp(app: AppContext): Koa<AppState> {
  const koa = new Koa<AppState>();
  koa.use(requestContext(app));
  const router = metricsRoutes(app, 'metrics');
  koa.use(router.routes());
  koa.use(router.allowedMethods({ throw: true }));
  koa.on('error', () => {});
  return koa;
}
