// Read model of sign-in codes, which answers check-code without touching the log: the code's
// digest, status and expiry by nonce digest, and each email's recent wrong guesses (one hash
// field per guess, the key expiring a guess window after the latest). Whether a guess counts is
// decided on the log (commands/sign-in-code/), under policy/sign-in-guesses.ts.
import type { Projector } from './projector.ts';
import type { ReadModelQueries, ReadStep } from '../readmodel/read-model.ts';
import { EMAIL_GUESS_WINDOW_MS, type SignInCodeStatus } from '../policy/sign-in-guesses.ts';

const codeKey = (nonceDigest: string) => `otp:${nonceDigest}`;
const emailGuessesKey = (projectId: string, emailDigest: string) => `otp-email-guesses:${projectId}.${emailDigest}`;

export const signInCodeProjector: Projector = (event, recorded) => {
  switch (event.type) {
    case 'SignInCodeSent': {
      const d = event.data;
      return [
        {
          op: 'hset',
          key: codeKey(d.nonceDigest),
          fields: { projectId: d.projectId, codeDigest: d.codeDigest, emailDigest: d.emailDigest, expiresAt: String(d.expiresAtMillis), status: 'live', wrongGuesses: '0' },
          expireAtMs: d.expiresAtMillis,
        },
      ];
    }
    case 'SignInCodeGuessedWrong':
      return [{ op: 'hset', key: codeKey(event.data.nonceDigest), fields: { wrongGuesses: String(event.data.wrongGuesses) }, expireAtMs: event.data.codeExpiresAtMillis }];
    case 'SignInCodeLocked':
      return [{ op: 'hset', key: codeKey(event.data.nonceDigest), fields: { status: 'locked' }, expireAtMs: event.data.codeExpiresAtMillis }];
    case 'SignInCodeUsed':
      return [{ op: 'hset', key: codeKey(event.data.nonceDigest), fields: { status: 'used' }, expireAtMs: event.data.codeExpiresAtMillis }];
    case 'SignInEmailGuessedWrong':
      return [
        {
          op: 'hset',
          key: emailGuessesKey(event.data.projectId, event.data.emailDigest),
          fields: { [recorded.id]: String(event.data.atMillis) },
          expireAtMs: event.data.atMillis + EMAIL_GUESS_WINDOW_MS,
        },
      ];
    default:
      return [];
  }
};

export interface SignInCodeView {
  projectId: string;
  codeDigest: string;
  emailDigest: string;
  expiresAtMillis: number;
  status: SignInCodeStatus;
}

export async function findSignInCode(rm: ReadModelQueries, projectId: string, nonceDigest: string): Promise<SignInCodeView | undefined> {
  return signInCodeOf(projectId, await rm.hgetall(codeKey(nonceDigest)));
}

/** The read findSignInCode makes, for ReadModel.takeAndRead; its value goes to signInCodeOf. */
export const signInCodeReads = (nonceDigest: string): ReadStep[] => [{ op: 'hgetall', key: codeKey(nonceDigest) }];

/** The code a record read by signInCodeReads describes, if it is of this project. */
export function signInCodeOf(projectId: string, h: Record<string, string> | undefined): SignInCodeView | undefined {
  if (!h || h.projectId !== projectId || !h.codeDigest || !h.emailDigest) return undefined;
  const status = h.status === 'locked' || h.status === 'used' ? h.status : 'live';
  return { projectId, codeDigest: h.codeDigest, emailDigest: h.emailDigest, expiresAtMillis: Number(h.expiresAt), status };
}
