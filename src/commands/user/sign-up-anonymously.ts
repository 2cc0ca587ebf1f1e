// Signing up anonymously (upstream's POST /auth/anonymous/sign-up): a user with no email and no
// name, marked anonymous in UserCreated, and a first session of theirs. The session is not one a
// person started (session-authority.ts): it never carries a person's rights, and its tokens are
// of the anonymous users' own audience and key (crypto/access-tokens.ts).
import type { AppContext, Origin } from '../../app-context.ts';
import { createUser } from './create-user.ts';
import { createSession } from '../session/create-session.ts';
import { DEFAULT_SESSION_MS } from '../session/session-lifetimes.ts';

export interface AnonymousSignUp {
  userId: string;
  refreshToken: string;
  accessToken: string;
}

export async function signUpAnonymously(ctx: AppContext, projectId: string, origin: Origin): Promise<AnonymousSignUp> {
  const user = await createUser(
    ctx,
    { projectId, primaryEmail: null, displayName: null, primaryEmailVerified: false, origin: 'anonymous-sign-up', isAnonymous: true },
    origin,
  );
  const session = await createSession(
    ctx,
    { projectId, userId: user.userId, expiresInMs: DEFAULT_SESSION_MS, isImpersonation: false, via: 'anonymous-sign-up' },
    origin,
  );
  return { userId: user.userId, refreshToken: session.refreshToken, accessToken: session.accessToken };
}
