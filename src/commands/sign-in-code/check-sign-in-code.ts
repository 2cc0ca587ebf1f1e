// Checking a sign-in code without using it (check-code): beside signInWithCode, under the same
// rules. Answered from the read model's view of the code, so a check never touches the log
// unless it is a wrong guess, which is recorded like one made at sign-in.
import type { AppContext, Origin } from '../../app-context.ts';
import { isSignInCodeOpen, type SignInCodeStatus } from '../../policy/sign-in-guesses.ts';
import { recordWrongGuess } from './record-wrong-guess.ts';

/** The code a nonce names, as a query found it. */
export interface CheckedCode {
  status: SignInCodeStatus;
  expiresAtMillis: number;
  codeDigest: string;
  emailDigest: string;
}

/**
 * valid: the code would sign in now. closed: used, locked or expired, which no guess can win (the
 * email's budget never makes a right code so). wrong: a wrong OTP for a live code, now recorded.
 */
export type CheckOutcome = 'valid' | 'closed' | 'wrong';

/** `nonceDigest` names the code's stream (the digest under which `found` was found). */
export async function checkSignInCode(ctx: AppContext, projectId: string, code: string, found: CheckedCode, nonceDigest: string, origin: Origin): Promise<CheckOutcome> {
  if (!isSignInCodeOpen(found, ctx.clock())) return 'closed';
  if (ctx.hasher.matches('sign-in-code', code, found.codeDigest)) return 'valid';
  await recordWrongGuess(ctx, projectId, nonceDigest, found, origin);
  return 'wrong';
}
