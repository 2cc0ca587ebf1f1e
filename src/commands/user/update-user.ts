// Updating a user (PATCH /users/{id}, /users/me): display name, verified flag, primary email. A new
// primary email is first reserved on its reservation stream (reserve-email.ts), so of two users
// taking the same email at once exactly one wins; then the change is appended to the user's
// stream (with the profile changes, in one append), and only then are the reservations of the old
// address released. A crash in between leaves a reservation whose holder's email is another one,
// which reserve-email.ts treats as abandoned after a while.
import type { AppContext, Origin } from '../../app-context.ts';
import type { EventData } from '../../events/catalogue.ts';
import { settle, type CommandCall } from '../handler.ts';
import { knownError } from '../../errors.ts';
import { emailReservations, projectScoped, users } from '../aggregates.ts';
import type { UserState } from './user-decider.ts';
import { emailDigestsOf } from './user-email-digests.ts';
import { reserveEmail } from './reserve-email.ts';
import { normaliseEmail } from '../../crypto/email-digests.ts';

export interface UserChanges {
  displayName?: string | null;
  /** null removes the primary email. */
  primaryEmail?: string | null;
  primaryEmailVerified?: boolean;
}


export async function updateUser(ctx: AppContext, projectId: string, userId: string, changes: UserChanges, origin: Origin): Promise<void> {
  // One instant for every stream the change writes; waited for once, after the last write.
  const call: CommandCall = { origin, projectId, nowMs: ctx.clock(), settle: false };
  const before = await users.load(ctx, userId);
  if (before.status !== 'active' || before.projectId !== projectId) throw knownError('USER_NOT_FOUND');

  const profile: EventData<'UserUpdated'> = {
    userId,
    projectId,
    ...(changes.displayName !== undefined ? { displayName: changes.displayName } : {}),
    ...(changes.primaryEmailVerified !== undefined ? { primaryEmailVerified: changes.primaryEmailVerified } : {}),
  };
  const plan = changes.primaryEmail === undefined ? undefined : await planEmailChange(ctx, before, userId, projectId, changes.primaryEmail, changes.primaryEmailVerified, call);
  if (plan?.email) delete profile.primaryEmailVerified; // the change carries it

  let position: bigint | undefined;
  try {
    position = (await users.handle(ctx, userId, () => ({ type: 'UpdateUser', profile, ...(plan?.email ? { email: plan.email } : {}) }), call)).position;
  } catch (error) {
    // The user went away (or the change was refused): the new address is not theirs after all.
    if (plan?.reserved !== undefined) await release(ctx, projectId, userId, [plan.reserved], call);
    throw error;
  }
  if (plan?.email) {
    const kept = plan.email.primaryEmailDigest;
    const released = await release(ctx, projectId, userId, plan.oldDigests.filter((d) => d !== kept), call);
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
  call: CommandCall,
): Promise<EmailPlan> {
  const oldEmail = before.primaryEmail === null ? null : ((await ctx.personal.tryOpen(before.primaryEmail)) ?? null);
  const oldDigests = await emailDigestsOf(ctx, before);
  if (primaryEmail === null) {
    if (before.primaryEmail === null) return { email: undefined, reserved: undefined, oldDigests };
    return { email: { userId, projectId, primaryEmail: null, primaryEmailVerified: false }, reserved: undefined, oldDigests };
  }
  if (oldEmail !== null && normaliseEmail(oldEmail) === normaliseEmail(primaryEmail)) {
    // The same address (its reservation stays): only a change of spelling is recorded.
    if (oldEmail === primaryEmail) return { email: undefined, reserved: undefined, oldDigests };
    const digest = before.primaryEmailDigest;
    return {
      email: { userId, projectId, primaryEmail, ...(digest !== undefined ? { primaryEmailDigest: digest } : {}), primaryEmailVerified: verified ?? before.primaryEmailVerified },
      reserved: undefined,
      oldDigests: [],
    };
  }
  const { emailDigest } = await reserveEmail(ctx, projectId, userId, primaryEmail, call);
  // A new address is not verified unless the server says so (as upstream).
  return { email: { userId, projectId, primaryEmail, primaryEmailDigest: emailDigest, primaryEmailVerified: verified ?? false }, reserved: emailDigest, oldDigests };
}

/** Releases the user's reservations under these digests (Release decides nothing where another holds one); the last position. */
async function release(ctx: AppContext, projectId: string, userId: string, digests: readonly string[], call: CommandCall): Promise<bigint | undefined> {
  let position: bigint | undefined;
  for (const digest of digests) {
    const released = await emailReservations.handle(ctx, projectScoped(projectId, digest), () => ({ type: 'Release', projectId, userId }), call);
    position = released.position ?? position;
  }
  return position;
}
