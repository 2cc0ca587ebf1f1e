// Read model of sessions: the session record (absolute expiry from the event), the index from a
// refresh-token digest to its session, and each user's session ids. Revocation removes the
// record and the index entry, so refresh answers 401 from the moment the revocation is visible.
// A session that ends with its parent (an impersonation's descendants) is found only while every
// such ancestor is: revoking the parent ends the children at the same instant, without an event
// per child.
import type { Projector } from './projector.ts';
import type { ReadModelQueries, ReadStep, ReadStepValue } from '../readmodel/read-model.ts';
import { termsOf } from '../policy/session-authority.ts';

const sessionKey = (sessionId: string) => `session:${sessionId}`;
const refreshKey = (digest: string) => `refresh:${digest}`;
const userSessionsKey = (userId: string) => `user-sessions:${userId}`;
/** A refresh token rotated out: presenting it is a retry (within the grace) or reuse. */
const retiredRefreshKey = (digest: string) => `retired-refresh:${digest}`;

export const sessionProjector: Projector = (event) => {
  switch (event.type) {
    case 'SessionCreated': {
      const d = event.data;
      const terms = termsOf(d);
      return [
        {
          op: 'hset',
          key: sessionKey(d.sessionId),
          fields: {
            projectId: d.projectId,
            userId: d.userId,
            createdAt: String(d.createdAtMillis),
            expiresAt: String(d.expiresAtMillis),
            isImpersonation: d.isImpersonation ? '1' : '0',
            startedByUser: terms.startedByUser ? '1' : '0',
            parentSessionId: terms.parentSessionId ?? '',
            endsWithParent: terms.endsWithParent ? '1' : '0',
            // The RFC 8693 actor chain every access token of an impersonation session names.
            actorChain: terms.actorChain.join(' '),
            via: d.via,
          },
          expireAtMs: d.expiresAtMillis,
        },
        { op: 'set', key: refreshKey(d.refreshTokenDigest), value: d.sessionId, expireAtMs: d.expiresAtMillis },
        { op: 'sadd', key: userSessionsKey(d.userId), member: d.sessionId },
      ];
    }
    case 'SessionActivityRecorded':
      return [
        {
          op: 'hset',
          key: sessionKey(event.data.sessionId),
          fields: { lastUsedAt: String(event.data.atMillis) },
          expireAtMs: event.data.sessionExpiresAtMillis,
        },
      ];
    case 'SessionRefreshTokenRotated': {
      const d = event.data;
      return [
        { op: 'del', key: refreshKey(d.previousDigest) },
        { op: 'set', key: refreshKey(d.refreshTokenDigest), value: d.sessionId, expireAtMs: d.sessionExpiresAtMillis },
        { op: 'set', key: retiredRefreshKey(d.previousDigest), value: d.sessionId, expireAtMs: d.sessionExpiresAtMillis },
      ];
    }
    case 'SessionRevoked':
      return [
        { op: 'del', key: sessionKey(event.data.sessionId) },
        { op: 'del', key: refreshKey(event.data.refreshTokenDigest) },
        { op: 'srem', key: userSessionsKey(event.data.userId), member: event.data.sessionId },
      ];
    case 'UserDeleted':
      return [{ op: 'del', key: userSessionsKey(event.data.userId) }];
    default:
      return [];
  }
};

export interface SessionView {
  id: string;
  projectId: string;
  userId: string;
  createdAtMillis: number;
  expiresAtMillis: number;
  lastUsedAtMillis: number | undefined;
  isImpersonation: boolean;
  /** Started by the user themselves (session-authority.ts: the only sessions with admin rights). */
  startedByUser: boolean;
  parentSessionId: string | undefined;
  /** The RFC 8693 actor chain of its tokens, current actor first; empty when it acts for nobody. */
  actorChain: string[];
  /** How it came to be; undefined for a record projected before it was kept. */
  via: string | undefined;
}

/** Bounds the walk up a session's ancestors (see parent-session.ts). */
const MAX_ANCESTORS = 64;

/**
 * The live (not revoked, not expired) session, if it belongs to this project — and, when it ends
 * with its parent, only while every such ancestor is live too.
 */
export async function findSession(rm: ReadModelQueries, projectId: string, sessionId: string): Promise<SessionView | undefined> {
  const found = await sessionRecord(rm, projectId, sessionId);
  return found && withLiveAncestors(rm, projectId, found);
}

async function withLiveAncestors(rm: ReadModelQueries, projectId: string, found: { view: SessionView; endsWithParent: boolean }): Promise<SessionView | undefined> {
  let { endsWithParent, view: ancestor } = found;
  for (let depth = 0; endsWithParent; depth++) {
    if (ancestor.parentSessionId === undefined || depth >= MAX_ANCESTORS) return undefined;
    const parent = await sessionRecord(rm, projectId, ancestor.parentSessionId);
    if (!parent) return undefined;
    ({ endsWithParent, view: ancestor } = parent);
  }
  return found.view;
}

/**
 * The reads findSessionByRefreshDigest makes, as one chain for ReadModel.takeAndRead (the index
 * entry, then the session record); the session's ancestors, when it ends with them, are read after.
 */
export const sessionByRefreshDigestReads = (digest: string): ReadStep[] => [
  { op: 'get', key: refreshKey(digest) },
  { op: 'hgetall', prefix: sessionKey(''), from: 0 },
];

/** The live session the values of sessionByRefreshDigestReads describe (reading its ancestors from `rm` when it ends with them). */
export async function sessionOfReads(rm: ReadModelQueries, projectId: string, [sessionId, record]: readonly ReadStepValue[]): Promise<SessionView | undefined> {
  if (typeof sessionId !== 'string' || typeof record !== 'object') return undefined;
  const found = sessionRecordOf(projectId, sessionId, record);
  return found && withLiveAncestors(rm, projectId, found);
}

async function sessionRecord(rm: ReadModelQueries, projectId: string, sessionId: string): Promise<{ view: SessionView; endsWithParent: boolean } | undefined> {
  return sessionRecordOf(projectId, sessionId, await rm.hgetall(sessionKey(sessionId)));
}

function sessionRecordOf(projectId: string, sessionId: string, h: Record<string, string> | undefined): { view: SessionView; endsWithParent: boolean } | undefined {
  // A record holding only lastUsedAt (its creation never projected) is not a session.
  if (!h || h.projectId !== projectId || !h.userId) return undefined;
  // Records projected before the chain was kept hold the one actor as actorSub.
  const chain = h.actorChain !== undefined ? h.actorChain : (h.actorSub ?? '');
  return {
    endsWithParent: h.endsWithParent === '1',
    view: {
      id: sessionId,
      projectId,
      userId: h.userId,
      createdAtMillis: Number(h.createdAt),
      expiresAtMillis: Number(h.expiresAt),
      lastUsedAtMillis: h.lastUsedAt ? Number(h.lastUsedAt) : undefined,
      isImpersonation: h.isImpersonation === '1',
      startedByUser: h.startedByUser === '1',
      parentSessionId: h.parentSessionId || undefined,
      actorChain: chain === '' ? [] : chain.split(' '),
      via: h.via,
    },
  };
}

export async function findSessionByRefreshDigest(rm: ReadModelQueries, projectId: string, digest: string): Promise<SessionView | undefined> {
  const sessionId = await rm.get(refreshKey(digest));
  return sessionId ? findSession(rm, projectId, sessionId) : undefined;
}

/** The session a rotated-out refresh token belonged to (whether it is still live or not). */
export async function findRetiredRefreshSessionId(rm: ReadModelQueries, digest: string): Promise<string | undefined> {
  return rm.get(retiredRefreshKey(digest));
}

/** The user's live sessions, oldest first. */
export async function listUserSessions(rm: ReadModelQueries, projectId: string, userId: string): Promise<SessionView[]> {
  const ids = await rm.smembers(userSessionsKey(userId));
  const sessions = await Promise.all(ids.map((id) => findSession(rm, projectId, id)));
  return sessions.filter((s): s is SessionView => s !== undefined && s.userId === userId).sort((a, b) => a.createdAtMillis - b.createdAtMillis);
}
