// Every route's description, one list per routes file. A router added to routersFor (app.ts)
// adds its list here; test/openapi.test.ts fails for any route that has no description.
import type { RouteDescription } from './route-description.ts';
import { healthRouteDescriptions } from './routes/health.ts';
import { metricsRouteDescriptions } from './routes/metrics.ts';
import { openApiRouteDescriptions } from './routes/openapi.ts';
import { userRouteDescriptions } from './routes/users.ts';
import { currentUserRouteDescriptions } from './routes/current-user.ts';
import { sessionRouteDescriptions } from './routes/sessions.ts';
import { jwksRouteDescriptions } from './routes/jwks.ts';
import { cliAuthRouteDescriptions } from './routes/cli-auth.ts';
import { anonymousSignUpRouteDescriptions } from './routes/anonymous-sign-up.ts';
import { signInCodeRouteDescriptions } from './routes/sign-in-codes.ts';
import { auditRouteDescriptions } from './routes/audit.ts';
import { oauthTokenRouteDescriptions } from './routes/oauth-token.ts';
import { projectKeyRouteDescriptions } from './routes/project-keys.ts';
import { checkpointKeyRouteDescriptions } from './routes/checkpoint-keys.ts';
import { projectConfigRouteDescriptions } from './routes/project-config.ts';

export const ROUTE_DESCRIPTIONS: readonly RouteDescription[] = [
  ...healthRouteDescriptions,
  ...metricsRouteDescriptions,
  ...openApiRouteDescriptions,
  ...currentUserRouteDescriptions,
  ...userRouteDescriptions,
  ...sessionRouteDescriptions,
  ...jwksRouteDescriptions,
  ...cliAuthRouteDescriptions,
  ...anonymousSignUpRouteDescriptions,
  ...signInCodeRouteDescriptions,
  ...oauthTokenRouteDescriptions,
  ...auditRouteDescriptions,
  ...projectKeyRouteDescriptions,
  ...checkpointKeyRouteDescriptions,
  ...projectConfigRouteDescriptions,
];
