// The digests a user's primary email may be known by, for the flows that release or erase its
// reservations (deleting, erasing, changing the address).
import type { AppContext } from '../../app-context.ts';
import type { UserState } from './user-decider.ts';
import { emailDigestCandidates } from '../../crypto/email-digests.ts';

/**
 * Every digest the user's primary email may be known by: under the current secret and the previous
 * one (AUTHLOG_SECRET_PREVIOUS), and the one recorded at creation. Read while the user's key can
 * still open the email; once it is erased, only the recorded digest remains.
 */
export async function emailDigestsOf(ctx: Pick<AppContext, 'hasher' | 'personal'>, state: UserState): Promise<string[]> {
  const email = state.primaryEmail === null ? undefined : await ctx.personal.tryOpen(state.primaryEmail);
  const digests = email === undefined ? [] : emailDigestCandidates(ctx, email);
  if (state.primaryEmailDigest !== undefined && !digests.includes(state.primaryEmailDigest)) digests.push(state.primaryEmailDigest);
  return digests;
}
