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
import type { Personal } from '../../crypto/sealed.ts';

const isLiveIn = (user: UserState, projectId: string): boolean => user.status === 'active' && user.projectId === projectId;

/** Nothing personal is opened for this. */
export async function isUserLive(ctx: Pick<AppContext, 'store'>, projectId: string, userId: string): Promise<boolean> {
  return isLiveIn(await users.load(ctx, userId), projectId);
}

export async function findLiveUser(ctx: Pick<AppContext, 'store' | 'personal'>, projectId: string, userId: string): Promise<AccessTokenProfile | undefined> {
  const events = await ctx.store.readStream(users.streamOf(userId));
  const user = foldStream(userDecider, events);
  if (!isLiveIn(user, projectId)) return undefined;
  // What the tokens say: the creation's values, then every update's, in order.
  let profile: { displayName: Personal | null; primaryEmail: Personal | null; primaryEmailVerified: boolean; signedUpAtMillis: number } | undefined;
  for (const recorded of events) {
    const event = asDomainEvent(recorded);
    if (event?.type === 'UserCreated') {
      const { displayName, primaryEmail, primaryEmailVerified, signedUpAtMillis } = event.data;
      profile = { displayName, primaryEmail, primaryEmailVerified, signedUpAtMillis };
    } else if (profile && event?.type === 'UserUpdated') {
      if (event.data.displayName !== undefined) profile.displayName = event.data.displayName;
      if (event.data.primaryEmailVerified !== undefined) profile.primaryEmailVerified = event.data.primaryEmailVerified;
    } else if (profile && event?.type === 'UserPrimaryEmailChanged') {
      profile.primaryEmail = event.data.primaryEmail;
      profile.primaryEmailVerified = event.data.primaryEmailVerified;
    }
  }
  if (!profile) return undefined;
  // Tokens carry these to the client; a value whose key is gone is no value.
  const open = async (v: Personal | null) => (v === null ? null : ((await ctx.personal.tryOpen(v)) ?? null));
  return { ...profile, displayName: await open(profile.displayName), primaryEmail: await open(profile.primaryEmail), isAnonymous: user.isAnonymous };
}
