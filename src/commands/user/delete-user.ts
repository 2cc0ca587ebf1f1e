// Deleting a user: UserDeleted on the user's stream, then the email reservation is released so
// the address can sign up again. Sessions stop working because refresh checks the user exists.
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { streamName } from '../../events/streams.ts';
import { handleCommand } from '../handler.ts';
import { userDecider } from './user-decider.ts';
import { emailReservationDecider } from './email-reservation-decider.ts';
import { emailReservationStream } from './create-user.ts';

export async function deleteUser(ctx: AppContext, projectId: string, userId: string, origin: Origin): Promise<void> {
  const metadata = metadataFor({ ...origin, projectId }, ctx.clock());
  const result = await handleCommand(ctx.store, streamName('user', userId), userDecider, { type: 'DeleteUser', userId, projectId }, metadata);
  let position = result.position;
  if (result.state.primaryEmail !== null) {
    const released = await handleCommand(
      ctx.store,
      emailReservationStream(ctx, projectId, result.state.primaryEmail),
      emailReservationDecider,
      { type: 'Release', projectId, userId },
      metadata,
    );
    position = released.position ?? position;
  }
  await settle(ctx, position);
}
