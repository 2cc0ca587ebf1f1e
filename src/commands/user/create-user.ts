// Creating a user: reserve the primary email on its reservation stream (so exactly one of two
// concurrent creations with the same email wins), then append UserCreated to the user's stream.
import { randomUUID } from 'node:crypto';
import { metadataFor, settle, type AppContext, type Origin } from '../../app-context.ts';
import { streamName } from '../../events/streams.ts';
import type { EventData } from '../../events/catalogue.ts';
import { foldStream, handleCommand } from '../handler.ts';
import { KnownError, knownError } from '../../errors.ts';
import { userDecider } from './user-decider.ts';
import { emailReservationDecider } from './email-reservation-decider.ts';

/** A reservation whose user never appeared is abandoned after this long (a crash mid-create). */
const ABANDONED_RESERVATION_MS = 30_000;

export const emailReservationStream = (ctx: Pick<AppContext, 'hasher'>, projectId: string, email: string): string =>
  emailReservationStreamOf(projectId, emailDigestFor(ctx, email));

/** The reservation stream of an email, by its digest. */
export const emailReservationStreamOf = (projectId: string, emailDigest: string): string => streamName('userEmail', `${projectId}.${emailDigest}`);

/**
 * Every stream the email's reservation may be on: the current secret's first, then the previous
 * secret's. New reservations go on the first; one made before AUTHLOG_SECRET was rotated stays
 * where it is and still blocks a duplicate.
 */
export const emailReservationStreams = (ctx: Pick<AppContext, 'hasher'>, projectId: string, email: string): string[] =>
  ctx.hasher.candidates('email', email.trim().toLowerCase()).map((digest) => streamName('userEmail', `${projectId}.${digest}`));

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
  reservationStream: string,
): Promise<{ userId: string; isLive: boolean | undefined } | undefined> {
  const reservation = await ctx.store.readStream(reservationStream);
  const state = foldStream(emailReservationDecider, reservation);
  if (!state.holder) return undefined;
  const holder = foldStream(userDecider, await ctx.store.readStream(streamName('user', state.holder)));
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
  const metadata = metadataFor({ ...origin, projectId: input.projectId }, now);
  if (input.primaryEmail !== null) {
    const [stream = emailReservationStream(ctx, input.projectId, input.primaryEmail), ...olderStreams] = emailReservationStreams(ctx, input.projectId, input.primaryEmail);
    const checkedHolder = await checkHolder(ctx, stream);
    try {
      // A holder under a previous secret is as good as one under the current: a live (or still
      // being created) user there is the email's owner.
      for (const older of olderStreams) {
        const holder = await checkHolder(ctx, older);
        if (holder && holder.isLive !== false) throw knownError('USER_EMAIL_ALREADY_EXISTS');
      }
      await handleCommand(ctx.store, stream, emailReservationDecider, { type: 'Reserve', projectId: input.projectId, userId, checkedHolder }, metadata);
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
  const result = await handleCommand(ctx.store, streamName('user', userId), userDecider, { type: 'CreateUser', data }, metadata);
  await settle(ctx, result.position);
  return { userId, projectId: input.projectId, primaryEmail: input.primaryEmail, displayName: input.displayName, primaryEmailVerified: input.primaryEmailVerified, signedUpAtMillis: now };
}

/** The live user holding this email in this project, read from the write side (not the read model). */
export async function findUserIdByEmail(ctx: Pick<AppContext, 'store' | 'hasher'>, projectId: string, email: string): Promise<string | undefined> {
  for (const stream of emailReservationStreams(ctx, projectId, email)) {
    const state = foldStream(emailReservationDecider, await ctx.store.readStream(stream));
    if (!state.holder) continue;
    const holder = foldStream(userDecider, await ctx.store.readStream(streamName('user', state.holder)));
    if (holder.status === 'active') return state.holder;
  }
  return undefined;
}
