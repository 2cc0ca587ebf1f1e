// Read model of CLI logins, which answers the CLI's poll: polling-code digest -> attempt, and the
// attempt's status. Entries outlive the attempt by a day, so a late poll hears `expired` rather
// than "no such code".
import type { Projector } from './projector.ts';
import type { ReadModelQueries } from '../readmodel/read-model.ts';

/** How long after its expiry an attempt is still known (and polls answer `expired`). */
export const CLI_AUTH_RETENTION_MS = 24 * 60 * 60_000;

const pollKey = (pollingCodeDigest: string) => `cli-poll:${pollingCodeDigest}`;
const attemptKey = (cliAuthId: string) => `cli-attempt:${cliAuthId}`;

export type CliAuthStatus = 'pending' | 'completed' | 'used';

export const cliAuthProjector: Projector = (event) => {
  switch (event.type) {
    case 'CliAuthInitiated': {
      const d = event.data;
      const keepUntil = d.expiresAtMillis + CLI_AUTH_RETENTION_MS;
      return [
        { op: 'set', key: pollKey(d.pollingCodeDigest), value: d.cliAuthId, expireAtMs: keepUntil },
        {
          op: 'hset',
          key: attemptKey(d.cliAuthId),
          fields: { projectId: d.projectId, status: 'pending', expiresAt: String(d.expiresAtMillis) },
          expireAtMs: keepUntil,
        },
      ];
    }
    case 'LoginCodeCompleted':
      return [
        {
          op: 'hset',
          key: attemptKey(event.data.cliAuthId),
          fields: { status: 'completed' },
          expireAtMs: event.data.attemptExpiresAtMillis + CLI_AUTH_RETENTION_MS,
        },
      ];
    case 'CliAuthClaimed':
      return [
        {
          op: 'hset',
          key: attemptKey(event.data.cliAuthId),
          fields: { status: 'used' },
          expireAtMs: event.data.attemptExpiresAtMillis + CLI_AUTH_RETENTION_MS,
        },
      ];
    default:
      return [];
  }
};

export interface CliAuthView {
  cliAuthId: string;
  projectId: string;
  status: CliAuthStatus;
  expiresAtMillis: number;
}

/** The attempt a polling code belongs to, if it is of this project. */
export async function findCliAuthByPollingDigest(rm: ReadModelQueries, projectId: string, digest: string): Promise<CliAuthView | undefined> {
  const cliAuthId = await rm.get(pollKey(digest));
  if (!cliAuthId) return undefined;
  const h = await rm.hgetall(attemptKey(cliAuthId));
  if (!h || h.projectId !== projectId || !h.expiresAt) return undefined;
  const status = h.status === 'completed' || h.status === 'used' ? h.status : 'pending';
  return { cliAuthId, projectId, status, expiresAtMillis: Number(h.expiresAt) };
}
