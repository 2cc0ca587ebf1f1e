// The guess budget of one email address in one project, across all its codes: the stream keeps
// the times of its recent wrong guesses; what they mean is policy/sign-in-guesses.ts's.
import type { Decider } from '../handler.ts';
import type { EventOf } from '../../events/catalogue.ts';
import { isEmailGuessBudgetSpent, MAX_WRONG_GUESSES_PER_EMAIL } from '../../policy/sign-in-guesses.ts';

export interface SignInEmailState {
  /** Times of the most recent wrong guesses, oldest first (at most MAX_WRONG_GUESSES_PER_EMAIL). */
  recentWrongGuessesAt: readonly number[];
}

export type SignInEmailCommand = { type: 'RecordEmailWrongGuess'; projectId: string; emailDigest: string; nonceDigest: string; nowMs: number };

export const isEmailLocked = (state: SignInEmailState, nowMs: number): boolean => isEmailGuessBudgetSpent(state.recentWrongGuessesAt, nowMs);

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
