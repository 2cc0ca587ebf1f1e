// The live session a refresh token names, whichever secret of the keyring digested it: the
// current secret's digest first, then the previous one's (a session started before AUTHLOG_SECRET
// was rotated keeps working). Every lookup of a presented refresh token goes through here.
//
// The current digest's index entry, the session record and its user's record are read in one
// step (ReadModel.takeAndRead: one round trip to Redis), since a refresh needs all three.
import type { AppContext } from '../../app-context.ts';
import { findByDigests } from '../../crypto/digests.ts';
import { findSessionByRefreshDigest, sessionByRefreshDigestReads, sessionOfReads, type SessionView } from '../../projections/session-projection.ts';
import { userRecordRead } from '../../projections/user-projection.ts';

export interface FoundSession {
  session: SessionView;
  digest: string;
  /** The session's user's record as read with it (for projections/user-projection.ts userOf); absent when read without it. */
  userRecord?: Record<string, string> | undefined;
}

export async function findSessionByRefreshToken(app: Pick<AppContext, 'readModel' | 'hasher'>, projectId: string, refreshToken: string): Promise<FoundSession | undefined> {
  const [current, ...older] = app.hasher.candidates('refresh-token', refreshToken);
  if (current === undefined) throw new Error('hasher: no candidate digest');
  const reads = [...sessionByRefreshDigestReads(current), userRecordRead(1, 'userId')];
  const { values } = await app.readModel.takeAndRead(undefined, reads);
  const session = await sessionOfReads(app.readModel, projectId, values);
  const userRecord = values[2];
  if (session) return { session, digest: current, userRecord: typeof userRecord === 'object' ? userRecord : undefined };
  const found = await findByDigests(older, (digest) => findSessionByRefreshDigest(app.readModel, projectId, digest));
  return found && { session: found.value, digest: found.digest };
}
