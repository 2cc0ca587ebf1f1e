// The CLI login attempt: initiated once; completed once (or denied once), by one person, before
// it expires; claimed once, by one poll, after completion and before expiry. A denied attempt is
// final: it is never completed nor claimed. Because each step is decided on
// the attempt's own stream with optimistic concurrency, of any number of concurrent completes
// or polls exactly one wins. When an attempt may be decided on or claimed: policy/cli-auth-poll.ts.
import type { Decider } from '../handler.ts';
import type { EventData, EventOf } from '../../events/catalogue.ts';
import { knownError } from '../../errors.ts';
import { cliAuthPollStatus, isCliAuthOpen } from '../../policy/cli-auth-poll.ts';

interface Attempt {
  cliAuthId: string;
  projectId: string;
  expiresAtMillis: number;
  /** The anonymous session the CLI started as, while it has not been handed over. */
  anonSession: { sessionId: string; userId: string } | undefined;
}

interface Approval {
  userId: string;
  approvingSessionId: string;
  /** Who acted, when the approving session was an impersonation session. */
  impersonator: EventData<'LoginCodeCompleted'>['impersonator'];
}

/** A field exists only in the stages that have it: the approver once completed, the session once used. */
export type CliAuthState =
  | { status: 'none' }
  | ({ status: 'pending' | 'denied' } & Attempt)
  | ({ status: 'completed' } & Attempt & Approval)
  | ({ status: 'used'; sessionId: string } & Attempt & Approval);

export type CliAuthCommand =
  | { type: 'InitiateCliAuth'; data: EventData<'CliAuthInitiated'> }
  | {
      type: 'CompleteCliAuth';
      projectId: string;
      userId: string;
      approvingSessionId: string;
      impersonator?: EventData<'LoginCodeCompleted'>['impersonator'];
      nowMs: number;
    }
  | { type: 'DenyCliAuth'; projectId: string; userId: string; denyingSessionId: string; nowMs: number }
  | { type: 'ClaimCliAuth'; projectId: string; sessionId: string; nowMs: number }
  | { type: 'HandOverAnonymousSession'; projectId: string; sessionId: string; nowMs: number };

type CliAuthEvent = EventOf<'CliAuthInitiated' | 'LoginCodeCompleted' | 'CliAuthDenied' | 'CliAuthClaimed' | 'CliAnonymousSessionHandedOver'>;

/** The attempt, when it is of the project and a person may still approve or deny it. */
const openFor = (state: CliAuthState, projectId: string, nowMs: number): Attempt | undefined =>
  state.status !== 'none' && state.projectId === projectId && isCliAuthOpen(state, nowMs) ? state : undefined;

const attemptOf = (state: Attempt): Attempt => ({
  cliAuthId: state.cliAuthId,
  projectId: state.projectId,
  expiresAtMillis: state.expiresAtMillis,
  anonSession: state.anonSession,
});

export const cliAuthDecider: Decider<CliAuthState, CliAuthCommand, CliAuthEvent> = {
  initialState: () => ({ status: 'none' }),

  evolve(state, event) {
    switch (event.type) {
      case 'CliAuthInitiated':
        return {
          status: 'pending',
          cliAuthId: event.data.cliAuthId,
          projectId: event.data.projectId,
          expiresAtMillis: event.data.expiresAtMillis,
          anonSession:
            event.data.anonSessionId !== undefined && event.data.anonUserId !== undefined
              ? { sessionId: event.data.anonSessionId, userId: event.data.anonUserId }
              : undefined,
        };
      case 'CliAnonymousSessionHandedOver':
        return state.status === 'none' ? state : { ...state, anonSession: undefined };
      case 'LoginCodeCompleted':
        if (state.status === 'none') return state;
        return {
          ...attemptOf(state),
          status: 'completed',
          userId: event.data.userId,
          approvingSessionId: event.data.approvingSessionId,
          impersonator: event.data.impersonator,
        };
      case 'CliAuthDenied':
        return state.status === 'none' ? state : { ...attemptOf(state), status: 'denied' };
      case 'CliAuthClaimed':
        return state.status === 'completed' ? { ...state, status: 'used', sessionId: event.data.sessionId } : state;
      default:
        return state;
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'InitiateCliAuth':
        if (state.status !== 'none') throw new Error(`CLI auth ${command.data.cliAuthId} exists already`);
        return [{ type: 'CliAuthInitiated', data: command.data }];
      case 'CompleteCliAuth': {
        // Unknown, of another project, expired, completed, denied or claimed: one answer for all,
        // so a guesser learns nothing about which codes exist.
        const attempt = openFor(state, command.projectId, command.nowMs);
        if (!attempt) throw knownError('INVALID_LOGIN_CODE');
        return [
          {
            type: 'LoginCodeCompleted',
            data: {
              cliAuthId: attempt.cliAuthId,
              projectId: attempt.projectId,
              userId: command.userId,
              approvingSessionId: command.approvingSessionId,
              ...(command.impersonator ? { impersonator: command.impersonator } : {}),
              completedAtMillis: command.nowMs,
              attemptExpiresAtMillis: attempt.expiresAtMillis,
            },
          },
        ];
      }
      case 'DenyCliAuth': {
        const attempt = openFor(state, command.projectId, command.nowMs);
        if (!attempt) throw knownError('INVALID_LOGIN_CODE');
        return [
          {
            type: 'CliAuthDenied',
            data: {
              cliAuthId: attempt.cliAuthId,
              projectId: attempt.projectId,
              userId: command.userId,
              denyingSessionId: command.denyingSessionId,
              deniedAtMillis: command.nowMs,
              attemptExpiresAtMillis: attempt.expiresAtMillis,
            },
          },
        ];
      }
      case 'HandOverAnonymousSession': {
        // As upstream: only while the attempt is open, and once (the first hand-over clears it).
        const attempt = openFor(state, command.projectId, command.nowMs);
        if (!attempt) throw knownError('INVALID_LOGIN_CODE');
        if (!attempt.anonSession) throw knownError('NO_ANONYMOUS_CLI_SESSION');
        return [
          {
            type: 'CliAnonymousSessionHandedOver',
            data: {
              cliAuthId: attempt.cliAuthId,
              projectId: attempt.projectId,
              anonUserId: attempt.anonSession.userId,
              anonSessionId: attempt.anonSession.sessionId,
              sessionId: command.sessionId,
              handedOverAtMillis: command.nowMs,
              attemptExpiresAtMillis: attempt.expiresAtMillis,
            },
          },
        ];
      }
      case 'ClaimCliAuth':
        // Anything but a claimable attempt of the project claims nothing; the caller answers from the state.
        if (state.status !== 'completed' || state.projectId !== command.projectId || cliAuthPollStatus(state, command.nowMs) !== 'claimable') return [];
        return [
          {
            type: 'CliAuthClaimed',
            data: {
              cliAuthId: state.cliAuthId,
              projectId: state.projectId,
              sessionId: command.sessionId,
              claimedAtMillis: command.nowMs,
              attemptExpiresAtMillis: state.expiresAtMillis,
            },
          },
        ];
    }
  },
};
