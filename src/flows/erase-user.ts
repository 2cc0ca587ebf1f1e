// Erasing a person (GDPR Art. 17): the user is deleted (sessions revoked, email released), the
// erasure recorded on their stream, and then their data keys deleted — their own and that of their
// email address (which sealed the sign-in codes sent to it). The log keeps its shape and the audit
// its facts (ids, times, actors); every copy of what was sealed under those keys reads `[erased]`.
import type { AppContext, Origin } from '../app-context.ts';
import { subjects } from '../crypto/sealed.ts';
import { settle } from '../commands/handler.ts';
import { users } from '../commands/aggregates.ts';
import { deleteUser } from './delete-user.ts';
import { emailDigestsOf } from '../commands/user/user-email-digests.ts';
import { knownError } from '../errors.ts';
import { asDomainEvent } from '../events/catalogue.ts';
import type { RecordedEvent } from '../store/event-store.ts';
import { foldStream } from '../commands/handler.ts';
import { userDecider } from '../commands/user/user-decider.ts';

function formerEmailDigests(history: readonly RecordedEvent[]): string[] {
  return history.flatMap((recorded) => {
    const event = asDomainEvent(recorded);
    const digest = event?.type === 'UserCreated' || event?.type === 'UserPrimaryEmailChanged' ? event.data.primaryEmailDigest : undefined;
    return digest === undefined ? [] : [digest];
  });
}

export interface Erasure {
  userId: string;
  /** The subjects whose keys were asked to go. */
  subjects: string[];
  /** Of those, the keys that existed and are now deleted. */
  deletedKeys: string[];
}

/**
 * `onlyLive`: the API's DELETE answers 404 for a user already deleted, as upstream; the command line
 * may erase a user deleted before (e.g. before erasure existed, or a crash between delete and erase).
 */
export async function eraseUser(ctx: AppContext, projectId: string, userId: string, origin: Origin, options: { onlyLive?: boolean } = {}): Promise<Erasure> {
  const history = await ctx.store.readStream(users.streamOf(userId));
  const before = foldStream(userDecider, history);
  if (before.status === 'none' || before.projectId !== projectId) throw knownError('USER_NOT_FOUND');
  if (options.onlyLive && before.status !== 'active') throw knownError('USER_NOT_FOUND');
  // The address's digests must be read while the user's key can still open the email.
  // Every address the user had: sign-in codes sent to a former one were theirs too.
  const emailDigests = [...new Set([...(await emailDigestsOf(ctx, before)), ...formerEmailDigests(history)])];
  if (before.status === 'active') await deleteUser(ctx, projectId, userId, origin);
  const erased = [subjects.user(userId), ...emailDigests.map((digest) => subjects.email(projectId, digest))];
  // Waited for once the keys are gone: the answer comes when the erasure is recorded and done.
  const result = await users.handle(ctx, userId, (nowMs) => ({ type: 'EraseUser', userId, projectId, subjects: erased, nowMs }), { origin, projectId, settle: false });
  const deletedKeys = await ctx.personal.erase(erased);
  await settle(ctx, result.position);
  return { userId, subjects: erased, deletedKeys };
}
