// Taking an email's reservation for a user (creating them, or changing their primary email): the
// one write that makes primary emails unique per project, so of two concurrent takers of the same
// email exactly one wins (email-reservation-decider.ts).
import type { AppContext } from '../../app-context.ts';
import { foldStream, type CommandCall } from '../handler.ts';
import { KnownError, knownError } from '../../errors.ts';
import { emailDigestCandidates } from '../../crypto/email-digests.ts';
import { emailReservations, projectScoped, users } from '../aggregates.ts';
import { emailReservationDecider } from './email-reservation-decider.ts';

/** A reservation whose user never took the email up is abandoned after this long (a crash mid-create or mid-change). */
const ABANDONED_RESERVATION_MS = 30_000;


/**
 * The reservation's current holder and whether it holds the email now: a live user whose primary
 * email is this one (undefined while a creation or change may still be under way); undefined when
 * the email is free. A live user whose email is now another one (a change that crashed before it
 * released the old reservation, or before it took the new one up) holds it no longer once the
 * reservation is older than ABANDONED_RESERVATION_MS.
 */
async function checkHolder(
  ctx: Pick<AppContext, 'store' | 'clock'>,
  projectId: string,
  emailDigest: string,
): Promise<{ userId: string; isLive: boolean | undefined } | undefined> {
  const reservation = await ctx.store.readStream(emailReservations.streamOf(projectScoped(projectId, emailDigest)));
  const state = foldStream(emailReservationDecider, reservation);
  if (!state.holder) return undefined;
  const holder = await users.load(ctx, state.holder);
  if (holder.status === 'deleted') return { userId: state.holder, isLive: false };
  // Users created before digests were recorded name no digest: they hold the email they reserved.
  const holdsThisEmail = holder.status === 'active' && (holder.primaryEmailDigest === undefined || holder.primaryEmailDigest === emailDigest);
  if (holdsThisEmail) return { userId: state.holder, isLive: true };
  const reservedAt = Date.parse(reservation.at(-1)?.metadata.occurredAt ?? '');
  return { userId: state.holder, isLive: ctx.clock() - reservedAt > ABANDONED_RESERVATION_MS ? false : undefined };
}

/**
 * Reserves `email` for `userId` in the project, on the current secret's stream; returns the
 * email's digest there and the reservation's log position. A holder under a previous secret is as
 * good as one under the current. Throws USER_EMAIL_ALREADY_EXISTS naming the email, as upstream's
 * answer does (the official SDK reads it from the details).
 */
export async function reserveEmail(
  ctx: Pick<AppContext, 'store' | 'clock' | 'hasher'>,
  projectId: string,
  userId: string,
  email: string,
  call: CommandCall,
): Promise<{ emailDigest: string; position: bigint | undefined }> {
  const [digest, ...olderDigests] = emailDigestCandidates(ctx, email);
  if (digest === undefined) throw new Error('the hasher gave no digest');
  try {
    for (const older of olderDigests) {
      const holder = await checkHolder(ctx, projectId, older);
      if (holder && holder.userId !== userId && holder.isLive !== false) throw knownError('USER_EMAIL_ALREADY_EXISTS');
    }
    const checkedHolder = await checkHolder(ctx, projectId, digest);
    const result = await emailReservations.handle(ctx, projectScoped(projectId, digest), () => ({ type: 'Reserve', projectId, userId, checkedHolder }), { ...call, projectId, settle: false });
    return { emailDigest: digest, position: result.position };
  } catch (error) {
    // The decider sees only the email's digest; the answer names the email.
    if (error instanceof KnownError && error.code === 'USER_EMAIL_ALREADY_EXISTS') {
      throw knownError('USER_EMAIL_ALREADY_EXISTS', `A user with email ${JSON.stringify(email)} already exists.`, {
        email,
        would_work_if_email_was_verified: false,
      });
    }
    throw error;
  }
}
