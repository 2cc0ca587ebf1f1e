// Updating a user (PATCH /users/{id}, /users/me): display name, verified flag, primary email. A new
// primary email is first reserved on its reservation stream (reserve-email.ts), so of two users
// taking the same email at once exactly one wins; then the change is appended to the user's
// stream (with the profile changes, in one append), and only then are the reservations of the old
// address released. A crash in between leaves a reservation whose holder's email is another one,
// which reserve-email.ts treats as abandoned after a while.
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { streamName } from '../../events/streams.ts';
import type { EventData } from '../../events/catalogue.ts';
import { foldStream, handleCommand } from '../handler.ts';
import { knownError } from '../../errors.ts';
import { userDecider, type UserState } from './user-decider.ts';
import { emailReservationDecider } from './email-reservation-decider.ts';
import { emailReservationStreamOf } from './create-user.ts';
import { emailDigestsOf } from './delete-user.ts';
import { reserveEmail } from './reserve-email.ts';
import type { EventMetadata } from '../../store/event-store.ts';

export interface UserChanges {
  displayName?: string | null;
  /** null removes the primary email. */
  primaryEmail?: string | null;
  primaryEmailVerified?: boolean;
}

const normalised = (email: string): string => email.trim().toLowerCase();

export async function updateUser(ctx: AppContext, projectId: string, userId: string, changes: UserChanges, origin: Origin): Promise<void> {
  const metadata = metadataFor({ ...origin, projectId }, ctx.clock());
  const stream = streamName('user', userId);
  const before = foldStream(userDecider, await ctx.store.readStream(stream));
  if (before.status !== 'active' || before.projectId !== projectId) throw knownError('USER_NOT_FOUND');

  const profile: EventData<'UserUpdated'> = {
    userId,
    projectId,
    ...(changes.displayName !== undefined ? { displayName: changes.displayName } : {}),
    ...(changes.primaryEmailVerified !== undefined ? { primaryEmailVerified: changes.primaryEmailVerified } : {}),
  };
  const plan = changes.primaryEmail === undefined ? undefined : await planEmailChange(ctx, before, userId, projectId, changes.primaryEmail, changes.primaryEmailVerified, metadata);
  if (plan?.email) delete profile.primaryEmailVerified; // the change carries it

  let position: bigint | undefined;
  try {
    position = (await handleCommand(ctx.store, stream, userDecider, { type: 'UpdateUser', profile, ...(plan?.email ? { email: plan.email } : {}) }, metadata)).position;
  } catch (error) {
    // The user went away (or the change was refused): the new address is not theirs after all.
    if (plan?.reserved !== undefined) await release(ctx, projectId, userId, [plan.reserved], metadata);
    throw error;
  }
  if (plan?.email) {
    const kept = plan.email.primaryEmailDigest;
    const released = await release(ctx, projectId, userId, plan.oldDigests.filter((d) => d !== kept), metadata);
    position = released ?? position;
  }
  await settle(ctx, position);
}

interface EmailPlan {
  /** The change to append; undefined when the address stays as it is. */
  email: EventData<'UserPrimaryEmailChanged'> | undefined;
  /** The digest newly reserved for the user (released again if the change is not appended). */
  reserved: string | undefined;
  /** The digests the old address may be reserved under. */
  oldDigests: string[];
}

async function planEmailChange(
  ctx: AppContext,
  before: UserState,
  userId: string,
  projectId: string,
  primaryEmail: string | null,
  verified: boolean | undefined,
  metadata: EventMetadata,
): Promise<EmailPlan> {
  const oldEmail = before.primaryEmail === null ? null : ((await ctx.personal.tryOpen(before.primaryEmail)) ?? null);
  const oldDigests = await emailDigestsOf(ctx, before);
  if (primaryEmail === null) {
    if (before.primaryEmail === null) return { email: undefined, reserved: undefined, oldDigests };
    return { email: { userId, projectId, primaryEmail: null, primaryEmailVerified: false }, reserved: undefined, oldDigests };
  }
  if (oldEmail !== null && normalised(oldEmail) === normalised(primaryEmail)) {
    // The same address (its reservation stays): only a change of spelling is recorded.
    if (oldEmail === primaryEmail) return { email: undefined, reserved: undefined, oldDigests };
    const digest = before.primaryEmailDigest;
    return {
      email: { userId, projectId, primaryEmail, ...(digest !== undefined ? { primaryEmailDigest: digest } : {}), primaryEmailVerified: verified ?? before.primaryEmailVerified },
      reserved: undefined,
      oldDigests: [],
    };
  }
  const { emailDigest } = await reserveEmail(ctx, projectId, userId, primaryEmail, metadata);
  // A new address is not verified unless the server says so (as upstream).
  return { email: { userId, projectId, primaryEmail, primaryEmailDigest: emailDigest, primaryEmailVerified: verified ?? false }, reserved: emailDigest, oldDigests };
}

/** Releases the user's reservations under these digests (Release decides nothing where another holds one); the last position. */
async function release(ctx: AppContext, projectId: string, userId: string, digests: readonly string[], metadata: EventMetadata): Promise<bigint | undefined> {
  let position: bigint | undefined;
  for (const digest of digests) {
    const released = await handleCommand(ctx.store, emailReservationStreamOf(projectId, digest), emailReservationDecider, { type: 'Release', projectId, userId }, metadata);
    position = released.position ?? position;
  }
  return position;
}
