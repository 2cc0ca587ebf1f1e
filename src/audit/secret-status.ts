// How many live things still depend on each secret of the keyring: what `authlog secret status`
// reports, so an operator knows when AUTHLOG_SECRET_PREVIOUS may be dropped. A digest alone does
// not say which secret made it; the fingerprint recorded on its event does (crypto/secret-id.ts).
// For events written before fingerprints, an email reservation is re-checked against its holder's
// email (sealed in the log, so it can be opened); every other digest is of a random secret nobody
// kept, so those are counted as unknown.
import type { OpenLog } from '../backends.ts';
import { createHasher } from '../crypto/digests.ts';
import { secretIdOf } from '../crypto/secret-id.ts';
import { streamName } from '../events/streams.ts';
import type { Personal } from '../crypto/sealed.ts';
import { liveDigests, type EmailReservation, type LiveThing } from './live-digests.ts';
import { normaliseEmail } from '../crypto/email-digests.ts';

export const DEPENDENCE_KINDS = ['project API keys', 'session refresh tokens', 'pending CLI logins', 'sign-in codes', 'email reservations', 'data keys'] as const;
export type DependenceKind = (typeof DEPENDENCE_KINDS)[number];

export interface Tally {
  kind: DependenceKind;
  current: number;
  previous: number;
  /** Written before secret ids were recorded: they depend on whichever secret was current then. */
  unknown: number;
  /** Made under a secret that is in neither AUTHLOG_SECRET nor AUTHLOG_SECRET_PREVIOUS: they already work nowhere. */
  neither: number;
}

export interface SecretStatus {
  currentSecretId: string;
  previousSecretIds: string[];
  kinds: Tally[];
  /** True only when nothing live depends, or may depend (unknown), on the previous secret. */
  previousRemovable: boolean;
}

type Under = 'current' | 'previous' | 'unknown' | 'neither';

function tally(kind: DependenceKind, unders: readonly Under[]): Tally {
  const t: Tally = { kind, current: 0, previous: 0, unknown: 0, neither: 0 };
  for (const u of unders) t[u]++;
  return t;
}

export async function secretStatus(log: Pick<OpenLog, 'store' | 'personal' | 'secret'>, nowMs: number): Promise<SecretStatus> {
  const currentSecretId = secretIdOf(log.secret.value);
  const previousSecretIds = log.secret.previous.map(secretIdOf);
  const underOf = ({ secretId }: LiveThing): Under =>
    secretId === undefined ? 'unknown' : secretId === currentSecretId ? 'current' : previousSecretIds.includes(secretId) ? 'previous' : 'neither';

  const live = await liveDigests(log.store.readAll(), nowMs);
  const hasher = createHasher(log.secret.value, log.secret.previous);

  async function reservationUnder(r: EmailReservation): Promise<Under> {
    const known = underOf(r);
    if (known !== 'unknown') return known;
    const created = (await log.store.readStream(streamName('user', r.holder))).find((e) => e.type === 'UserCreated');
    const sealed = (created?.data as { primaryEmail?: unknown } | undefined)?.primaryEmail;
    const email = sealed === undefined || sealed === null ? undefined : await log.personal.tryOpen(sealed as Personal);
    // Erased, or the email changed since: nothing to re-check it with.
    if (email === undefined) return 'unknown';
    const normalised = normaliseEmail(email);
    if (hasher.isCurrent('email', normalised, r.digest)) return 'current';
    return hasher.matches('email', normalised, r.digest) ? 'previous' : 'unknown';
  }
  const reservations: Under[] = [];
  for (const r of live.emailReservations) reservations.push(await reservationUnder(r));

  const dataKeys: Under[] = [];
  for await (const key of log.personal.keys.list()) {
    const under = log.personal.wrappedUnder(key);
    dataKeys.push(under === 'none' ? 'neither' : under);
  }

  const kinds = [
    tally('project API keys', live.apiKeys.map(underOf)),
    tally('session refresh tokens', live.sessions.map(underOf)),
    tally('pending CLI logins', live.cliLogins.map(underOf)),
    tally('sign-in codes', live.signInCodes.map(underOf)),
    tally('email reservations', reservations),
    tally('data keys', dataKeys),
  ];
  return { currentSecretId, previousSecretIds, kinds, previousRemovable: kinds.every((k) => k.previous === 0 && k.unknown === 0) };
}
