// GET /users: a project's users, ordered by sign-up time (then id), a page at a time. The read
// model keeps each project's set of user ids (user-projection.ts); a page reads every member's
// record to order them, so a page costs one read per user of the project (fine for the projects
// authlog serves; a sorted index is the step after). The cursor names a position in the order, not
// a user, so a user deleted between two pages does not break the walk.
import type { ReadModelQueries } from '../readmodel/read-model.ts';
import type { PersonalData } from '../crypto/personal-data.ts';
import { findUser, projectUsersKey, type UserView } from './user-projection.ts';

export interface UserListQuery {
  /** Absent: every user from the cursor on (as upstream). */
  limit?: number;
  cursor?: UserListCursor;
  desc: boolean;
  /** Case-insensitive substring of the display name or primary email, or the exact user id. */
  search?: string;
}

/** Where a page starts: the first user at or after this (sign-up time, id) in the order. */
export interface UserListCursor {
  signedUpAtMillis: number;
  userId: string;
}

export interface UserPage {
  items: UserView[];
  /** Where the next page starts; null on the last page. */
  nextCursor: UserListCursor | null;
}

const READ_BATCH = 100;

const compare = (a: UserListCursor, b: UserListCursor): number =>
  a.signedUpAtMillis - b.signedUpAtMillis || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0);

const positionOf = (u: UserView): UserListCursor => ({ signedUpAtMillis: u.signedUpAtMillis, userId: u.id });

function matches(user: UserView, search: string): boolean {
  const needle = search.toLowerCase();
  return user.id === needle || (user.displayName?.toLowerCase().includes(needle) ?? false) || (user.primaryEmail?.toLowerCase().includes(needle) ?? false);
}

/** `include` filters users out before paging (e.g. anonymous users unless asked for). */
export async function listUsers(
  rm: ReadModelQueries,
  personal: PersonalData,
  projectId: string,
  query: UserListQuery,
  include: (user: UserView) => boolean = () => true,
): Promise<UserPage> {
  const ids = await rm.smembers(projectUsersKey(projectId));
  const users: UserView[] = [];
  for (let i = 0; i < ids.length; i += READ_BATCH) {
    const batch = await Promise.all(ids.slice(i, i + READ_BATCH).map((id) => findUser(rm, personal, projectId, id)));
    for (const user of batch) if (user && include(user) && (query.search === undefined || matches(user, query.search))) users.push(user);
  }
  const direction = query.desc ? -1 : 1;
  users.sort((a, b) => direction * compare(positionOf(a), positionOf(b)));
  const cursor = query.cursor;
  const from = cursor ? users.filter((u) => direction * compare(positionOf(u), cursor) >= 0) : users;
  if (query.limit === undefined || from.length <= query.limit) return { items: from, nextCursor: null };
  const next = from[query.limit];
  return { items: from.slice(0, query.limit), nextCursor: next ? positionOf(next) : null };
}

/** The cursor as it travels: `<sign-up millis>.<user id>`. */
export const encodeCursor = (c: UserListCursor): string => `${c.signedUpAtMillis}.${c.userId}`;

export function decodeCursor(text: string): UserListCursor | undefined {
  const match = /^(\d{1,16})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(text);
  if (!match) return undefined;
  return { signedUpAtMillis: Number(match[1]), userId: match[2]! };
}
