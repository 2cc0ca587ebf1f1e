// The guess budget of one email address in one project, across all its codes: 20 wrong guesses
// within an hour lock every code of that address until the oldest of them is an hour old.
// Sending a new code does not reset it.
import type { Decider } from '../handler.ts';
import type { EventOf } from '../../events/catalogue.ts';

export const MAX_WRONG_GUESSES_PER_EMAIL = 20;
export const EMAIL_GUESS_WINDOW_MS = 60 * 60_000;

export interface SignInEmailState {
  /** Times of the most recent wrong guesses, oldest first (at most MAX_WRONG_GUESSES_PER_EMAIL). */
  recentWrongGuessesAt: readonly number[];
}

export type SignInEmailCommand = { type: 'RecordEmailWrongGuess'; projectId: string; emailDigest: string; nonceDigest: string; nowMs: number };

export function isEmailLocked(state: SignInEmailState, nowMs: number): boolean {
  const recent = state.recentWrongGuessesAt.filter((at) => at > nowMs - EMAIL_GUESS_WINDOW_MS);
  return recent.length >= MAX_WRONG_GUESSES_PER_EMAIL;
}

export const signInEmailDecider: Decider<SignInEmailState, SignInEmailCommand, EventOf<'SignInEmailGuessedWrong'>> = {
  initialState: () => ({ recentWrongGuessesAt: [] }),

  evolve(state, event) {
    if (event.type !== 'SignInEmailGuessedWrong') return state;
    return { recentWrongGuessesAt: [...state.recentWrongGuessesAt, event.data.atMillis].slice(-MAX_WRONG_GUESSES_PER_EMAIL) };
  },

  decide(command) {
    return [
      {
        type: 'SignInEmailGuessedWrong',
        data: { projectId: command.projectId, emailDigest: command.emailDigest, nonceDigest: command.nonceDigest, atMillis: command.nowMs },
      },
    ];
  },
};
