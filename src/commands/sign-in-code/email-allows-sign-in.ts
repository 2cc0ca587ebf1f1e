// A sign-in code signs the holder of its address in, or signs them up. An address that is an
// existing user's primary email but not verified proves nothing about that account: whoever
// reads the mail may not be the person who holds the account (a server created it, or the user
// typed someone else's address). As upstream, such an address is refused, 409
// USER_EMAIL_ALREADY_EXISTS with would_work_if_email_was_verified, both when a code is asked for and
// when one is used, so the account is never signed in through it.
import type { AppContext } from '../../app-context.ts';
import { knownError } from '../../errors.ts';
import { findEmailHolder } from '../user/create-user.ts';

export async function ensureEmailAllowsSignIn(ctx: Pick<AppContext, 'store' | 'hasher'>, projectId: string, email: string): Promise<void> {
  const holder = await findEmailHolder(ctx, projectId, email);
  if (!holder || holder.state.primaryEmailVerified) return;
  throw knownError(
    'USER_EMAIL_ALREADY_EXISTS',
    `A user with email ${JSON.stringify(email)} already exists but the email is not verified. Please login to your existing account with the method you used to sign up, and then verify your email to sign in with this login method.`,
    { email, would_work_if_email_was_verified: true },
  );
}
