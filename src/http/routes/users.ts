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
import { requireUserToken } from '../user-auth.ts';

export const createUserBody = z.strictObject({
  primary_email: z.email().max(254).nullable().optional(),
  display_name: z.string().max(200).nullable().optional(),
  primary_email_verified: z.boolean().optional(),
});

const userIdParam = z.string().uuid();

/**
 * A user as upstream's server API describes one, so the official SDK can read it (it reads every
 * field). What authlog does not have is constant: no profile images, metadata, passwords,
 * passkeys, OAuth accounts, teams, anonymous users, restrictions or risk scores; it signs users in
 * with emailed codes only, and does not track activity per user (`last_active_at_millis` is the
 * sign-up time; sessions carry their own activity).
 */
export const userResponse = (u: Pick<UserView, 'id' | 'primaryEmail' | 'displayName' | 'primaryEmailVerified' | 'signedUpAtMillis'>) => ({
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
  is_anonymous: false,
  is_restricted: false,
  restricted_reason: null,
  restricted_by_admin: false,
  restricted_by_admin_reason: null,
  restricted_by_admin_private_details: null,
  requires_totp_mfa: false,
  country_code: null,
  risk_scores: { sign_up: { bot: 0, free_trial_abuse: 0 } },
});

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
    const user = await findUser(app.readModel, callerOf(ctx).project.id, token.userId);
    if (!user) throw knownError('USER_NOT_FOUND');
    ctx.body = userResponse(user);
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
