// Signing in with a code (OTP + nonce, or the magic link's code): decided on the code's stream,
// so a code is used exactly once however many sign-ins race. The use is appended first, naming
// the session to be minted; only the winner then finds or creates the user and creates the
// session. (A crash between the two leaves a used code and no session: the person asks for a
// new code. The other order would create users and sessions for losing sign-ins.)
import { randomUUID } from 'node:crypto';
import type { AppContext, Origin } from '../app-context.ts';
import { knownError, KnownError } from '../errors.ts';
import { findByDigests } from '../crypto/digests.ts';
import { signInCodes } from '../commands/aggregates.ts';
import { createUser, findUserIdByEmail } from '../commands/user/create-user.ts';
import { createSession } from '../commands/session/create-session.ts';
import { DEFAULT_SESSION_MS } from '../commands/session/session-lifetimes.ts';
import { recordWrongGuess } from '../commands/sign-in-code/record-wrong-guess.ts';
import { nonceDigestOf, nonceOf } from '../commands/sign-in-code/sign-in-code-streams.ts';
import { ensureEmailAllowsSignIn } from '../commands/sign-in-code/email-allows-sign-in.ts';

export interface SignedIn {
  refreshToken: string;
  accessToken: string;
  userId: string;
  isNewUser: boolean;
}

export async function signInWithCode(ctx: AppContext, projectId: string, code: string, origin: Origin): Promise<SignedIn> {
  // The code's stream is named by its nonce's digest: the current secret's, or (a code sent just
  // before AUTHLOG_SECRET was rotated) the previous one's.
  const found = await findByDigests(ctx.hasher.candidates('sign-in-nonce', nonceOf(code)), async (digest) => {
    const candidate = await signInCodes.load(ctx, digest);
    return candidate.status === 'none' ? undefined : candidate;
  });
  const nonceDigest = found?.digest ?? nonceDigestOf(ctx, nonceOf(code));
  const state = found?.value;
  if (!state || state.projectId !== projectId) throw knownError('VERIFICATION_CODE_NOT_FOUND');
  // A locked code answers the same whatever was typed: were a right guess answered differently
  // from a wrong one, guessing while locked (when guesses are not counted) would find the OTP.
  // The email's budget, which strangers can spend, never refuses the right code: while it is
  // spent, a wrong guess locks its code at once (record-wrong-guess.ts).
  if (state.status === 'locked') throw knownError('VERIFICATION_CODE_MAX_ATTEMPTS_REACHED');

  // A wrong OTP for a real nonce is a guess: counted, and answered as an unknown code.
  if (!ctx.hasher.matches('sign-in-code', code, state.codeDigest)) {
    if (state.status === 'live') await recordWrongGuess(ctx, projectId, nonceDigest, state, origin);
    throw knownError('VERIFICATION_CODE_NOT_FOUND');
  }

  // The address, sealed under its own key: erased, the code is as good as gone.
  const email = await ctx.personal.tryOpen(state.email);
  if (email === undefined) throw knownError('VERIFICATION_CODE_NOT_FOUND');

  // Before the code is used: refused, it stays usable once the address is verified.
  await ensureEmailAllowsSignIn(ctx, projectId, email);

  const sessionId = randomUUID();
  // What the next request reads is the session created below, which is waited for.
  await signInCodes.handle(ctx, nonceDigest, (nowMs) => ({ type: 'UseSignInCode', projectId, sessionId, nowMs }), { origin, projectId, settle: false });

  let userId = await findUserIdByEmail(ctx, projectId, email);
  let isNewUser = false;
  if (userId === undefined) {
    try {
      userId = (await createUser(ctx, { projectId, primaryEmail: email, displayName: null, primaryEmailVerified: true, origin: 'sign-in-code' }, origin)).userId;
      isNewUser = true;
    } catch (error) {
      // Another code of the same email signed up in the same instant: that user it is.
      if (!(error instanceof KnownError && error.code === 'USER_EMAIL_ALREADY_EXISTS')) throw error;
      userId = await findUserIdByEmail(ctx, projectId, email);
      if (userId === undefined) throw error;
    }
  }
  const session = await createSession(
    ctx,
    { projectId, userId, expiresInMs: DEFAULT_SESSION_MS, isImpersonation: false, via: 'sign-in-code', sessionId, signInCodeStream: signInCodes.streamOf(nonceDigest) },
    origin,
  );
  return { refreshToken: session.refreshToken, accessToken: session.accessToken, userId, isNewUser };
}
