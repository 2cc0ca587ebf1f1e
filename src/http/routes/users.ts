// POST /users, GET /users, GET/PATCH/DELETE /users/{id} (API.md §4), server access or higher.
// The signed-in user's own routes (/users/me) are in current-user.ts.
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
import { updateUser, type UserChanges } from '../../commands/user/update-user.ts';
import { decodeCursor, encodeCursor, listUsers } from '../../projections/user-listing.ts';
import { knownError } from '../../errors.ts';
import { describeRoutes } from '../route-description.ts';

/**
 * Fields upstream's SDK and clients send that name what authlog does not have; accepted with the
 * one value that is true here, and ignored. Every primary email signs in with codes (and is unique),
 * so email auth and OTP are always on; there are no passkeys, metadata, profile images, teams,
 * TOTP, admin restrictions or sign-up countries.
 */
const constantUserFields = {
  primary_email_auth_enabled: z.literal(true).optional(),
  otp_auth_enabled: z.literal(true).optional(),
  passkey_auth_enabled: z.literal(false).optional(),
  profile_image_url: z.null().optional(),
  client_metadata: z.null().optional(),
  client_read_only_metadata: z.null().optional(),
  server_metadata: z.null().optional(),
  totp_secret_base64: z.null().optional(),
  restricted_by_admin: z.literal(false).optional(),
  restricted_by_admin_reason: z.null().optional(),
  restricted_by_admin_private_details: z.null().optional(),
  country_code: z.null().optional(),
};

export const createUserBody = z.strictObject({
  primary_email: z.email().max(254).nullable().optional(),
  display_name: z.string().max(200).nullable().optional(),
  primary_email_verified: z.boolean().optional(),
  ...constantUserFields,
  oauth_providers: z.array(z.never()).max(0).optional(),
});

/** PATCH /users/{id} (and /users/me with server access): only the fields given change. */
export const updateUserBody = z.strictObject({
  display_name: z.string().max(200).nullable().optional().describe('the empty string clears it, as upstream'),
  primary_email: z.email().max(254).nullable().optional().describe('unique per project; a new address is unverified unless primary_email_verified says otherwise; null removes it'),
  primary_email_verified: z.boolean().optional(),
  selected_team_id: z.null().optional(),
  ...constantUserFields,
});

/** What a parsed update body changes. */
export const userChangesOf = (body: { display_name?: string | null; primary_email?: string | null; primary_email_verified?: boolean }): UserChanges => ({
  ...(body.display_name !== undefined ? { displayName: body.display_name === '' ? null : body.display_name } : {}),
  ...(body.primary_email !== undefined ? { primaryEmail: body.primary_email } : {}),
  ...(body.primary_email_verified !== undefined ? { primaryEmailVerified: body.primary_email_verified } : {}),
});

export const listUsersQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).optional().describe('page size; absent: every user from the cursor on'),
  cursor: z.string().max(100).optional().describe("a page's pagination.next_cursor"),
  order_by: z.literal('signed_up_at').optional(),
  desc: z.enum(['true', 'false']).optional(),
  query: z.string().max(200).optional().describe('part of the display name or primary email (case-insensitive), or the user id'),
  team_id: z.uuid().optional().describe('authlog has no teams: no user is in one'),
  include_restricted: z.enum(['true', 'false']).optional().describe('the only restricted users here are anonymous ones, which include_anonymous governs: ignored'),
  include_anonymous: z.enum(['true', 'false']).optional().describe('anonymous users are left out unless this is true (as upstream)'),
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
  primary_email_auth_enabled: u.primaryEmail !== null,
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
  primary_email_auth_enabled: z.boolean(),
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

const userPage = z.strictObject({
  items: z.array(userBody),
  is_paginated: z.literal(true),
  pagination: z.strictObject({ next_cursor: z.string().nullable() }),
});

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
    responses: { 201: { description: 'The new user.', schema: userBody } },
    errors: ['USER_EMAIL_ALREADY_EXISTS'],
  },
  {
    method: 'GET',
    path: '/api/v1/users',
    tag: 'Users',
    summary: "The project's users, by sign-up time, a page at a time.",
    access: 'server',
    query: listUsersQuery,
    responses: { 200: { description: 'A page.', schema: userPage } },
    errors: [],
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
    method: 'PATCH',
    path: '/api/v1/users/:userId',
    tag: 'Users',
    summary: 'Update a user: display name, primary email (unique per project), whether it is verified.',
    access: 'server',
    params: userIdParams,
    body: updateUserBody,
    responses: { 200: { description: 'The updated user.', schema: userBody } },
    errors: ['USER_NOT_FOUND', 'USER_EMAIL_ALREADY_EXISTS'],
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
    ctx.status = 201;
    ctx.body = userResponse({ id: created.userId, ...created });
  });

  router.get('/', requireAccess(app, 'server'), async (ctx) => {
    const query = parseInput(ctx, listUsersQuery, ctx.query, 'query');
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && !cursor) {
      const message = `Request validation failed on GET ${ctx.path}:\n  - query.cursor must be a pagination.next_cursor of this endpoint`;
      throw knownError('SCHEMA_ERROR', message, { message });
    }
    const page =
      query.team_id !== undefined
        ? { items: [], nextCursor: null }
        : await listUsers(app.readModel, app.personal, callerOf(ctx).project.id, {
            ...(query.limit !== undefined ? { limit: query.limit } : {}),
            ...(cursor ? { cursor } : {}),
            desc: query.desc === 'true',
            ...(query.query !== undefined ? { search: query.query } : {}),
          }, query.include_anonymous === 'true' ? undefined : (user) => !user.isAnonymous);
    ctx.body = { items: page.items.map(userResponse), is_paginated: true, pagination: { next_cursor: page.nextCursor && encodeCursor(page.nextCursor) } };
  });

  router.get('/:userId', requireAccess(app, 'server'), async (ctx) => {
    const userId = ctx.params.userId ?? '';
    const user = userIdParam.safeParse(userId).success ? await findUser(app.readModel, app.personal, callerOf(ctx).project.id, userId) : undefined;
    if (!user) throw knownError('USER_NOT_FOUND');
    ctx.body = userResponse(user);
  });

  router.patch('/:userId', requireAccess(app, 'server'), async (ctx) => {
    const userId = ctx.params.userId ?? '';
    if (!userIdParam.safeParse(userId).success) throw knownError('USER_NOT_FOUND');
    const body = parseInput(ctx, updateUserBody, bodyOrEmpty(ctx));
    const projectId = callerOf(ctx).project.id;
    await updateUser(app, projectId, userId, userChangesOf(body), originOf(ctx));
    const user = await findUser(app.readModel, app.personal, projectId, userId);
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
