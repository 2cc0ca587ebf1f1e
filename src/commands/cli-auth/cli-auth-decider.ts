// The CLI login attempt: initiated once; completed once (or denied once), by one person, before
// it expires; claimed once, by one poll, after completion and before expiry. A denied attempt is
// final: it is never completed nor claimed. Because each step is decided on
// the attempt's own stream with optimistic concurrency, of any number of concurrent completes
// or polls exactly one wins.
import type { Decider } from '../handler.ts';
import type { EventData, EventOf } from '../../events/catalogue.ts';
import { knownError } from '../../errors.ts';

export interface CliAuthState {
  status: 'none' | 'pending' | 'completed' | 'claimed' | 'denied';
  cliAuthId: string;
  projectId: string;
  expiresAtMillis: number;
  userId: string | undefined;
  approvingSessionId: string | undefined;
  impersonator: EventData<'LoginCodeCompleted'>['impersonator'];
  sessionId: string | undefined;
  /** The anonymous session the CLI started as, while it has not been handed over. */
  anonSession: { sessionId: string; userId: string } | undefined;
}

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

/** Only a live pending attempt of the project can be decided on by a person. */
const isOpenFor = (state: CliAuthState, projectId: string, nowMs: number): boolean =>
  state.status === 'pending' && state.projectId === projectId && !isCliAuthExpired(state, nowMs);

export const isCliAuthExpired = (state: CliAuthState, nowMs: number): boolean => nowMs >= state.expiresAtMillis;

export const cliAuthDecider: Decider<CliAuthState, CliAuthCommand, CliAuthEvent> = {
  initialState: () => ({
    status: 'none',
    cliAuthId: '',
    projectId: '',
    expiresAtMillis: 0,
    userId: undefined,
    approvingSessionId: undefined,
    impersonator: undefined,
    sessionId: undefined,
    anonSession: undefined,
  }),

  evolve(state, event) {
    switch (event.type) {
      case 'CliAuthInitiated':
        return {
          ...state,
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
        return { ...state, anonSession: undefined };
      case 'LoginCodeCompleted':
        return {
          ...state,
          status: 'completed',
          userId: event.data.userId,
          approvingSessionId: event.data.approvingSessionId,
          impersonator: event.data.impersonator,
        };
      case 'CliAuthDenied':
        return { ...state, status: 'denied' };
      case 'CliAuthClaimed':
        return { ...state, status: 'claimed', sessionId: event.data.sessionId };
      default:
        return state;
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'InitiateCliAuth':
        if (state.status !== 'none') throw new Error(`CLI auth ${command.data.cliAuthId} exists already`);
        return [{ type: 'CliAuthInitiated', data: command.data }];
      case 'CompleteCliAuth':
        // Unknown, of another project, expired, completed, denied or claimed: one answer for all,
        // so a guesser learns nothing about which codes exist.
        if (!isOpenFor(state, command.projectId, command.nowMs)) throw knownError('INVALID_LOGIN_CODE');
        return [
          {
            type: 'LoginCodeCompleted',
            data: {
              cliAuthId: state.cliAuthId,
              projectId: state.projectId,
              userId: command.userId,
              approvingSessionId: command.approvingSessionId,
              ...(command.impersonator ? { impersonator: command.impersonator } : {}),
              completedAtMillis: command.nowMs,
              attemptExpiresAtMillis: state.expiresAtMillis,
            },
          },
        ];
      case 'DenyCliAuth':
        if (!isOpenFor(state, command.projectId, command.nowMs)) throw knownError('INVALID_LOGIN_CODE');
        return [
          {
            type: 'CliAuthDenied',
            data: {
              cliAuthId: state.cliAuthId,
              projectId: state.projectId,
              userId: command.userId,
              denyingSessionId: command.denyingSessionId,
              deniedAtMillis: command.nowMs,
              attemptExpiresAtMillis: state.expiresAtMillis,
            },
          },
        ];
      case 'HandOverAnonymousSession':
        // As upstream: only while the attempt is open, and once (the first hand-over clears it).
        if (!isOpenFor(state, command.projectId, command.nowMs)) throw knownError('INVALID_LOGIN_CODE');
        if (!state.anonSession) throw knownError('NO_ANONYMOUS_CLI_SESSION');
        return [
          {
            type: 'CliAnonymousSessionHandedOver',
            data: {
              cliAuthId: state.cliAuthId,
              projectId: state.projectId,
              anonUserId: state.anonSession.userId,
              anonSessionId: state.anonSession.sessionId,
              sessionId: command.sessionId,
              handedOverAtMillis: command.nowMs,
              attemptExpiresAtMillis: state.expiresAtMillis,
            },
          },
        ];
      case 'ClaimCliAuth':
        // Anything but a live completed attempt claims nothing; the caller answers from the state.
        if (state.status !== 'completed' || state.projectId !== command.projectId || isCliAuthExpired(state, command.nowMs)) return [];
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
