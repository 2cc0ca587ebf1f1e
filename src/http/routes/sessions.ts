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
import { optionalUserToken, requireUserToken } from '../user-auth.ts';
import { createSession } from '../../commands/session/create-session.ts';
import { revokeSession } from '../../commands/session/revoke-session.ts';
import { refreshSession } from '../../commands/session/refresh-session.ts';
import { DEFAULT_SESSION_MS, MAX_SESSION_MS } from '../../commands/session/session-lifetimes.ts';
import { findSession, listUserSessions, type SessionView } from '../../projections/session-projection.ts';
import { findUser } from '../../projections/user-projection.ts';
import { knownError } from '../../errors.ts';


export const createSessionBody = z.strictObject({
  user_id: z.uuid(),
  expires_in_millis: z.number().int().min(1).max(MAX_SESSION_MS).optional(),
  is_impersonation: z.boolean().optional(),
});

export const sessionsQuery = z.object({ user_id: z.uuid() });

const sessionItem = (s: SessionView, currentSessionId: string | undefined) => ({
  id: s.id,
  user_id: s.userId,
  created_at: s.createdAtMillis,
  last_used_at: s.lastUsedAtMillis ?? null,
  is_impersonation: s.isImpersonation,
  is_current_session: s.id === currentSessionId,
});

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
    const { accessToken } = await refreshSession(app, callerOf(ctx).project.id, token, originOf(ctx));
    ctx.body = { access_token: accessToken };
  });

  router.delete('/api/v1/auth/sessions/current', requireAccess(app, 'client'), async (ctx) => {
    const token = await requireUserToken(app, ctx);
    await revokeSession(app, token.projectId, token.sessionId, 'sign-out', originOf(ctx));
    ctx.body = { success: true };
  });

  router.get('/api/v1/auth/sessions', requireAccess(app, 'client'), async (ctx) => {
    const { user_id: userId } = parseInput(ctx, sessionsQuery, ctx.query, 'query');
    const caller = callerOf(ctx);
    const token = caller.accessType === 'client' ? await requireUserToken(app, ctx) : await optionalUserToken(app, ctx);
    if (caller.accessType === 'client' && token?.userId !== userId) throw knownError('CLIENT_CANNOT_ACCESS_OTHER_USER');
    if (!(await findUser(app.readModel, caller.project.id, userId))) throw knownError('USER_NOT_FOUND');
    const sessions = await listUserSessions(app.readModel, caller.project.id, userId);
    // Impersonation sessions are the admin's business: the user and the app server never see them.
    const visible = caller.accessType === 'admin' ? sessions : sessions.filter((s) => !s.isImpersonation);
    ctx.body = { items: visible.map((s) => sessionItem(s, token?.sessionId)), is_paginated: false };
  });

  router.delete('/api/v1/auth/sessions/:sessionId', requireAccess(app, 'client'), async (ctx) => {
    const { user_id: userId } = parseInput(ctx, sessionsQuery, ctx.query, 'query');
    const sessionId = ctx.params.sessionId ?? '';
    const caller = callerOf(ctx);
    const token = caller.accessType === 'client' ? await requireUserToken(app, ctx) : await optionalUserToken(app, ctx);
    if (caller.accessType === 'client' && token?.userId !== userId) throw knownError('CLIENT_CANNOT_ACCESS_OTHER_USER');
    if (token?.sessionId === sessionId) throw knownError('CANNOT_DELETE_CURRENT_SESSION');
    const session = z.uuid().safeParse(sessionId).success ? await findSession(app.readModel, caller.project.id, sessionId) : undefined;
    if (!session || session.userId !== userId || (session.isImpersonation && caller.accessType !== 'admin')) throw knownError('SESSION_NOT_FOUND');
    await revokeSession(app, caller.project.id, sessionId, 'revoked', originOf(ctx));
    ctx.body = { success: true };
  });

  return router;
}
