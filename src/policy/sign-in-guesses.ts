// How many wrong guesses a sign-in code and an email address bear, and when a code can still be
// used: one home for the deciders that enforce these rules on the log (sign-in-code/) and the
// projector and queries that answer check-code from the read model (sign-in-code-projection.ts).
// Pure: time is the caller's nowMs.

/** A code is locked by its fifth wrong guess. */
export const MAX_WRONG_GUESSES_PER_CODE = 5;
/**
 * An email's budget across all its codes: while twenty wrong guesses within an hour stand, the
 * first wrong guess at any of its codes locks that code. Sending a new code does not reset it.
 */
export const MAX_WRONG_GUESSES_PER_EMAIL = 20;
export const EMAIL_GUESS_WINDOW_MS = 60 * 60_000;

export type SignInCodeStatus = 'live' | 'locked' | 'used';

export const isSignInCodeExpired = (code: { expiresAtMillis: number }, nowMs: number): boolean => nowMs >= code.expiresAtMillis;

/** Whether the code could still sign in (so a guess at it counts): live and not expired. */
export const isSignInCodeOpen = (code: { status: SignInCodeStatus | 'none'; expiresAtMillis: number }, nowMs: number): boolean =>
  code.status === 'live' && !isSignInCodeExpired(code, nowMs);

/** Whether the wrong guess that makes `wrongGuesses` also locks the code. */
export const wrongGuessLocksCode = (wrongGuesses: number, emailBudgetSpent: boolean): boolean =>
  wrongGuesses >= MAX_WRONG_GUESSES_PER_CODE || emailBudgetSpent;

/** Whether the email's wrong guesses (their times, in any order) within the last hour have used up its budget. */
export function isEmailGuessBudgetSpent(wrongGuessTimes: readonly number[], nowMs: number): boolean {
  const recent = wrongGuessTimes.filter((at) => at > nowMs - EMAIL_GUESS_WINDOW_MS);
  return recent.length >= MAX_WRONG_GUESSES_PER_EMAIL;
}
