// Read model of CLI logins, which answers the CLI's poll and shows the approval page what asked:
// polling-code digest -> attempt, and the attempt's status, start time, and the address and user
// agent the CLI started from (the metadata of CliAuthInitiated, which records every request's
// origin). Entries outlive the attempt by a day, so a late poll hears `expired` rather than
// "no such code".
import { decodePersonal, encodePersonal, type Personal } from '../crypto/sealed.ts';
import type { Projector } from './projector.ts';
import type { ReadModelOp, ReadModelQueries, ReadStep, ReadStepValue } from '../readmodel/read-model.ts';
import type { CliAuthStage } from '../policy/cli-auth-poll.ts';

/** How long after its expiry an attempt is still known (and polls answer `expired`). */
export const CLI_AUTH_RETENTION_MS = 24 * 60 * 60_000;

const pollKey = (pollingCodeDigest: string) => `cli-poll:${pollingCodeDigest}`;
const attemptKey = (cliAuthId: string) => `cli-attempt:${cliAuthId}`;

/** The attempt's stage, named as its stream names it (policy/cli-auth-poll.ts). */
export type CliAuthStatus = CliAuthStage;

const statusOf = (cliAuthId: string, status: CliAuthStatus, attemptExpiresAtMillis: number): ReadModelOp[] => [
  { op: 'hset', key: attemptKey(cliAuthId), fields: { status }, expireAtMs: attemptExpiresAtMillis + CLI_AUTH_RETENTION_MS },
];

export const cliAuthProjector: Projector = (event, recorded) => {
  switch (event.type) {
    case 'CliAuthInitiated': {
      const d = event.data;
      const keepUntil = d.expiresAtMillis + CLI_AUTH_RETENTION_MS;
      const fields: Record<string, string> = {
        projectId: d.projectId,
        status: 'pending',
        createdAt: String(d.createdAtMillis),
        expiresAt: String(d.expiresAtMillis),
      };
      // Sealed as in the log: the approval page opens them to show where the CLI started.
      if (recorded.metadata.ip) fields.ip = encodePersonal(recorded.metadata.ip);
      if (recorded.metadata.userAgent) fields.userAgent = encodePersonal(recorded.metadata.userAgent);
      return [
        { op: 'set', key: pollKey(d.pollingCodeDigest), value: d.cliAuthId, expireAtMs: keepUntil },
        { op: 'hset', key: attemptKey(d.cliAuthId), fields, expireAtMs: keepUntil },
      ];
    }
    case 'LoginCodeCompleted':
      return statusOf(event.data.cliAuthId, 'completed', event.data.attemptExpiresAtMillis);
    case 'CliAuthDenied':
      return statusOf(event.data.cliAuthId, 'denied', event.data.attemptExpiresAtMillis);
    case 'CliAuthClaimed':
      return statusOf(event.data.cliAuthId, 'used', event.data.attemptExpiresAtMillis);
    default:
      return [];
  }
};

export interface CliAuthView {
  cliAuthId: string;
  projectId: string;
  status: CliAuthStatus;
  /** Undefined for attempts projected before the start time was kept. */
  createdAtMillis: number | undefined;
  expiresAtMillis: number;
  /** Where the CLI started from, when the request recorded it. */
  ip: Personal | undefined;
  userAgent: Personal | undefined;
}

const STATUSES: readonly string[] = ['pending', 'completed', 'used', 'denied'] satisfies CliAuthStatus[];

/** The attempt, if it is of this project. */
export async function findCliAuth(rm: ReadModelQueries, projectId: string, cliAuthId: string): Promise<CliAuthView | undefined> {
  return cliAuthOf(projectId, cliAuthId, await rm.hgetall(attemptKey(cliAuthId)));
}

function cliAuthOf(projectId: string, cliAuthId: string, h: Record<string, string> | undefined): CliAuthView | undefined {
  if (!h || h.projectId !== projectId || !h.expiresAt) return undefined;
  const status = (STATUSES.includes(h.status ?? '') ? h.status : 'pending') as CliAuthStatus;
  return {
    cliAuthId,
    projectId,
    status,
    createdAtMillis: h.createdAt ? Number(h.createdAt) : undefined,
    expiresAtMillis: Number(h.expiresAt),
    ip: h.ip ? decodePersonal(h.ip) : undefined,
    userAgent: h.userAgent ? decodePersonal(h.userAgent) : undefined,
  };
}

/** The attempt a polling code belongs to, if it is of this project. */
export async function findCliAuthByPollingDigest(rm: ReadModelQueries, projectId: string, digest: string): Promise<CliAuthView | undefined> {
  const cliAuthId = await rm.get(pollKey(digest));
  return cliAuthId ? findCliAuth(rm, projectId, cliAuthId) : undefined;
}

/** The reads findCliAuthByPollingDigest makes, as one chain for ReadModel.takeAndRead. */
export const cliAuthByPollingDigestReads = (digest: string): ReadStep[] => [
  { op: 'get', key: pollKey(digest) },
  { op: 'hgetall', prefix: attemptKey(''), from: 0 },
];

/** The attempt the values of cliAuthByPollingDigestReads describe, if it is of this project. */
export function cliAuthOfReads(projectId: string, [cliAuthId, attempt]: readonly ReadStepValue[]): CliAuthView | undefined {
  return typeof cliAuthId === 'string' && typeof attempt === 'object' ? cliAuthOf(projectId, cliAuthId, attempt) : undefined;
}
