// The user aggregate: created once, updated (profile, primary email), deleted once. Email
// uniqueness is not decided here but on the reservation stream (email-reservation-decider.ts),
// since it spans users: an email change is decided there first (change-primary-email.ts).
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
  primaryEmailVerified: boolean;
}

export type UserCommand =
  | { type: 'CreateUser'; data: EventData<'UserCreated'> }
  /** Profile changes, and an email change whose new address is already reserved: appended together. */
  | { type: 'UpdateUser'; profile: EventData<'UserUpdated'>; email?: EventData<'UserPrimaryEmailChanged'> }
  | { type: 'DeleteUser'; userId: string; projectId: string }
  | { type: 'EraseUser'; userId: string; projectId: string; subjects: string[]; nowMs: number };

type UserEvent = EventOf<'UserCreated' | 'UserUpdated' | 'UserPrimaryEmailChanged' | 'UserDeleted' | 'PersonalDataErased'>;

const isLiveIn = (state: UserState, projectId: string): boolean => state.status === 'active' && state.projectId === projectId;

export const userDecider: Decider<UserState, UserCommand, UserEvent> = {
  initialState: () => ({ status: 'none', projectId: '', primaryEmail: null, primaryEmailDigest: undefined, isAnonymous: false, primaryEmailVerified: false }),

  evolve(state, event) {
    switch (event.type) {
      case 'UserCreated':
        return {
          status: 'active',
          projectId: event.data.projectId,
          primaryEmail: event.data.primaryEmail,
          primaryEmailDigest: event.data.primaryEmailDigest,
          isAnonymous: event.data.isAnonymous === true,
          primaryEmailVerified: event.data.primaryEmailVerified,
        };
      case 'UserUpdated':
        return event.data.primaryEmailVerified === undefined ? state : { ...state, primaryEmailVerified: event.data.primaryEmailVerified };
      case 'UserPrimaryEmailChanged':
        return { ...state, primaryEmail: event.data.primaryEmail, primaryEmailDigest: event.data.primaryEmailDigest, primaryEmailVerified: event.data.primaryEmailVerified };
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
      case 'UpdateUser': {
        const { profile, email } = command;
        if (!isLiveIn(state, profile.projectId)) throw knownError('USER_NOT_FOUND');
        const events: UserEvent[] = email ? [{ type: 'UserPrimaryEmailChanged', data: email }] : [];
        const after = events.reduce<UserState>((s, e) => userDecider.evolve(s, e), state);
        if (profile.primaryEmailVerified === true && after.primaryEmail === null) {
          const message = 'primary_email_verified cannot be true without primary_email';
          throw knownError('SCHEMA_ERROR', message, { message });
        }
        const verifiedChanges = profile.primaryEmailVerified !== undefined && profile.primaryEmailVerified !== after.primaryEmailVerified;
        const { primaryEmailVerified: _verified, ...withoutVerified } = profile;
        if (profile.displayName !== undefined || verifiedChanges) events.push({ type: 'UserUpdated', data: verifiedChanges ? profile : withoutVerified });
        return events;
      }
      case 'DeleteUser':
        if (!isLiveIn(state, command.projectId)) throw knownError('USER_NOT_FOUND');
        return [{ type: 'UserDeleted', data: { userId: command.userId, projectId: command.projectId } }];
      case 'EraseUser':
        // Only a deleted user is erased (erasing deletes first); erasing again records it again,
        // for keys made since (an address that signed in anew).
        if (state.status !== 'deleted' || state.projectId !== command.projectId) throw knownError('USER_NOT_FOUND');
        return [{ type: 'PersonalDataErased', data: { userId: command.userId, projectId: command.projectId, subjects: command.subjects, erasedAtMillis: command.nowMs } }];
    }
  },
};
