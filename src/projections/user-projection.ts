// Read model of users: the user record served by GET /users/{id} and checked by every session
// refresh (a deleted user's sessions stop working at once).
import type { Projector } from './projector.ts';
import type { ReadModelQueries, ReadStep } from '../readmodel/read-model.ts';
import { decodePersonal, encodePersonal, type Personal } from '../crypto/sealed.ts';
import type { PersonalData } from '../crypto/personal-data.ts';

const userKey = (userId: string) => `user:${userId}`;

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
            // Sealed as in the log: a Redis dump holds no plain email or name.
            primaryEmail: d.primaryEmail === null ? '' : encodePersonal(d.primaryEmail),
            hasEmail: d.primaryEmail === null ? '0' : '1',
            displayName: d.displayName === null ? '' : encodePersonal(d.displayName),
            hasDisplayName: d.displayName === null ? '0' : '1',
            primaryEmailVerified: d.primaryEmailVerified ? '1' : '0',
            signedUpAtMillis: String(d.signedUpAtMillis),
            isAnonymous: d.isAnonymous === true ? '1' : '0',
          },
        },
      ];
    }
    case 'UserDeleted':
    case 'PersonalDataErased':
      return [{ op: 'del', key: userKey(event.data.userId) }];
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
