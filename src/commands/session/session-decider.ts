// The session aggregate: created once, used (recorded at most once per interval), revoked once.
// Expiry is decided from the command's `now`, never from a timer.
import type { Decider } from '../handler.ts';
import type { EventData, EventOf } from '../../events/catalogue.ts';
import { knownError } from '../../errors.ts';
import type { Actor } from '../../events/actor.ts';
import { termsOf, type ParentSession, type SessionTerms } from '../../policy/session-authority.ts';

/**
 * Activity is recorded at most this often per session. Access tokens live 10 minutes, so an
 * active client refreshes about 6 times an hour; one event per 15 minutes keeps a year-long
 * session under 35k events while still telling the audit when it was used, to 15 minutes.
 */
export const SESSION_ACTIVITY_INTERVAL_MS = 15 * 60_000;

/**
 * A retired refresh token is answered with its same successor (derived, refresh-successor.ts;
 * nothing is appended) for as long as that successor has not been used: a client retrying the
 * same refresh, or one that ignores the refresh_token of the answer (the official SDK does: it
 * keeps its first token, and upstream never rotates). Once the successor was used, the family
 * has two holders: presenting the retired token more than this long after that is reuse, and
 * ends the session (within it, a concurrent retry that lost the race).
 */
export const REFRESH_TOKEN_REUSE_GRACE_MS = 30_000;

export interface RetiredRefreshToken {
  rotatedAtMillis: number;
  successorDigest: string;
}

export interface SessionState {
  status: 'none' | 'active' | 'revoked';
  sessionId: string;
  projectId: string;
  userId: string;
  expiresAtMillis: number;
  refreshTokenDigest: string;
  isImpersonation: boolean;
  lastActivityAtMillis: number | undefined;
  /** Set once created: who created it and what it may do (session-authority.ts). */
  createdBy: Actor | undefined;
  terms: SessionTerms | undefined;
  via: EventData<'SessionCreated'>['via'] | undefined;
  /** Refresh tokens rotated out, by digest. */
  retired: ReadonlyMap<string, RetiredRefreshToken>;
}

export type SessionCommand =
  | { type: 'CreateSession'; data: EventData<'SessionCreated'> }
  | { type: 'RecordActivity'; nowMs: number }
  | { type: 'RevokeSession'; projectId: string; reason: EventData<'SessionRevoked'>['reason']; nowMs: number }
  /** A refresh under rotation: `presentedDigest` is the token's digest as found, `successorDigest` its successor's. */
  | { type: 'RotateRefreshToken'; projectId: string; presentedDigest: string; successorDigest: string; nowMs: number };

type SessionEvent = EventOf<'SessionCreated' | 'SessionActivityRecorded' | 'SessionRefreshTokenRotated' | 'SessionRevoked'>;

export const isSessionLive = (state: SessionState, nowMs: number): boolean => state.status === 'active' && nowMs < state.expiresAtMillis;

/** The session as a parent of a derived one: only while it is live (its own stream says so). */
export function asParent(state: SessionState, nowMs: number): ParentSession | undefined {
  if (!isSessionLive(state, nowMs) || !state.terms || !state.createdBy) return undefined;
  return { ...state.terms, sessionId: state.sessionId, createdBy: state.createdBy };
}

/** The session's end, for whatever reason, as one event. */
const revocation = (state: SessionState, reason: EventData<'SessionRevoked'>['reason'], nowMs: number): SessionEvent => ({
  type: 'SessionRevoked',
  data: { sessionId: state.sessionId, projectId: state.projectId, userId: state.userId, reason, refreshTokenDigest: state.refreshTokenDigest, revokedAtMillis: nowMs },
});

export const sessionDecider: Decider<SessionState, SessionCommand, SessionEvent> = {
  initialState: () => ({
    status: 'none',
    sessionId: '',
    projectId: '',
    userId: '',
    expiresAtMillis: 0,
    refreshTokenDigest: '',
    isImpersonation: false,
    lastActivityAtMillis: undefined,
    createdBy: undefined,
    terms: undefined,
    via: undefined,
    retired: new Map(),
  }),

  evolve(state, event) {
    switch (event.type) {
      case 'SessionCreated':
        return {
          status: 'active',
          sessionId: event.data.sessionId,
          projectId: event.data.projectId,
          userId: event.data.userId,
          expiresAtMillis: event.data.expiresAtMillis,
          refreshTokenDigest: event.data.refreshTokenDigest,
          isImpersonation: event.data.isImpersonation,
          lastActivityAtMillis: undefined,
          createdBy: event.data.createdBy,
          terms: termsOf(event.data),
          via: event.data.via,
          retired: new Map(),
        };
      case 'SessionRefreshTokenRotated':
        return {
          ...state,
          refreshTokenDigest: event.data.refreshTokenDigest,
          retired: new Map(state.retired).set(event.data.previousDigest, { rotatedAtMillis: event.data.rotatedAtMillis, successorDigest: event.data.refreshTokenDigest }),
        };
      case 'SessionActivityRecorded':
        return { ...state, lastActivityAtMillis: event.data.atMillis };
      case 'SessionRevoked':
        return { ...state, status: 'revoked' };
      default:
        return state;
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'CreateSession':
        // Session ids are fresh uuids: an existing stream here is a bug, not a client error.
        if (state.status !== 'none') throw new Error(`session ${command.data.sessionId} exists already`);
        return [{ type: 'SessionCreated', data: command.data }];
      case 'RecordActivity': {
        if (!isSessionLive(state, command.nowMs)) return [];
        const last = state.lastActivityAtMillis;
        if (last !== undefined && command.nowMs - last < SESSION_ACTIVITY_INTERVAL_MS) return [];
        return [
          {
            type: 'SessionActivityRecorded',
            data: { sessionId: state.sessionId, projectId: state.projectId, userId: state.userId, atMillis: command.nowMs, sessionExpiresAtMillis: state.expiresAtMillis },
          },
        ];
      }
      case 'RotateRefreshToken': {
        if (state.projectId !== command.projectId || !isSessionLive(state, command.nowMs)) throw knownError('REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
        if (command.presentedDigest === state.refreshTokenDigest) {
          return [
            {
              type: 'SessionRefreshTokenRotated',
              data: {
                sessionId: state.sessionId,
                projectId: state.projectId,
                userId: state.userId,
                previousDigest: command.presentedDigest,
                refreshTokenDigest: command.successorDigest,
                rotatedAtMillis: command.nowMs,
                sessionExpiresAtMillis: state.expiresAtMillis,
              },
            },
          ];
        }
        const retired = state.retired.get(command.presentedDigest);
        if (!retired) throw knownError('REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
        // Its successor unused, or used only just now: a retry; the successor is handed out again.
        const successorUsed = state.retired.get(retired.successorDigest);
        if (!successorUsed || command.nowMs - successorUsed.rotatedAtMillis <= REFRESH_TOKEN_REUSE_GRACE_MS) return [];
        // Reuse: two parties hold tokens of this family; which one is the thief is unknowable, so
        // the whole session ends (RFC 9700 §4.14.2).
        return [revocation(state, 'refresh-token-reused', command.nowMs)];
      }
      case 'RevokeSession':
        if (state.status === 'none' || state.projectId !== command.projectId) throw knownError('SESSION_NOT_FOUND');
        // Revoking what is already over changes nothing, and is not an error: the caller's
        // intent (this session no longer works) holds.
        if (!isSessionLive(state, command.nowMs)) return [];
        return [revocation(state, command.reason, command.nowMs)];
    }
  },
};
