// POST /users, GET /users/{id}, DELETE /users/{id} (API.md §4), server access or higher.
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppState } from '../app-state.ts';
import { callerOf, requireAccess } from '../access.ts';
import { bodyOrEmpty, parseInput } from '../validate.ts';
import { originOf } from '../origin.ts';
import { createUser } from '../../commands/user/create-user.ts';
import { eraseUser } from '../../flows/erase-user.ts';
import { findUser, type UserView } from '../../projections/user-projection.ts';
import { knownError } from '../../errors.ts';
import { requireUserToken } from '../user-auth.ts';
import { describeRoutes } from '../route-description.ts';

export const createUserBody = z.strictObject({
  primary_email: z.email().max(254).nullable().optional(),
  display_name: z.string().max(200).nullable().optional(),
  primary_email_verified: z.boolean().optional(),
});

const userIdParam = z.uuid();

/**
 * A user as upstream's server API describes one, so the official SDK can read it (it reads every
 * field). What authlog does not have is constant: no profile images, metadata, passwords,
 * passkeys, OAuth accounts, teams, anonymous users, restrictions or risk scores; it signs users in
 * with emailed codes only, and does not track activity per user (`last_active_at_millis` is the
 * sign-up time; sessions carry their own activity).
 */
export const userResponse = (
  u: Pick<UserView, 'id' | 'primaryEmail' | 'displayName' | 'primaryEmailVerified' | 'signedUpAtMillis'> & { isAnonymous?: boolean },
): z.infer<typeof userBody> => ({
  id: u.id,
  primary_email: u.primaryEmail,
  display_name: u.displayName,
  primary_email_verified: u.primaryEmailVerified,
  signed_up_at_millis: u.signedUpAtMillis,
  last_active_at_millis: u.signedUpAtMillis,
  profile_image_url: null,
  client_metadata: null,
  client_read_only_metadata: null,
  server_metadata: null,
  has_password: false,
  auth_with_email: u.primaryEmail !== null,
  otp_auth_enabled: u.primaryEmail !== null,
  passkey_auth_enabled: false,
  oauth_providers: [],
  selected_team: null,
  selected_team_id: null,
  // Upstream: an anonymous user is restricted, for the reason `anonymous`.
  is_anonymous: u.isAnonymous === true,
  is_restricted: u.isAnonymous === true,
  restricted_reason: u.isAnonymous === true ? { type: 'anonymous' as const } : null,
  restricted_by_admin: false,
  restricted_by_admin_reason: null,
  restricted_by_admin_private_details: null,
  requires_totp_mfa: false,
  country_code: null,
  risk_scores: { sign_up: { bot: 0, free_trial_abuse: 0 } },
});

export const userBody = z.strictObject({
  id: z.uuid(),
  primary_email: z.string().nullable(),
  display_name: z.string().nullable(),
  primary_email_verified: z.boolean(),
  signed_up_at_millis: z.number().int(),
  last_active_at_millis: z.number().int().describe('The sign-up time: authlog tracks activity per session, not per user.'),
  profile_image_url: z.null(),
  client_metadata: z.null(),
  client_read_only_metadata: z.null(),
  server_metadata: z.null(),
  has_password: z.literal(false),
  auth_with_email: z.boolean(),
  otp_auth_enabled: z.boolean(),
  passkey_auth_enabled: z.literal(false),
  oauth_providers: z.array(z.never()),
  selected_team: z.null(),
  selected_team_id: z.null(),
  is_anonymous: z.boolean(),
  is_restricted: z.boolean().describe('True exactly for anonymous users.'),
  restricted_reason: z.strictObject({ type: z.literal('anonymous') }).nullable(),
  restricted_by_admin: z.literal(false),
  restricted_by_admin_reason: z.null(),
  restricted_by_admin_private_details: z.null(),
  requires_totp_mfa: z.literal(false),
  country_code: z.null(),
  risk_scores: z.strictObject({ sign_up: z.strictObject({ bot: z.number(), free_trial_abuse: z.number() }) }),
}).describe("Upstream's user shape (the official SDK reads every field); constant where authlog has no such thing.");

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
    path: '/api/v1/users/me',
    tag: 'Users',
    summary: 'The signed-in user (the official SDK\'s getUser()).',
    access: 'client',
    headers: [{ name: 'x-stack-access-token', required: true, description: "The user's access token (JWT)." }],
    responses: { 200: { description: 'The user.', schema: userBody } },
    errors: ['USER_AUTHENTICATION_REQUIRED', 'UNPARSABLE_ACCESS_TOKEN', 'ACCESS_TOKEN_EXPIRED', 'USER_NOT_FOUND'],
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

  // The signed-in user, from their access token: what the official SDK's getUser() reads.
  router.get('/me', requireAccess(app, 'client'), async (ctx) => {
    const token = await requireUserToken(app, ctx);
    const user = await findUser(app.readModel, app.personal, callerOf(ctx).project.id, token.userId);
    if (!user) throw knownError('USER_NOT_FOUND');
    ctx.body = userResponse(user);
  });

  router.get('/:userId', requireAccess(app, 'server'), async (ctx) => {
    const userId = ctx.params.userId ?? '';
    const user = userIdParam.safeParse(userId).success ? await findUser(app.readModel, app.personal, callerOf(ctx).project.id, userId) : undefined;
    if (!user) throw knownError('USER_NOT_FOUND');
    ctx.body = userResponse(user);
  });

  router.delete('/:userId', requireAccess(app, 'server'), async (ctx) => {
    const userId = ctx.params.userId ?? '';
    if (!userIdParam.safeParse(userId).success) throw knownError('USER_NOT_FOUND');
    // Deleting is for good, as upstream's: the person's data keys go too (crypto-shredding).
    await eraseUser(app, callerOf(ctx).project.id, userId, originOf(ctx), { onlyLive: true });
    ctx.body = { success: true };
  });

  return router;
}
