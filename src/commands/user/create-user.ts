// Creating a user: reserve the primary email on its reservation stream (so exactly one of two
// concurrent creations with the same email wins), then append UserCreated to the user's stream.
import { randomUUID } from 'node:crypto';
import type { AppContext, Origin } from '../../app-context.ts';
import type { EventData } from '../../events/catalogue.ts';
import { emailReservations, projectScoped, users } from '../aggregates.ts';
import type { UserState } from './user-decider.ts';
import { reserveEmail } from './reserve-email.ts';
import { emailDigestCandidates } from '../../crypto/email-digests.ts';

export interface CreateUserInput {
  projectId: string;
  primaryEmail: string | null;
  displayName: string | null;
  primaryEmailVerified: boolean;
  origin: EventData<'UserCreated'>['origin'];
  isAnonymous?: boolean;
}

export interface CreatedUser {
  userId: string;
  projectId: string;
  primaryEmail: string | null;
  displayName: string | null;
  primaryEmailVerified: boolean;
  signedUpAtMillis: number;
}


export async function createUser(ctx: AppContext, input: CreateUserInput, origin: Origin): Promise<CreatedUser> {
  const userId = randomUUID();
  const now = ctx.clock();
  // One instant for both streams; the user is waited for once, after the last write.
  const call = { origin, projectId: input.projectId, nowMs: now };
  const emailDigest = input.primaryEmail === null ? undefined : (await reserveEmail(ctx, input.projectId, userId, input.primaryEmail, { ...call, settle: false })).emailDigest;
  const data: EventData<'UserCreated'> = {
    userId,
    projectId: input.projectId,
    // Plain here: the sealing store seals it under the user's key before it reaches the log.
    primaryEmail: input.primaryEmail,
    ...(emailDigest !== undefined ? { primaryEmailDigest: emailDigest } : {}),
    primaryEmailVerified: input.primaryEmailVerified,
    displayName: input.displayName,
    signedUpAtMillis: now,
    origin: input.origin,
    ...(input.isAnonymous === true ? { isAnonymous: true } : {}),
  };
  await users.handle(ctx, userId, () => ({ type: 'CreateUser', data }), call);
  return { userId, projectId: input.projectId, primaryEmail: input.primaryEmail, displayName: input.displayName, primaryEmailVerified: input.primaryEmailVerified, signedUpAtMillis: now };
}

/**
 * The live user whose primary email this is in this project, read from the write side (not the
 * read model), with their state. A reservation whose holder's email is now another (a change
 * that crashed half-way) names no one.
 */
export async function findEmailHolder(ctx: Pick<AppContext, 'store' | 'hasher'>, projectId: string, email: string): Promise<{ userId: string; state: UserState } | undefined> {
  for (const digest of emailDigestCandidates(ctx, email)) {
    const reservation = await emailReservations.load(ctx, projectScoped(projectId, digest));
    if (!reservation.holder) continue;
    const state = await users.load(ctx, reservation.holder);
    if (state.status === 'active' && (state.primaryEmailDigest === undefined || state.primaryEmailDigest === digest)) return { userId: reservation.holder, state };
  }
  return undefined;
}

/** The live user holding this email in this project, read from the write side (not the read model). */
export async function findUserIdByEmail(ctx: Pick<AppContext, 'store' | 'hasher'>, projectId: string, email: string): Promise<string | undefined> {
  return (await findEmailHolder(ctx, projectId, email))?.userId;
}
