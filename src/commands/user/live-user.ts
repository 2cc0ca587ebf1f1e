// A user who exists (created, not deleted) in a project, read from the user's own stream:
// commands that need a live user (a session for them) ask the log, not the read model, and get
// what their tokens say about the user from the same read.
import type { AppContext } from '../../app-context.ts';
import { streamName } from '../../events/streams.ts';
import type { AccessTokenProfile } from '../../crypto/access-tokens.ts';
import { foldStream } from '../handler.ts';
import { userDecider } from './user-decider.ts';
import { asDomainEvent } from '../../events/catalogue.ts';

export async function findLiveUser(ctx: Pick<AppContext, 'store' | 'personal'>, projectId: string, userId: string): Promise<AccessTokenProfile | undefined> {
  const events = await ctx.store.readStream(streamName('user', userId));
  const user = foldStream(userDecider, events);
  if (user.status !== 'active' || user.projectId !== projectId) return undefined;
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
