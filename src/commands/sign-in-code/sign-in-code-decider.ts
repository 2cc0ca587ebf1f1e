// A sign-in code: sent once; each wrong guess is recorded, and the fifth locks it (the first,
// while the email's budget is spent); used once, by one sign-in, before it expires. Whether the guess is right is decided by the caller comparing
// digests (constant time); what that means for the code is decided here, under the guess rules
// of policy/sign-in-guesses.ts.
import type { Personal } from '../../crypto/sealed.ts';
import type { Decider } from '../handler.ts';
import type { EventData, EventOf } from '../../events/catalogue.ts';
import { knownError } from '../../errors.ts';
import { isSignInCodeExpired, isSignInCodeOpen, wrongGuessLocksCode, type SignInCodeStatus } from '../../policy/sign-in-guesses.ts';

export interface SignInCodeState {
  status: 'none' | SignInCodeStatus;
  projectId: string;
  nonceDigest: string;
  codeDigest: string;
  /** Sealed under the address's subject; opened only by the sign-in that uses the code. */
  email: Personal;
  emailDigest: string;
  expiresAtMillis: number;
  wrongGuesses: number;
}

export type SignInCodeCommand =
  | { type: 'SendSignInCode'; data: EventData<'SignInCodeSent'> }
  | {
      type: 'RecordWrongGuess';
      projectId: string;
      nowMs: number;
      /**
       * The email's guess budget is spent (decided by the caller on the email's stream): strangers
       * may have spent it, so it must never refuse the right code; instead one wrong guess is
       * enough to lock a code while it lasts.
       */
      emailBudgetSpent: boolean;
    }
  | { type: 'UseSignInCode'; projectId: string; sessionId: string; nowMs: number };

type SignInCodeEvent = EventOf<'SignInCodeSent' | 'SignInCodeGuessedWrong' | 'SignInCodeLocked' | 'SignInCodeUsed'>;

export const signInCodeDecider: Decider<SignInCodeState, SignInCodeCommand, SignInCodeEvent> = {
  initialState: () => ({
    status: 'none',
    projectId: '',
    nonceDigest: '',
    codeDigest: '',
    email: '',
    emailDigest: '',
    expiresAtMillis: 0,
    wrongGuesses: 0,
  }),

  evolve(state, event) {
    switch (event.type) {
      case 'SignInCodeSent': {
        const d = event.data;
        return { ...state, status: 'live', projectId: d.projectId, nonceDigest: d.nonceDigest, codeDigest: d.codeDigest, email: d.email, emailDigest: d.emailDigest, expiresAtMillis: d.expiresAtMillis };
      }
      case 'SignInCodeGuessedWrong':
        return { ...state, wrongGuesses: event.data.wrongGuesses };
      case 'SignInCodeLocked':
        return { ...state, status: 'locked' };
      case 'SignInCodeUsed':
        return { ...state, status: 'used' };
      default:
        return state;
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'SendSignInCode':
        // The nonce is 39 random characters: an existing stream here is a bug.
        if (state.status !== 'none') throw new Error('sign-in code stream exists already');
        return [{ type: 'SignInCodeSent', data: command.data }];
      case 'RecordWrongGuess': {
        // Guesses against a code that cannot be used any more need no record: they cannot win.
        if (!isSignInCodeOpen(state, command.nowMs) || state.projectId !== command.projectId) return [];
        const wrongGuesses = state.wrongGuesses + 1;
        const common = { projectId: state.projectId, nonceDigest: state.nonceDigest, atMillis: command.nowMs, codeExpiresAtMillis: state.expiresAtMillis };
        const events: SignInCodeEvent[] = [{ type: 'SignInCodeGuessedWrong', data: { ...common, wrongGuesses } }];
        if (wrongGuessLocksCode(wrongGuesses, command.emailBudgetSpent)) events.push({ type: 'SignInCodeLocked', data: { ...common, reason: 'too-many-wrong-guesses' } });
        return events;
      }
      case 'UseSignInCode':
        if (state.status === 'none' || state.projectId !== command.projectId) throw knownError('VERIFICATION_CODE_NOT_FOUND');
        if (state.status === 'used') throw knownError('VERIFICATION_CODE_ALREADY_USED');
        if (state.status === 'locked') throw knownError('VERIFICATION_CODE_MAX_ATTEMPTS_REACHED');
        if (isSignInCodeExpired(state, command.nowMs)) throw knownError('VERIFICATION_CODE_EXPIRED');
        return [
          {
            type: 'SignInCodeUsed',
            data: {
              projectId: state.projectId,
              nonceDigest: state.nonceDigest,
              sessionId: command.sessionId,
              usedAtMillis: command.nowMs,
              codeExpiresAtMillis: state.expiresAtMillis,
            },
          },
        ];
    }
  },
};
