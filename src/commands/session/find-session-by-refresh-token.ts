// The live session a refresh token names, whichever secret of the keyring digested it: the
// current secret's digest first, then the previous one's (a session started before AUTHLOG_SECRET
// was rotated keeps working). Every lookup of a presented refresh token goes through here.
import type { AppContext } from '../../app-context.ts';
import { findByDigests } from '../../crypto/digests.ts';
import { findSessionByRefreshDigest, type SessionView } from '../../projections/session-projection.ts';

export async function findSessionByRefreshToken(
  app: Pick<AppContext, 'readModel' | 'hasher'>,
  projectId: string,
  refreshToken: string,
): Promise<{ session: SessionView; digest: string } | undefined> {
  const found = await findByDigests(app.hasher.candidates('refresh-token', refreshToken), (digest) => findSessionByRefreshDigest(app.readModel, projectId, digest));
  return found && { session: found.value, digest: found.digest };
}
