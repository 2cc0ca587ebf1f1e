// The user aggregate: created once, deleted once. Email uniqueness is not decided here but on the
// reservation stream (email-reservation-decider.ts), since it spans users.
import type { Decider } from '../handler.ts';
import type { EventData, EventOf } from '../../events/catalogue.ts';
import { knownError } from '../../errors.ts';
import type { Personal } from '../../crypto/sealed.ts';

export interface UserState {
  status: 'none' | 'active' | 'deleted';
  projectId: string;
  /** Sealed in the log; plain only in events written before sealing. */
  primaryEmail: Personal | null;
  primaryEmailDigest: string | undefined;
  isAnonymous: boolean;
}

export type UserCommand =
  | { type: 'CreateUser'; data: EventData<'UserCreated'> }
  | { type: 'DeleteUser'; userId: string; projectId: string }
  | { type: 'EraseUser'; userId: string; projectId: string; subjects: string[]; nowMs: number };

type UserEvent = EventOf<'UserCreated' | 'UserDeleted' | 'PersonalDataErased'>;

export const userDecider: Decider<UserState, UserCommand, UserEvent> = {
  initialState: () => ({ status: 'none', projectId: '', primaryEmail: null, primaryEmailDigest: undefined, isAnonymous: false }),

  evolve(state, event) {
    switch (event.type) {
      case 'UserCreated':
        return {
          status: 'active',
          projectId: event.data.projectId,
          primaryEmail: event.data.primaryEmail,
          primaryEmailDigest: event.data.primaryEmailDigest,
          isAnonymous: event.data.isAnonymous === true,
        };
      case 'UserDeleted':
        return { ...state, status: 'deleted' };
      default:
        return state;
    }
  },

  decide(command, state) {
    switch (command.type) {
      case 'CreateUser':
        // User ids are fresh uuids: an existing stream here is a bug, not a client error.
        if (state.status !== 'none') throw new Error(`user ${command.data.userId} exists already`);
        return [{ type: 'UserCreated', data: command.data }];
      case 'DeleteUser':
        if (state.status !== 'active' || state.projectId !== command.projectId) throw knownError('USER_NOT_FOUND');
        return [{ type: 'UserDeleted', data: { userId: command.userId, projectId: command.projectId } }];
      case 'EraseUser':
        // Only a deleted user is erased (erasing deletes first); erasing again records it again,
        // for keys made since (an address that signed in anew).
        if (state.status !== 'deleted' || state.projectId !== command.projectId) throw knownError('USER_NOT_FOUND');
        return [{ type: 'PersonalDataErased', data: { userId: command.userId, projectId: command.projectId, subjects: command.subjects, erasedAtMillis: command.nowMs } }];
    }
  },
};
