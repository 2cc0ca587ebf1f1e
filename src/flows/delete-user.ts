// Deleting a user: UserDeleted on the user's stream, the email reservation released so the
// address can sign up again, and every live session revoked (reason user-deleted) so the audit
// shows how each one ended. Refresh also checks that the user exists, so a session this misses
// (created in the instant before the deletion, not yet in the read model) stops working too.
import type { AppContext, Origin } from '../app-context.ts';
import { settle } from '../commands/handler.ts';
import { emailReservations, projectScoped, users } from '../commands/aggregates.ts';
import { emailDigestsOf } from '../commands/user/user-email-digests.ts';
import { revokeSession } from '../commands/session/revoke-session.ts';
import { listUserSessions } from '../projections/session-projection.ts';

export async function deleteUser(ctx: AppContext, projectId: string, userId: string, origin: Origin): Promise<void> {
  // One instant for every stream; the deletion is waited for once, after its last write.
  const call = { origin, projectId, nowMs: ctx.clock(), settle: false };
  // Which session streams to end: the read model only says where to look; each revocation is
  // decided on its own stream.
  const sessions = await listUserSessions(ctx.readModel, projectId, userId);
  const result = await users.handle(ctx, userId, () => ({ type: 'DeleteUser', userId, projectId }), call);
  let position = result.position;
  // The reservation may be under the previous secret's digest (made before a rotation); Release
  // decides nothing where this user is not the holder.
  for (const digest of await emailDigestsOf(ctx, result.state)) {
    const released = await emailReservations.handle(ctx, projectScoped(projectId, digest), () => ({ type: 'Release', projectId, userId }), call);
    position = released.position ?? position;
  }
  for (const session of sessions) {
    const revoked = await revokeSession(ctx, projectId, session.id, 'user-deleted', origin, { settle: false });
    if (revoked.position !== undefined) position = revoked.position;
  }
  await settle(ctx, position);
}
