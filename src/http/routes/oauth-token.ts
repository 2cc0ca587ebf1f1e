// POST /api/v1/auth/oauth/token: OAuth 2.0's refresh-token grant (RFC 6749 §6), which is how the
// official SDK refreshes an access token (oauth4webapi, client_secret_post): a form body with
// `client_id` = the project id and `client_secret` = its publishable client key. Without
// refresh-token rotation the refresh token is not echoed back: the client keeps the one it has
// (RFC 6749 §6 lets the server leave it out); with it, the answer carries the successor in
// `refresh_token`, as RFC 6749 §6 says a server issuing a new one does.
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppState } from '../app-state.ts';
import { resolveOAuthClient } from '../access.ts';
import { parseInput } from '../validate.ts';
import { originOf } from '../origin.ts';
import { refreshSession } from '../../commands/session/refresh-session.ts';
import { ACCESS_TOKEN_TTL_SECONDS } from '../../crypto/access-tokens.ts';
import { describeRoutes } from '../route-description.ts';

/** Unknown parameters are ignored, as RFC 6749 §3.2 requires of a token endpoint. */
export const oauthTokenBody = z.object({
  grant_type: z.literal('refresh_token'),
  refresh_token: z.string().min(1).max(200),
  client_id: z.string().min(1).max(100),
  client_secret: z.string().min(1).max(200),
});

const tokenResponse = z.strictObject({
  access_token: z.string().describe('JWT (ES256), 10 minutes'),
  token_type: z.literal('Bearer'),
  expires_in: z.literal(ACCESS_TOKEN_TTL_SECONDS),
  refresh_token: z.string().startsWith('rt_').optional().describe('the successor, when the session\'s refresh tokens rotate'),
});

export const oauthTokenRouteDescriptions = describeRoutes({
  method: 'POST',
  path: '/api/v1/auth/oauth/token',
  tag: 'Sessions',
  summary: "OAuth 2.0 refresh-token grant (RFC 6749 §6): a new access token; the official SDK's way to refresh.",
  description: 'Form-encoded. The client authenticates in the body (client_secret_post): client_id is the project id, client_secret its publishable client key (or secret server key; or __stack_public_client__, upstream\'s "no key", where the project does not require keys). Under refresh-token rotation the answer carries the successor refresh token; the one sent is retired.',
  access: 'public',
  body: oauthTokenBody,
  bodyContentType: 'application/x-www-form-urlencoded',
  responses: { 200: { description: 'A fresh access token.', schema: tokenResponse } },
  errors: ['SCHEMA_ERROR', 'CURRENT_PROJECT_NOT_FOUND', 'INVALID_PUBLISHABLE_CLIENT_KEY', 'PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT', 'INVALID_SECRET_SERVER_KEY', 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED', 'SERVICE_UNAVAILABLE'],
});

export function oauthTokenRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>();
  router.post('/api/v1/auth/oauth/token', async (ctx) => {
    const body = parseInput(ctx, oauthTokenBody, ctx.state.body);
    ctx.state.caller = await resolveOAuthClient(app, body.client_id, body.client_secret);
    const refreshed = await refreshSession(app, ctx.state.caller.project, body.refresh_token, originOf(ctx));
    ctx.body = {
      access_token: refreshed.accessToken,
      token_type: 'Bearer',
      expires_in: ACCESS_TOKEN_TTL_SECONDS,
      ...(refreshed.refreshToken === undefined ? {} : { refresh_token: refreshed.refreshToken }),
    } satisfies z.infer<typeof tokenResponse>;
  });
  return router;
}
