// Where a CLI login attempt stands for the CLI that polls it: one home for the poll route (which
// reads the attempt from the read model), the claim (which decides on the attempt's stream) and
// the decider (which claims only what this says is claimable). Pure: time is the caller's nowMs.

/** The attempt's own stage, as its stream and the read model both name it (used = claimed by a poll). */
export type CliAuthStage = 'pending' | 'completed' | 'used' | 'denied';

/** claimable: completed and not expired; the one poll that claims it gets the token. */
export type CliAuthPollStatus = 'pending' | 'claimable' | 'used' | 'expired' | 'denied';

export const isCliAuthExpired = (attempt: { expiresAtMillis: number }, nowMs: number): boolean => nowMs >= attempt.expiresAtMillis;

export function cliAuthPollStatus(attempt: { status: CliAuthStage; expiresAtMillis: number }, nowMs: number): CliAuthPollStatus {
  // Expiry comes first: an attempt completed but not claimed in time is expired.
  if (isCliAuthExpired(attempt, nowMs)) return 'expired';
  switch (attempt.status) {
    case 'pending':
      return 'pending';
    case 'completed':
      return 'claimable';
    case 'used':
    case 'denied':
      return attempt.status;
  }
}

/** Only a live pending attempt can be decided on by a person (approved or denied). */
export const isCliAuthOpen = (attempt: { status: CliAuthStage | 'none'; expiresAtMillis: number }, nowMs: number): boolean =>
  attempt.status === 'pending' && !isCliAuthExpired(attempt, nowMs);
