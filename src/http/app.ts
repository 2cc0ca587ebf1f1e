// The Koa application: upstream's error-status override, request context and errors first, then
// the body reader, then the routers.
// Each endpoint family is one router file under routes/.
import Koa from 'koa';
import type Router from '@koa/router';
import type { AppContext } from '../app-context.ts';
import type { AppState } from './app-state.ts';
import { requestContext } from './errors-middleware.ts';
import { overrideErrorStatus } from './override-error-status.ts';
import { readJsonBody } from './body.ts';
import { healthRoutes } from './routes/health.ts';
import { userRoutes } from './routes/users.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { jwksRoutes } from './routes/jwks.ts';
import { cliAuthRoutes } from './routes/cli-auth.ts';
import { signInCodeRoutes } from './routes/sign-in-codes.ts';
import { auditRoutes } from './routes/audit.ts';
import { oauthTokenRoutes } from './routes/oauth-token.ts';
import { cliPageRoutes } from './routes/cli-page.ts';

export function routersFor(app: AppContext): Router<AppState>[] {
  return [healthRoutes(app), userRoutes(app), sessionRoutes(app), jwksRoutes(app), cliAuthRoutes(app), signInCodeRoutes(app), oauthTokenRoutes(app), auditRoutes(app)];
}

export function createHttpApp(app: AppContext, options: { trustProxy?: boolean } = {}): Koa<AppState> {
  const koa = new Koa<AppState>({ proxy: options.trustProxy ?? false });
  koa.use(overrideErrorStatus);
  koa.use(requestContext(app.log));
  // The approval page reads its own form posts, so it comes before the JSON body reader.
  const page = cliPageRoutes(app);
  koa.use(page.routes());
  koa.use(page.allowedMethods({ throw: true }));
  koa.use(readJsonBody);
  for (const router of routersFor(app)) {
    koa.use(router.routes());
    koa.use(router.allowedMethods({ throw: true }));
  }
  // Koa logs unhandled errors itself; everything is handled by requestContext, so silence the rest
  // (e.g. a client that hung up mid-response).
  koa.on('error', () => {});
  return koa;
}
