// Deleting a user: UserDeleted on the user's stream, the email reservation released so the
// address can sign up again, and every live session revoked (reason user-deleted) so the audit
// shows how each one ended. Refresh also checks that the user exists, so a session this misses
// (created in the instant before the deletion, not yet in the read model) stops working too.
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { streamName } from '../../events/streams.ts';
import { handleCommand } from '../handler.ts';
import { userDecider } from './user-decider.ts';
import { emailReservationDecider } from './email-reservation-decider.ts';
import { emailReservationStreamOf } from './create-user.ts';
import type { UserState } from './user-decider.ts';
import { revokeSession } from '../session/revoke-session.ts';
import { listUserSessions } from '../../projections/session-projection.ts';

/**
 * Every digest the user's primary email may be known by: under the current secret and the previous
 * one (AUTHLOG_SECRET_PREVIOUS), and the one recorded at creation. Read while the user's key can
 * still open the email; once it is erased, only the recorded digest remains.
 */
export async function emailDigestsOf(ctx: Pick<AppContext, 'hasher' | 'personal'>, state: UserState): Promise<string[]> {
  const email = state.primaryEmail === null ? undefined : await ctx.personal.tryOpen(state.primaryEmail);
  const digests = email === undefined ? [] : ctx.hasher.candidates('email', email.trim().toLowerCase());
  if (state.primaryEmailDigest !== undefined && !digests.includes(state.primaryEmailDigest)) digests.push(state.primaryEmailDigest);
  return digests;
}

async function reservationStreamsOf(ctx: Pick<AppContext, 'hasher' | 'personal'>, projectId: string, state: UserState): Promise<string[]> {
  return (await emailDigestsOf(ctx, state)).map((digest) => emailReservationStreamOf(projectId, digest));
}

export async function deleteUser(ctx: AppContext, projectId: string, userId: string, origin: Origin): Promise<void> {
  const metadata = metadataFor({ ...origin, projectId }, ctx.clock());
  // Which session streams to end: the read model only says where to look; each revocation is
  // decided on its own stream.
  const sessions = await listUserSessions(ctx.readModel, projectId, userId);
  const result = await handleCommand(ctx.store, streamName('user', userId), userDecider, { type: 'DeleteUser', userId, projectId }, metadata);
  let position = result.position;
  // The reservation may be under the previous secret's digest (made before a rotation); Release
  // decides nothing where this user is not the holder.
  for (const stream of await reservationStreamsOf(ctx, projectId, result.state)) {
    const released = await handleCommand(ctx.store, stream, emailReservationDecider, { type: 'Release', projectId, userId }, metadata);
    position = released.position ?? position;
  }
  for (const session of sessions) {
    const revoked = await revokeSession(ctx, projectId, session.id, 'user-deleted', origin, { settle: false });
    if (revoked.position !== undefined) position = revoked.position;
  }
  await settle(ctx, position);
}
