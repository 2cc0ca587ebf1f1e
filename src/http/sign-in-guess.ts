// A typed sign-in code, under the guess rules (OWASP authentication guidance: throttle by source
// and by account, and never let a stranger lock the owner out):
// - per address: taken before the code is looked at (unknown nonces count too);
// - per (email, address): taken once the nonce names a code, so guesses at one email from one
//   address are bounded however many codes are sent, and a victim asking from their own address
//   is not refused for guesses made from others';
// - per code (5 wrong lock it) and per email (while 20 wrong in an hour stand, the first wrong
//   guess locks a code) are decided on the log (record-wrong-guess.ts) and only ever stop wrong
//   guesses: the right code of a live code signs in.
// Each reservation is given back when the outcome is not a wrong guess.
import type { AppContext } from '../app-context.ts';
import type { ProjectView } from '../projections/project-projection.ts';
import { findSignInCode, signInCodeOf, signInCodeReads, type SignInCodeView } from '../projections/sign-in-code-projection.ts';
import { nonceDigestOf, nonceOf } from '../commands/sign-in-code/sign-in-code-streams.ts';
import { limitAddressOf } from '../trust-proxy.ts';
import { findByDigests } from '../crypto/digests.ts';
import { projectLimit, reserveLimits, reserveWithReadsThen, type LimitByReadValue, type LimitReservation, type RateLimit } from './rate-limit.ts';

export const signInGuessLimits = (project: ProjectView, ip: string): RateLimit[] => [
  projectLimit(project, 'sign-in-guesses-per-address', `otp-guess-ip:${project.id}:${limitAddressOf(ip)}`),
];

/**
 * The per-(email, address) budget, keyed `otp-guess-email-ip:<digest of project and address>:<email
 * digest>`: the email digest comes last because the read model fills it in from the code record
 * it has just read (reserveWithReadsThen), and it is a digest already, so no part is in plain text.
 */
function emailGuessLimit(app: AppContext, project: ProjectView, ip: string): LimitByReadValue & { keyOf(emailDigest: string): RateLimit } {
  // Its own input to the digest ("email-guesses:…"), so that the address part differs from the
  // per-address bucket's: a reader of Redis cannot tie an address's buckets together by it.
  const keyPrefix = `otp-guess-email-ip:${app.hasher.digest('rate-limit-key', `email-guesses:${project.id}:${limitAddressOf(ip)}`)}:`;
  const { limit, windowMs } = projectLimit(project, 'sign-in-guesses-per-email-address', keyPrefix);
  return { keyPrefix, from: 0, field: 'emailDigest', limit, windowMs, keyOf: (emailDigest) => ({ key: keyPrefix + emailDigest, stored: true, limit, windowMs }) };
}

export interface SignInGuess extends LimitReservation {
  /** The code the nonce names, as the read model has it; undefined for an unknown nonce. */
  found: SignInCodeView | undefined;
  /** The digest naming the code's stream: the current secret's, or the previous one's for a code sent before a rotation. */
  nonceDigest: string;
}

/** Reserves the guess budgets for `code` (OTP + nonce); throws 429 when one is spent. */
export async function reserveSignInGuess(app: AppContext, project: ProjectView, ip: string, code: string): Promise<SignInGuess> {
  const [current, ...older] = app.hasher.candidates('sign-in-nonce', nonceOf(code));
  if (current === undefined) throw new Error('hasher: no candidate digest');
  // The address's unit and the code's record in one step: one round trip to Redis. A code sent
  // before AUTHLOG_SECRET was rotated is found under the previous secret's digest, read after.
  const [addressLimit] = signInGuessLimits(project, ip);
  if (!addressLimit) throw new Error('sign-in guess: no per-address limit');
  // Both budgets and the code's record in one step: the (email, address) unit is taken from the
  // bucket the record's email digest names, when there is a record.
  const byEmail = emailGuessLimit(app, project, ip);
  const { values, reservation, secondTaken } = await reserveWithReadsThen(app, addressLimit, signInCodeReads(current), byEmail);
  const atCurrent = signInCodeOf(project.id, typeof values[0] === 'object' ? values[0] : undefined);
  if (atCurrent && secondTaken) return { found: atCurrent, nonceDigest: current, release: () => reservation.release() };
  // A record of another project, or none under the current secret: what was taken for it goes
  // back, and a code sent before a rotation is looked up under the previous secret's digest.
  let byAddress = reservation;
  if (secondTaken) {
    await reservation.release();
    byAddress = await reserveLimits(app, [addressLimit]);
  }
  const lookup = atCurrent ? { value: atCurrent, digest: current } : await findByDigests(older, (d) => findSignInCode(app.readModel, project.id, d));
  const found = lookup?.value;
  const nonceDigest = lookup?.digest ?? nonceDigestOf(app, nonceOf(code));
  if (!found) return { found, nonceDigest, release: () => byAddress.release() };
  let byEmailUnit: LimitReservation;
  try {
    byEmailUnit = await reserveLimits(app, [byEmail.keyOf(found.emailDigest)]);
  } catch (error) {
    await byAddress.release(); // refused before any guess was evaluated
    throw error;
  }
  return {
    found,
    nonceDigest,
    async release() {
      await Promise.all([byAddress.release(), byEmailUnit.release()]);
    },
  };
}
