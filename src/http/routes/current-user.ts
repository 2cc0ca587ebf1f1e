// The signed-in user's own record (upstream's current-user CRUD): GET, PATCH and DELETE
// /users/me, the user named by x-stack-access-token. With client access, the client's view and
// the client-writable fields; with server access, the server's. Changing or deleting needs a live
// session (an access token of a signed-out session only reads for its last minutes), and a
// client deletes its user only where the project allows it (as upstream, off by default).
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppCtx, AppState } from '../app-state.ts';
import { callerOf, requireAccess } from '../access.ts';
import { bodyOrEmpty, parseInput } from '../validate.ts';
import { originOf } from '../origin.ts';
import { liveSessionOf, optionalUserToken } from '../user-auth.ts';
import { describeRoutes } from '../route-description.ts';
import { knownError } from '../../errors.ts';
import type { VerifiedAccessToken } from '../../crypto/access-tokens.ts';
import { findUser, type UserView } from '../../projections/user-projection.ts';
import { updateUser } from '../../commands/user/update-user.ts';
import { eraseUser } from '../../flows/erase-user.ts';
import { updateUserBody, userBody, userChangesOf, userResponse } from './users.ts';

/** What a client may read of its own user (upstream's client read schema): nothing server-only. */
export const clientUserBody = userBody.pick({
  id: true,
  primary_email: true,
  primary_email_verified: true,
  display_name: true,
  client_metadata: true,
  client_read_only_metadata: true,
  profile_image_url: true,
  signed_up_at_millis: true,
  has_password: true,
  auth_with_email: true,
  oauth_providers: true,
  selected_team: true,
  selected_team_id: true,
  requires_totp_mfa: true,
  otp_auth_enabled: true,
  passkey_auth_enabled: true,
  is_anonymous: true,
  is_restricted: true,
  restricted_reason: true,
  restricted_by_admin: true,
  restricted_by_admin_reason: true,
});

/** What a client may change of its own user (upstream's client update schema). */
// As upstream's client update: no primary_email. An address is only ever set by the server (or
// by signing in with a code mailed to it): a client that could set one unverified would hold a
// stranger's address, and the stranger's sign-in would then be refused (409, unverified).
export const clientUpdateUserBody = updateUserBody.pick({
  display_name: true,
  profile_image_url: true,
  client_metadata: true,
  selected_team_id: true,
  totp_secret_base64: true,
  otp_auth_enabled: true,
  passkey_auth_enabled: true,
});

const clientUserResponse = (u: UserView): z.infer<typeof clientUserBody> => clientUserBody.parse(pickKeys(userResponse(u), clientUserBody));
const pickKeys = (value: Record<string, unknown>, schema: z.ZodObject): Record<string, unknown> =>
  Object.fromEntries(Object.keys(schema.shape).map((key) => [key, value[key]]));

const tokenHeader = [{ name: 'x-stack-access-token', required: true, description: "The user's access token (JWT)." }];
const eitherView = z.union([clientUserBody, userBody]).describe("The client's view with client access, the server's with server access.");
const TOKEN_ERRORS = ['CANNOT_GET_OWN_USER_WITHOUT_USER', 'UNPARSABLE_ACCESS_TOKEN', 'ACCESS_TOKEN_EXPIRED'] as const;

export const currentUserRouteDescriptions = describeRoutes(
  {
    method: 'GET',
    path: '/api/v1/users/me',
    tag: 'Users',
    summary: "The signed-in user (the official SDK's getUser()).",
    access: 'client',
    headers: tokenHeader,
    responses: { 200: { description: 'The user.', schema: eitherView } },
    errors: [...TOKEN_ERRORS, 'USER_NOT_FOUND'],
  },
  {
    method: 'PATCH',
    path: '/api/v1/users/me',
    tag: 'Users',
    summary: 'Update the signed-in user; a client may change the display name and primary email only.',
    description: 'With server access, the body of PATCH /users/{user_id}. A new primary email is unverified; it must not be held by another user.',
    access: 'client',
    headers: tokenHeader,
    body: updateUserBody.describe('With client access: display_name and the constant fields only (as upstream, no primary_email).'),
    responses: { 200: { description: 'The updated user.', schema: eitherView } },
    errors: [...TOKEN_ERRORS, 'USER_NOT_FOUND', 'USER_EMAIL_ALREADY_EXISTS'],
  },
  {
    method: 'DELETE',
    path: '/api/v1/users/me',
    tag: 'Users',
    summary: 'The signed-in user deletes themself (erased, as DELETE /users/{user_id}).',
    description: 'With client access only where the project allows it (client_user_deletion_enabled).',
    access: 'client',
    headers: tokenHeader,
    responses: { 200: { description: 'Deleted.', schema: z.strictObject({ success: z.literal(true) }) } },
    errors: ['CLIENT_USER_DELETION_NOT_ENABLED', ...TOKEN_ERRORS, 'USER_NOT_FOUND'],
  },
);

async function ownToken(app: AppContext, ctx: AppCtx): Promise<VerifiedAccessToken> {
  const token = await optionalUserToken(app, ctx);
  if (!token) throw knownError('CANNOT_GET_OWN_USER_WITHOUT_USER');
  return token;
}

export function currentUserRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/users/me' });
  const view = (ctx: AppCtx, user: UserView) => (callerOf(ctx).accessType === 'client' ? clientUserResponse(user) : userResponse(user));

  router.get('/', requireAccess(app, 'client'), async (ctx) => {
    const token = await ownToken(app, ctx);
    const user = await findUser(app.readModel, app.personal, callerOf(ctx).project.id, token.userId);
    if (!user) throw knownError('USER_NOT_FOUND');
    ctx.body = view(ctx, user);
  });

  router.patch('/', requireAccess(app, 'client'), async (ctx) => {
    const caller = callerOf(ctx);
    const body = parseInput(ctx, caller.accessType === 'client' ? clientUpdateUserBody : updateUserBody, bodyOrEmpty(ctx));
    const token = await ownToken(app, ctx);
    await liveSessionOf(app, token);
    await updateUser(app, caller.project.id, token.userId, userChangesOf(body), originOf(ctx));
    const user = await findUser(app.readModel, app.personal, caller.project.id, token.userId);
    if (!user) throw knownError('USER_NOT_FOUND');
    ctx.body = view(ctx, user);
  });

  router.delete('/', requireAccess(app, 'client'), async (ctx) => {
    const caller = callerOf(ctx);
    if (caller.accessType === 'client' && !caller.project.clientUserDeletionEnabled) throw knownError('CLIENT_USER_DELETION_NOT_ENABLED');
    const token = await ownToken(app, ctx);
    await liveSessionOf(app, token);
    await eraseUser(app, caller.project.id, token.userId, originOf(ctx), { onlyLive: true });
    ctx.body = { success: true };
  });

  return router;
}
