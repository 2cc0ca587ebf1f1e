// A typed login code, under the guess rules (RFC 8628 §5.1: user codes are short, so attempts are
// rate limited; OWASP: throttle per source, and never let strangers lock the owner out).
// - Per address (the guesser's own budget): taken before the code is looked at, given back when
//   the code was real. Spent, it refuses every code from that address, right ones too: that is
//   what bounds how many codes one address can try (see README, Security: Limits).
// - Per project (a budget strangers share): only counted, and only consulted, after a code was
//   found wrong, so it can turn a wrong code's 400 into 429 but never refuse a right one.
import type { AppContext } from '../app-context.ts';
import { knownError } from '../errors.ts';
import type { ProjectView } from '../projections/project-projection.ts';
import { findCliAuthByLoginCode } from '../commands/cli-auth/complete-cli-auth.ts';
import { limitAddressOf } from '../trust-proxy.ts';
import { countFailure, projectLimit, reserveLimits, type RateLimit } from './rate-limit.ts';

export const loginCodeAddressLimits = (project: ProjectView, ip: string): RateLimit[] => [
  projectLimit(project, 'login-code-guesses-per-address', `cli-guess-ip:${project.id}:${limitAddressOf(ip)}`),
];

export const loginCodeProjectLimits = (project: ProjectView): RateLimit[] => [projectLimit(project, 'login-code-guesses-per-project', `cli-guess-project:${project.id}`)];

/**
 * The attempt a typed code names, or INVALID_LOGIN_CODE. A code that names no attempt is a
 * failed guess; a real one (even expired or used: a person's mistake, not a guess) is not.
 */
export async function attemptIdOfGuess(app: AppContext, project: ProjectView, ip: string, loginCode: string): Promise<string> {
  const guess = await reserveLimits(app, loginCodeAddressLimits(project, ip));
  const cliAuthId = await findCliAuthByLoginCode(app, project.id, loginCode);
  if (cliAuthId === undefined) {
    await countFailure(app, loginCodeProjectLimits(project));
    throw knownError('INVALID_LOGIN_CODE');
  }
  await guess.release();
  return cliAuthId;
}
