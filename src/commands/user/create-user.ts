// Creating a user: reserve the primary email on its reservation stream (so exactly one of two
// concurrent creations with the same email wins), then append UserCreated to the user's stream.
import { randomUUID } from 'node:crypto';
import type { AppContext, Origin } from '../../app-context.ts';
import type { EventData } from '../../events/catalogue.ts';
import { KnownError, knownError } from '../../errors.ts';
import { foldStream } from '../handler.ts';
import { emailReservations, projectScoped, users } from '../aggregates.ts';
import { emailReservationDecider } from './email-reservation-decider.ts';

/** A reservation whose user never appeared is abandoned after this long (a crash mid-create). */
const ABANDONED_RESERVATION_MS = 30_000;

/**
 * Every reservation the email may have (ids of emailReservations): the current secret's first,
 * then the previous secret's. New reservations go on the first; one made before AUTHLOG_SECRET
 * was rotated stays where it is and still blocks a duplicate.
 */
const emailReservationIds = (ctx: Pick<AppContext, 'hasher'>, projectId: string, email: string): string[] =>
  ctx.hasher.candidates('email', email.trim().toLowerCase()).map((digest) => projectScoped(projectId, digest));

export interface CreateUserInput {
  projectId: string;
  primaryEmail: string | null;
  displayName: string | null;
  primaryEmailVerified: boolean;
  origin: EventData<'UserCreated'>['origin'];
  isAnonymous?: boolean;
}

/**
 * The reservation's current holder and whether its user stream holds a live user (undefined while
 * a creation may still be under way); undefined when the email is free.
 */
async function checkHolder(
  ctx: Pick<AppContext, 'store' | 'clock'>,
  reservationId: string,
): Promise<{ userId: string; isLive: boolean | undefined } | undefined> {
  const reservation = await ctx.store.readStream(emailReservations.streamOf(reservationId));
  const state = foldStream(emailReservationDecider, reservation);
  if (!state.holder) return undefined;
  const holder = await users.load(ctx, state.holder);
  if (holder.status === 'active') return { userId: state.holder, isLive: true };
  if (holder.status === 'deleted') return { userId: state.holder, isLive: false };
  const reservedAt = Date.parse(reservation.at(-1)?.metadata.occurredAt ?? '');
  return { userId: state.holder, isLive: ctx.clock() - reservedAt > ABANDONED_RESERVATION_MS ? false : undefined };
}

export interface CreatedUser {
  userId: string;
  projectId: string;
  primaryEmail: string | null;
  displayName: string | null;
  primaryEmailVerified: boolean;
  signedUpAtMillis: number;
}

export const emailDigestFor = (ctx: Pick<AppContext, 'hasher'>, email: string): string => ctx.hasher.digest('email', email.trim().toLowerCase());

export async function createUser(ctx: AppContext, input: CreateUserInput, origin: Origin): Promise<CreatedUser> {
  const userId = randomUUID();
  const now = ctx.clock();
  // One instant for both streams; the user is waited for once, after the last write.
  const call = { origin, projectId: input.projectId, nowMs: now };
  if (input.primaryEmail !== null) {
    const [reservation = projectScoped(input.projectId, emailDigestFor(ctx, input.primaryEmail)), ...olderReservations] = emailReservationIds(ctx, input.projectId, input.primaryEmail);
    const checkedHolder = await checkHolder(ctx, reservation);
    try {
      // A holder under a previous secret is as good as one under the current: a live (or still
      // being created) user there is the email's owner.
      for (const older of olderReservations) {
        const holder = await checkHolder(ctx, older);
        if (holder && holder.isLive !== false) throw knownError('USER_EMAIL_ALREADY_EXISTS');
      }
      await emailReservations.handle(ctx, reservation, () => ({ type: 'Reserve', projectId: input.projectId, userId, checkedHolder }), { ...call, settle: false });
    } catch (error) {
      // The decider sees only the email's digest; the answer names the email, as upstream's does
      // (the official SDK reads it from the details).
      if (error instanceof KnownError && error.code === 'USER_EMAIL_ALREADY_EXISTS') {
        throw knownError('USER_EMAIL_ALREADY_EXISTS', `A user with email ${JSON.stringify(input.primaryEmail)} already exists.`, {
          email: input.primaryEmail,
          would_work_if_email_was_verified: false,
        });
      }
      throw error;
    }
  }
  const data: EventData<'UserCreated'> = {
    userId,
    projectId: input.projectId,
    // Plain here: the sealing store seals it under the user's key before it reaches the log.
    primaryEmail: input.primaryEmail,
    ...(input.primaryEmail !== null ? { primaryEmailDigest: emailDigestFor(ctx, input.primaryEmail) } : {}),
    primaryEmailVerified: input.primaryEmailVerified,
    displayName: input.displayName,
    signedUpAtMillis: now,
    origin: input.origin,
    ...(input.isAnonymous === true ? { isAnonymous: true } : {}),
  };
  await users.handle(ctx, userId, () => ({ type: 'CreateUser', data }), call);
  return { userId, projectId: input.projectId, primaryEmail: input.primaryEmail, displayName: input.displayName, primaryEmailVerified: input.primaryEmailVerified, signedUpAtMillis: now };
}

/** The live user holding this email in this project, read from the write side (not the read model). */
export async function findUserIdByEmail(ctx: Pick<AppContext, 'store' | 'hasher'>, projectId: string, email: string): Promise<string | undefined> {
  for (const reservation of emailReservationIds(ctx, projectId, email)) {
    const state = await emailReservations.load(ctx, reservation);
    if (!state.holder) continue;
    const holder = await users.load(ctx, state.holder);
    if (holder.status === 'active') return state.holder;
  }
  return undefined;
}
