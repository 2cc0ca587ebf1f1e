// Sessions (API.md §3): create one for a user (impersonation; also at the reference page's path
// POST /auth/sessions), refresh, sign out, list, revoke.
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppCtx, AppState } from '../app-state.ts';
import { callerOf, requireAccess } from '../access.ts';
import { parseInput } from '../validate.ts';
import { originOf } from '../origin.ts';
import { stackHeader } from '../headers.ts';
import { liveSessionOf, optionalUserToken, requireUserToken } from '../user-auth.ts';
import { createSession } from '../../commands/session/create-session.ts';
import { revokeSession } from '../../commands/session/revoke-session.ts';
import { refreshSession } from '../../commands/session/refresh-session.ts';
import { DEFAULT_SESSION_MS, MAX_SESSION_MS } from '../../commands/session/session-lifetimes.ts';
import { findSession, listUserSessions, type SessionView } from '../../projections/session-projection.ts';
import { userExists } from '../../projections/user-projection.ts';
import { knownError } from '../../errors.ts';
import { describeRoutes, type RouteDescription } from '../route-description.ts';
import type { VerifiedAccessToken } from '../../crypto/access-tokens.ts';


export const createSessionBody = z.strictObject({
  user_id: z.uuid(),
  expires_in_millis: z.number().int().min(1).max(MAX_SESSION_MS).optional(),
  is_impersonation: z.boolean().optional(),
});

// `me`: the user of the access token (upstream's userIdOrMeSchema; the SDK's getActiveSessions
// and revokeSession send it).
export const sessionsQuery = z.object({ user_id: z.union([z.uuid(), z.literal('me')]) });

const sessionItem = (s: SessionView, currentSessionId: string | undefined) => ({
  id: s.id,
  user_id: s.userId,
  created_at: s.createdAtMillis,
  // Upstream's last-active time starts at the creation time, so it is never null.
  last_used_at: s.lastUsedAtMillis ?? s.createdAtMillis,
  is_impersonation: s.isImpersonation,
  is_current_session: s.id === currentSessionId,
});

const tokens = z.strictObject({ refresh_token: z.string().startsWith('rt_'), access_token: z.string().describe('JWT (ES256), 10 minutes') });
const success = z.strictObject({ success: z.literal(true) });
const accessTokenHeader = { name: 'x-stack-access-token', description: "The user's access token (JWT)." };

const createSessionRoute = (path: string): RouteDescription => ({
  method: 'POST',
  path,
  tag: 'Sessions',
  summary: path.startsWith('/api') ? 'Create a session for a user (e.g. impersonation).' : 'Create a session: the reference page\'s path, same as POST /api/v1/auth/sessions.',
  description: 'The event records who created the session, from which address, and is_impersonation: the record the impersonation audit replays.',
  access: 'server',
  body: createSessionBody,
  responses: { 200: { description: 'The new session\'s tokens.', schema: tokens } },
  errors: ['USER_ID_DOES_NOT_EXIST'],
});

export const sessionRouteDescriptions = describeRoutes(
  createSessionRoute('/api/v1/auth/sessions'),
  createSessionRoute('/auth/sessions'),
  {
    method: 'POST',
    path: '/api/v1/auth/sessions/current/refresh',
    tag: 'Sessions',
    summary: 'A new access token for a refresh token; under refresh-token rotation also its successor.',
    access: 'client',
    headers: [{ name: 'x-stack-refresh-token', required: true, description: 'The session\'s refresh token.' }],
    responses: {
      200: {
        description: 'A fresh access token, and refresh_token when the session\'s refresh tokens rotate (use it from now on: the one sent is retired, and presenting it again after 30 s ends the session).',
        schema: z.strictObject({ access_token: z.string(), refresh_token: z.string().startsWith('rt_').optional() }),
      },
    },
    errors: ['REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED'],
  },
  {
    method: 'DELETE',
    path: '/api/v1/auth/sessions/current',
    tag: 'Sessions',
    summary: 'Sign out: revoke the session of the access token.',
    access: 'client',
    headers: [{ ...accessTokenHeader, required: true }],
    responses: { 200: { description: 'Revoked.', schema: success } },
    errors: ['USER_AUTHENTICATION_REQUIRED', 'UNPARSABLE_ACCESS_TOKEN', 'ACCESS_TOKEN_EXPIRED', 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED', 'SESSION_NOT_FOUND'],
  },
  {
    method: 'GET',
    path: '/api/v1/auth/sessions',
    tag: 'Sessions',
    summary: "List a user's sessions (client access: the user of the access token only).",
    description: 'Impersonation sessions are listed to admin access only.',
    access: 'client',
    query: sessionsQuery,
    headers: [{ ...accessTokenHeader, required: false, description: 'Required with client access; marks the current session.' }],
    responses: {
      200: {
        description: 'The sessions.',
        schema: z.strictObject({
          items: z.array(
            z.strictObject({
              id: z.uuid(),
              user_id: z.uuid(),
              created_at: z.number().int(),
              last_used_at: z.number().int().describe('The creation time until the session is first used.'),
              is_impersonation: z.boolean(),
              is_current_session: z.boolean(),
            }),
          ),
          is_paginated: z.literal(false),
        }),
      },
    },
    errors: ['USER_AUTHENTICATION_REQUIRED', 'UNPARSABLE_ACCESS_TOKEN', 'ACCESS_TOKEN_EXPIRED', 'CANNOT_GET_OWN_USER_WITHOUT_USER', 'CLIENT_CANNOT_ACCESS_OTHER_USER', 'USER_NOT_FOUND'],
  },
  {
    method: 'DELETE',
    path: '/api/v1/auth/sessions/:sessionId',
    tag: 'Sessions',
    summary: 'Revoke one session of a user.',
    access: 'client',
    params: { sessionId: z.uuid() },
    query: sessionsQuery,
    headers: [{ ...accessTokenHeader, required: false, description: 'Required with client access.' }],
    responses: { 200: { description: 'Revoked.', schema: success } },
    errors: [
      'USER_AUTHENTICATION_REQUIRED',
      'UNPARSABLE_ACCESS_TOKEN',
      'ACCESS_TOKEN_EXPIRED',
      'CANNOT_GET_OWN_USER_WITHOUT_USER',
      'CLIENT_CANNOT_ACCESS_OTHER_USER',
      'CANNOT_DELETE_CURRENT_SESSION',
      'SESSION_NOT_FOUND',
    ],
  },
);

/** The user a `user_id` names: `me` is the access token's user, as upstream resolves it. */
function ownUserIdOr(asked: string, token: VerifiedAccessToken | undefined): string {
  if (asked !== 'me') return asked;
  if (!token) throw knownError('CANNOT_GET_OWN_USER_WITHOUT_USER');
  return token.userId;
}

export function sessionRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>();

  const create = async (ctx: AppCtx) => {
    const body = parseInput(ctx, createSessionBody, ctx.state.body);
    const caller = callerOf(ctx);
    const session = await createSession(
      app,
      {
        projectId: caller.project.id,
        userId: body.user_id,
        expiresInMs: body.expires_in_millis ?? DEFAULT_SESSION_MS,
        isImpersonation: body.is_impersonation ?? false,
        via: 'sessions-api',
      },
      originOf(ctx),
    );
    ctx.body = { refresh_token: session.refreshToken, access_token: session.accessToken };
  };
  router.post('/api/v1/auth/sessions', requireAccess(app, 'server'), create);
  router.post('/auth/sessions', requireAccess(app, 'server'), create);

  router.post('/api/v1/auth/sessions/current/refresh', requireAccess(app, 'client'), async (ctx) => {
    const token = stackHeader(ctx, 'refresh-token');
    if (token === undefined) {
      const message = `Request validation failed on ${ctx.method} ${ctx.path}:\n  - headers.x-stack-refresh-token must be defined`;
      throw knownError('SCHEMA_ERROR', message, { message });
    }
    const { accessToken, refreshToken } = await refreshSession(app, callerOf(ctx).project, token, originOf(ctx));
    ctx.body = refreshToken === undefined ? { access_token: accessToken } : { access_token: accessToken, refresh_token: refreshToken };
  });

  router.delete('/api/v1/auth/sessions/current', requireAccess(app, 'client'), async (ctx) => {
    const token = await requireUserToken(app, ctx);
    // Signing out twice: upstream finds no session to delete and answers 401 (the SDK's signOut
    // takes any refresh-token error as signed out).
    const { revoked } = await revokeSession(app, token.projectId, token.sessionId, 'sign-out', originOf(ctx));
    if (!revoked) throw knownError('REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
    ctx.body = { success: true };
  });

  router.get('/api/v1/auth/sessions', requireAccess(app, 'client'), async (ctx) => {
    const { user_id: asked } = parseInput(ctx, sessionsQuery, ctx.query, 'query');
    const caller = callerOf(ctx);
    const token = caller.accessType === 'client' && asked !== 'me' ? await requireUserToken(app, ctx) : await optionalUserToken(app, ctx);
    const userId = ownUserIdOr(asked, token);
    if (caller.accessType === 'client' && token?.userId !== userId) throw knownError('CLIENT_CANNOT_ACCESS_OTHER_USER');
    if (!(await userExists(app.readModel, caller.project.id, userId))) throw knownError('USER_NOT_FOUND');
    const sessions = await listUserSessions(app.readModel, caller.project.id, userId);
    // Impersonation sessions are the admin's business: the user and the app server never see them.
    const visible = caller.accessType === 'admin' ? sessions : sessions.filter((s) => !s.isImpersonation);
    ctx.body = { items: visible.map((s) => sessionItem(s, token?.sessionId)), is_paginated: false };
  });

  router.delete('/api/v1/auth/sessions/:sessionId', requireAccess(app, 'client'), async (ctx) => {
    const { user_id: asked } = parseInput(ctx, sessionsQuery, ctx.query, 'query');
    const sessionId = ctx.params.sessionId ?? '';
    const caller = callerOf(ctx);
    const token = caller.accessType === 'client' && asked !== 'me' ? await requireUserToken(app, ctx) : await optionalUserToken(app, ctx);
    const userId = ownUserIdOr(asked, token);
    if (caller.accessType === 'client' && token?.userId !== userId) throw knownError('CLIENT_CANNOT_ACCESS_OTHER_USER');
    // Revoking is a change: a token whose session has ended may no longer make it.
    if (token && caller.accessType === 'client') await liveSessionOf(app, token);
    if (token?.sessionId === sessionId) throw knownError('CANNOT_DELETE_CURRENT_SESSION');
    const session = z.uuid().safeParse(sessionId).success ? await findSession(app.readModel, caller.project.id, sessionId) : undefined;
    if (!session || session.userId !== userId || (session.isImpersonation && caller.accessType !== 'admin')) throw knownError('SESSION_NOT_FOUND');
    await revokeSession(app, caller.project.id, sessionId, 'revoked', originOf(ctx));
    ctx.body = { success: true };
  });

  return router;
}
