// What wraps every request of a listener, outermost first: its request id, the access log and
// metrics (which see the final answer), and the error responses.
import type { Next } from 'koa';
import type { AppCtx } from './app-state.ts';
import type { AppContext } from '../app-context.ts';
import { assignRequestId } from './request-id.ts';
import { accessLog, type RouteResolver } from './access-log.ts';
import { errorResponses } from './error-responses.ts';

export function requestContext(app: Pick<AppContext, 'log' | 'metrics'>, resolveRoute: RouteResolver = () => undefined) {
  const logged = accessLog(app, resolveRoute);
  const answered = errorResponses(app);
  return function requestContextMiddleware(ctx: AppCtx, next: Next): Promise<void> {
    assignRequestId(ctx);
    return logged(ctx, () => answered(ctx, next));
  };
}
