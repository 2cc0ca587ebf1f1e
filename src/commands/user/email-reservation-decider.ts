// Primary emails are unique per project, decided in the write path: each (project, email) pair
// has a reservation stream, appended to with optimistic concurrency, so of two concurrent
// creations with the same email exactly one reservation lands.
//
// A reservation is written before its user's UserCreated. If the process dies in between, the
// reservation points at a user that never came to be; after `abandonAfterMs` such a reservation
// may be taken over, so a crash cannot lock an email forever.
import type { Decider } from '../handler.ts';
import type { EventOf } from '../../events/catalogue.ts';
import { knownError } from '../../errors.ts';

export interface EmailReservationState {
  holder: string | undefined;
}

export type EmailReservationCommand =
  | {
      type: 'Reserve';
      projectId: string;
      userId: string;
      /**
       * What the caller found about the holder it saw: whether that user's stream holds a live
       * user (undefined: a creation may still be under way). Bound to that holder, so that a
       * retry after a concurrent reservation never applies it to the new holder.
       */
      checkedHolder: { userId: string; isLive: boolean | undefined } | undefined;
    }
  | { type: 'Release'; projectId: string; userId: string };

type ReservationEvent = EventOf<'UserEmailReserved' | 'UserEmailReleased'>;

export const emailReservationDecider: Decider<EmailReservationState, EmailReservationCommand, ReservationEvent> = {
  initialState: () => ({ holder: undefined }),

  evolve(state, event) {
    switch (event.type) {
      case 'UserEmailReserved':
        return { holder: event.data.userId };
      case 'UserEmailReleased':
        return state.holder === event.data.userId ? { holder: undefined } : state;
      default:
        return state;
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'Reserve':
        if (state.holder === command.userId) return [];
        if (state.holder !== undefined) {
          const knownDead = command.checkedHolder?.userId === state.holder && command.checkedHolder.isLive === false;
          if (!knownDead) throw knownError('USER_EMAIL_ALREADY_EXISTS');
        }
        return [{ type: 'UserEmailReserved', data: { projectId: command.projectId, userId: command.userId } }];
      case 'Release':
        return state.holder === command.userId
          ? [{ type: 'UserEmailReleased', data: { projectId: command.projectId, userId: command.userId } }]
          : [];
    }
  },
};
