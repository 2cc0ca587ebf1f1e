// Events of sign-in codes: the `signInCode-<digest of the nonce>` stream (a code sent, each
// wrong guess, its lock, its use) and the `signInEmail-<project>.<digest of the email>` stream
// that counts wrong guesses per email across codes, so a fresh code does not reset an attacker's
// budget. The code itself, and its OTP, appear only as a digest.
import { z } from 'zod';
import { personalString } from '../crypto/sealed.ts';

export const signInCodeEvents = {
  SignInCodeSent: z.object({
    projectId: z.uuid(),
    nonceDigest: z.string().min(1),
    /** Digest of the whole 45-character code (OTP + nonce), which is also the magic link's code. */
    codeDigest: z.string().min(1),
    email: personalString,
    emailDigest: z.string().min(1),
    callbackUrl: z.string().min(1),
    sentAtMillis: z.number().int(),
    expiresAtMillis: z.number().int(),
  }),
  SignInCodeGuessedWrong: z.object({
    projectId: z.uuid(),
    nonceDigest: z.string().min(1),
    /** Wrong guesses against this code so far, this one included. */
    wrongGuesses: z.number().int().min(1),
    atMillis: z.number().int(),
    codeExpiresAtMillis: z.number().int(),
  }),
  SignInCodeLocked: z.object({
    projectId: z.uuid(),
    nonceDigest: z.string().min(1),
    reason: z.enum(['too-many-wrong-guesses']),
    atMillis: z.number().int(),
    codeExpiresAtMillis: z.number().int(),
  }),
  /** The code was used to sign in: `sessionId` is the session minted for it (its user is there). */
  SignInCodeUsed: z.object({
    projectId: z.uuid(),
    nonceDigest: z.string().min(1),
    sessionId: z.uuid(),
    usedAtMillis: z.number().int(),
    codeExpiresAtMillis: z.number().int(),
  }),
  SignInEmailGuessedWrong: z.object({
    projectId: z.uuid(),
    emailDigest: z.string().min(1),
    nonceDigest: z.string().min(1),
    atMillis: z.number().int(),
  }),
};
