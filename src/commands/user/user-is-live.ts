// Whether a user exists (created, not deleted) in a project, decided on the user's own stream:
// commands that need a live user (making them an admin, handing a CLI its session) ask the log,
// not the read model. Nothing personal is opened for that.
import type { AppContext } from '../../app-context.ts';
import { streamName } from '../../events/streams.ts';
import { foldStream } from '../handler.ts';
import { userDecider } from './user-decider.ts';

export async function userIsLive(ctx: Pick<AppContext, 'store'>, projectId: string, userId: string): Promise<boolean> {
  const user = foldStream(userDecider, await ctx.store.readStream(streamName('user', userId)));
  return user.status === 'active' && user.projectId === projectId;
}
