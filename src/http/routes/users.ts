// POST /users, GET /users/{id}, DELETE /users/{id} (API.md §4), server access or higher.
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppState } from '../app-state.ts';
import { callerOf, requireAccess } from '../access.ts';
import { bodyOrEmpty, parseInput } from '../validate.ts';
import { originOf } from '../origin.ts';
import { createUser } from '../../commands/user/create-user.ts';
import { deleteUser } from '../../commands/user/delete-user.ts';
import { findUser, type UserView } from '../../projections/user-projection.ts';
import { knownError } from '../../errors.ts';
import { describeRoutes } from '../route-description.ts';

export const createUserBody = z.strictObject({
  primary_email: z.email().max(254).nullable().optional(),
  display_name: z.string().max(200).nullable().optional(),
  primary_email_verified: z.boolean().optional(),
});

const userIdParam = z.uuid();

export const userResponse = (u: Pick<UserView, 'id' | 'primaryEmail' | 'displayName' | 'primaryEmailVerified' | 'signedUpAtMillis'>) => ({
  id: u.id,
  primary_email: u.primaryEmail,
  display_name: u.displayName,
  primary_email_verified: u.primaryEmailVerified,
  signed_up_at_millis: u.signedUpAtMillis,
});

export const userBody = z.strictObject({
  id: z.uuid(),
  primary_email: z.string().nullable(),
  display_name: z.string().nullable(),
  primary_email_verified: z.boolean(),
  signed_up_at_millis: z.number().int(),
});

const userIdParams = { userId: userIdParam };

export const userRouteDescriptions = describeRoutes(
  {
    method: 'POST',
    path: '/api/v1/users',
    tag: 'Users',
    summary: 'Create a user.',
    description: 'Primary emails are unique per project (case-insensitive), enforced in the write path.',
    access: 'server',
    body: createUserBody,
    bodyOptional: true,
    responses: { 200: { description: 'The new user.', schema: userBody } },
    errors: ['USER_EMAIL_ALREADY_EXISTS'],
  },
  {
    method: 'GET',
    path: '/api/v1/users/:userId',
    tag: 'Users',
    summary: 'Read a user.',
    access: 'server',
    params: userIdParams,
    responses: { 200: { description: 'The user.', schema: userBody } },
    errors: ['USER_NOT_FOUND'],
  },
  {
    method: 'DELETE',
    path: '/api/v1/users/:userId',
    tag: 'Users',
    summary: 'Delete a user; all their sessions stop working.',
    access: 'server',
    params: userIdParams,
    responses: { 200: { description: 'Deleted.', schema: z.strictObject({ success: z.literal(true) }) } },
    errors: ['USER_NOT_FOUND'],
  },
);

export function userRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/users' });

  router.post('/', requireAccess(app, 'server'), async (ctx) => {
    const body = parseInput(ctx, createUserBody, bodyOrEmpty(ctx));
    const caller = callerOf(ctx);
    const created = await createUser(
      app,
      {
        projectId: caller.project.id,
        primaryEmail: body.primary_email ?? null,
        displayName: body.display_name ?? null,
        primaryEmailVerified: body.primary_email_verified ?? false,
        origin: 'api',
      },
      originOf(ctx),
    );
    ctx.body = userResponse({ id: created.userId, ...created });
  });

  router.get('/:userId', requireAccess(app, 'server'), async (ctx) => {
    const userId = ctx.params.userId ?? '';
    const user = userIdParam.safeParse(userId).success ? await findUser(app.readModel, callerOf(ctx).project.id, userId) : undefined;
    if (!user) throw knownError('USER_NOT_FOUND');
    ctx.body = userResponse(user);
  });

  router.delete('/:userId', requireAccess(app, 'server'), async (ctx) => {
    const userId = ctx.params.userId ?? '';
    if (!userIdParam.safeParse(userId).success) throw knownError('USER_NOT_FOUND');
    await deleteUser(app, callerOf(ctx).project.id, userId, originOf(ctx));
    ctx.body = { success: true };
  });

  return router;
}
