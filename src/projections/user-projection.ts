// Read model of users: the user record served by GET /users/{id} and checked by every session
// refresh (a deleted user's sessions stop working at once), and each project's set of users that
// GET /users lists (user-listing.ts).
import type { Projector } from './projector.ts';
import type { ReadModelQueries, ReadStep } from '../readmodel/read-model.ts';
import { decodePersonal, encodePersonal, type Personal } from '../crypto/sealed.ts';
import type { PersonalData } from '../crypto/personal-data.ts';

const userKey = (userId: string) => `user:${userId}`;
export const projectUsersKey = (projectId: string) => `project-users:${projectId}`;
// Sealed as in the log: a Redis dump holds no plain email or name.
const sealedField = (value: Personal | null): string => (value === null ? '' : encodePersonal(value));
const flag = (value: boolean): string => (value ? '1' : '0');

export const userProjector: Projector = (event) => {
  switch (event.type) {
    case 'UserCreated': {
      const d = event.data;
      return [
        {
          op: 'hset',
          key: userKey(d.userId),
          fields: {
            projectId: d.projectId,
            primaryEmail: sealedField(d.primaryEmail),
            hasEmail: flag(d.primaryEmail !== null),
            displayName: sealedField(d.displayName),
            hasDisplayName: flag(d.displayName !== null),
            primaryEmailVerified: flag(d.primaryEmailVerified),
            signedUpAtMillis: String(d.signedUpAtMillis),
            isAnonymous: d.isAnonymous === true ? '1' : '0',
          },
        },
        { op: 'sadd', key: projectUsersKey(d.projectId), member: d.userId },
      ];
    }
    case 'UserUpdated': {
      const d = event.data;
      const fields: Record<string, string> = {};
      if (d.displayName !== undefined) Object.assign(fields, { displayName: sealedField(d.displayName), hasDisplayName: flag(d.displayName !== null) });
      if (d.primaryEmailVerified !== undefined) fields.primaryEmailVerified = flag(d.primaryEmailVerified);
      return Object.keys(fields).length === 0 ? [] : [{ op: 'hset', key: userKey(d.userId), fields }];
    }
    case 'UserPrimaryEmailChanged': {
      const d = event.data;
      const fields = { primaryEmail: sealedField(d.primaryEmail), hasEmail: flag(d.primaryEmail !== null), primaryEmailVerified: flag(d.primaryEmailVerified) };
      return [{ op: 'hset', key: userKey(d.userId), fields }];
    }
    case 'UserDeleted':
    case 'PersonalDataErased':
      return [
        { op: 'del', key: userKey(event.data.userId) },
        { op: 'srem', key: projectUsersKey(event.data.projectId), member: event.data.userId },
      ];
    default:
      return [];
  }
};

export interface UserView {
  id: string;
  projectId: string;
  primaryEmail: string | null;
  displayName: string | null;
  primaryEmailVerified: boolean;
  signedUpAtMillis: number;
  isAnonymous: boolean;
}

/** The user, if it exists in this project (a user of another project reads as absent), with its personal fields opened. */
export async function findUser(rm: ReadModelQueries, personal: PersonalData, projectId: string, userId: string): Promise<UserView | undefined> {
  return userOf(personal, projectId, userId, await rm.hgetall(userKey(userId)));
}

/** A read of the user record whose id is field `field` of the hash step `from` read (ReadModel.takeAndRead). */
export const userRecordRead = (from: number, field: string): ReadStep => ({ op: 'hgetall', prefix: userKey(''), from, field });

/** The user a record (as findUser reads it) describes, if it is of this project. */
export async function userOf(personal: PersonalData, projectId: string, userId: string, h: Record<string, string> | undefined): Promise<UserView | undefined> {
  if (!h || h.projectId !== projectId) return undefined;
  const open = async (has: string | undefined, stored: string | undefined): Promise<string | null> =>
    has === '1' ? await personal.show(decodePersonal(stored ?? '') as Personal) : null;
  return {
    id: userId,
    projectId,
    primaryEmail: await open(h.hasEmail, h.primaryEmail),
    displayName: await open(h.hasDisplayName, h.displayName),
    primaryEmailVerified: h.primaryEmailVerified === '1',
    signedUpAtMillis: Number(h.signedUpAtMillis),
    isAnonymous: h.isAnonymous === '1',
  };
}

/** Whether the user exists in this project, without opening anything. */
export async function userExists(rm: ReadModelQueries, projectId: string, userId: string): Promise<boolean> {
  const h = await rm.hgetall(userKey(userId));
  return !!h && h.projectId === projectId;
}
