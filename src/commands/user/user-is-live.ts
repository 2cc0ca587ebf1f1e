// Whether a user exists (created, not deleted) in a project, decided on the user's own stream:
// commands that need a live user (making them an admin, handing a CLI its session) ask the log,
// not the read model.
import type { AppContext } from '../../app-context.ts';
import { findLiveUser } from './live-user.ts';

export async function userIsLive(ctx: Pick<AppContext, 'store'>, projectId: string, userId: string): Promise<boolean> {
  return (await findLiveUser(ctx, projectId, userId)) !== undefined;
}
