// Read model of sign-in codes, which answers check-code without touching the log: the code's
// digest, status and expiry by nonce digest. Whether a guess counts, and an email's guess budget,
// are decided on the log (commands/sign-in-code/, under policy/sign-in-guesses.ts), so no email's
// guesses are kept here.
import type { Projector } from './projector.ts';
import type { ReadModelQueries, ReadStep } from '../readmodel/read-model.ts';
import type { SignInCodeStatus } from '../policy/sign-in-guesses.ts';

const codeKey = (nonceDigest: string) => `otp:${nonceDigest}`;

export const signInCodeProjector: Projector = (event) => {
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
