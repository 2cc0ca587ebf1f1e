// The Koa application: upstream's error-status override, request context and errors first, then
// the body reader, then the routers.
// Each endpoint family is one router file under routes/.
import Koa from 'koa';
import Router from '@koa/router';
import type { AppContext } from '../app-context.ts';
import type { AppState } from './app-state.ts';
import { requestContext } from './request-context.ts';
import { overrideErrorStatus } from './override-error-status.ts';
import { readJsonBody } from './body.ts';
import { healthRoutes } from './routes/health.ts';
import { userRoutes } from './routes/users.ts';
import { currentUserRoutes } from './routes/current-user.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { jwksRoutes } from './routes/jwks.ts';
import { cliAuthRoutes } from './routes/cli-auth.ts';
import { anonymousSignUpRoutes } from './routes/anonymous-sign-up.ts';
import { signInCodeRoutes } from './routes/sign-in-codes.ts';
import { auditRoutes } from './routes/audit.ts';
import { oauthTokenRoutes } from './routes/oauth-token.ts';
import { projectKeyRoutes } from './routes/project-keys.ts';
import { checkpointKeyRoutes } from './routes/checkpoint-keys.ts';
import { projectConfigRoutes } from './routes/project-config.ts';
import { cliPageRoutes } from './routes/cli-page.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { openApiRoutes } from './routes/openapi.ts';
import { openApiDocument } from './openapi-document.ts';
import { clientAddress } from './client-address.ts';
import { parseTrustProxy } from '../trust-proxy.ts';

/** Every route is described next to its handler and listed in route-catalogue.ts (test/openapi.test.ts checks). */
export function routersFor(app: AppContext): Router<AppState>[] {
  return [
    healthRoutes(app),
    metricsRoutes(app),
    openApiRoutes(openApiDocument),
    // Before userRoutes: /users/me is not a user id.
    currentUserRoutes(app),
    userRoutes(app),
    sessionRoutes(app),
    jwksRoutes(app),
    cliAuthRoutes(app),
    anonymousSignUpRoutes(app),
    signInCodeRoutes(app),
    oauthTokenRoutes(app),
    auditRoutes(app),
    projectKeyRoutes(app),
    checkpointKeyRoutes(app),
    projectConfigRoutes(app),
  ];
}

export function createHttpApp(app: AppContext): Koa<AppState> {
  const parsed = parseTrustProxy(app.config.TRUST_PROXY);
  if (typeof parsed === 'string') throw new Error(`TRUST_PROXY ${parsed}`); // loadConfig refuses it first
  const trust = parsed;
  const koa = new Koa<AppState>(trust.kind === 'hops' ? { proxy: true, maxIpsCount: trust.hops } : { proxy: false });
  koa.use(clientAddress(trust));
  koa.use(overrideErrorStatus);
  // One router holding every family's routes, in routersFor's order: a request is matched once
  // against one table, where fifteen routers in a row each matched it and each told its
  // not-found event (a tenth of a small request's CPU, BENCHMARKS.md).
  const api = new Router<AppState>();
  for (const router of routersFor(app)) api.use(router.routes());
  const resolveRoute = (method: string, requested: string) => {
    const found = api.match(requested, method);
    const path = found.route ? found.pathAndMethod.at(-1)?.path : undefined;
    return typeof path === 'string' ? path : undefined;
  };
  koa.use(requestContext(app, resolveRoute));
  // The approval page reads its own form posts, so it comes before the JSON body reader.
  const page = cliPageRoutes(app);
  koa.use(page.routes());
  koa.use(page.allowedMethods({ throw: true }));
  koa.use(readJsonBody);
  koa.use(api.routes());
  koa.use(api.allowedMethods({ throw: true }));
  // Koa logs unhandled errors itself; everything is handled by requestContext, so silence the rest
  // (e.g. a client that hung up mid-response).
  koa.on('error', () => {});
  return koa;
}
