// How an email address becomes the digest that names it (its reservation, its guess budget, its
// data key): one normalisation, so that "Ada@Example.com " and "ada@example.com" are one address
// everywhere. `emailDigestCandidates` also gives the digests under previous secrets (a keyring).
import type { Hasher } from './digests.ts';

export const normaliseEmail = (email: string): string => email.trim().toLowerCase();

/** Under the current secret: what new reservations, codes and budgets are named by. */
export const emailDigestOf = (ctx: { hasher: Pick<Hasher, 'digest'> }, email: string): string => ctx.hasher.digest('email', normaliseEmail(email));

/** Under the current secret first, then each previous one. */
export const emailDigestCandidates = (ctx: { hasher: Pick<Hasher, 'candidates'> }, email: string): string[] => ctx.hasher.candidates('email', normaliseEmail(email));
