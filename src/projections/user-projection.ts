// Read model of users: the user record served by GET /users/{id} and checked by every session
// refresh (a deleted user's sessions stop working at once).
import type { Projector } from './projector.ts';
import type { ReadModelQueries } from '../readmodel/read-model.ts';

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
            primaryEmail: d.primaryEmail ?? '',
            hasEmail: d.primaryEmail === null ? '0' : '1',
            displayName: d.displayName ?? '',
            hasDisplayName: d.displayName === null ? '0' : '1',
            primaryEmailVerified: d.primaryEmailVerified ? '1' : '0',
            signedUpAtMillis: String(d.signedUpAtMillis),
          },
        },
      ];
    }
    case 'UserDeleted':
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
}

/** The user, if it exists in this project (a user of another project reads as absent). */
export async function findUser(rm: ReadModelQueries, projectId: string, userId: string): Promise<UserView | undefined> {
  const h = await rm.hgetall(userKey(userId));
  if (!h || h.projectId !== projectId) return undefined;
  return {
    id: userId,
    projectId,
    primaryEmail: h.hasEmail === '1' ? (h.primaryEmail ?? '') : null,
    displayName: h.hasDisplayName === '1' ? (h.displayName ?? '') : null,
    primaryEmailVerified: h.primaryEmailVerified === '1',
    signedUpAtMillis: Number(h.signedUpAtMillis),
  };
}
