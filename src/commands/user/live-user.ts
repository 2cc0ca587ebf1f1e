// A user who exists (created, not deleted) in a project, read from the user's own stream:
// commands that need a live user (making them an admin, a session for them, handing a CLI its
// session) ask the log, not the read model, and get what their tokens say about the user from
// the same read.
import type { AppContext } from '../../app-context.ts';
import type { AccessTokenProfile } from '../../crypto/access-tokens.ts';
import { foldStream } from '../handler.ts';
import { users } from '../aggregates.ts';
import { userDecider, type UserState } from './user-decider.ts';
import { asDomainEvent } from '../../events/catalogue.ts';

const isLiveIn = (user: UserState, projectId: string): boolean => user.status === 'active' && user.projectId === projectId;

/** Nothing personal is opened for this. */
export async function isUserLive(ctx: Pick<AppContext, 'store'>, projectId: string, userId: string): Promise<boolean> {
  return isLiveIn(await users.load(ctx, userId), projectId);
}

export async function findLiveUser(ctx: Pick<AppContext, 'store' | 'personal'>, projectId: string, userId: string): Promise<AccessTokenProfile | undefined> {
  const events = await ctx.store.readStream(users.streamOf(userId));
  const user = foldStream(userDecider, events);
  if (!isLiveIn(user, projectId)) return undefined;
  for (const recorded of events) {
    const event = asDomainEvent(recorded);
    if (event?.type === 'UserCreated') {
      const { displayName, primaryEmail, primaryEmailVerified, signedUpAtMillis } = event.data;
      const isAnonymous = user.isAnonymous;
      // Tokens carry these to the client; a value whose key is gone is no value.
      const open = async (v: typeof primaryEmail) => (v === null ? null : ((await ctx.personal.tryOpen(v)) ?? null));
      return { displayName: await open(displayName), primaryEmail: await open(primaryEmail), primaryEmailVerified, signedUpAtMillis, isAnonymous };
    }
  }
  return undefined;
}
