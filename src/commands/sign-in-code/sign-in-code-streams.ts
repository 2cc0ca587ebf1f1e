// How a typed code splits (45 lowercase characters, the OTP being the first 6 and the nonce the
// last 39) and the digest that names a code's stream (aggregates.ts); an email's: crypto/email-digests.ts.
import type { AppContext } from '../../app-context.ts';

export const SIGN_IN_CODE_LENGTH = 45;
export const OTP_LENGTH = 6;
export const NONCE_LENGTH = SIGN_IN_CODE_LENGTH - OTP_LENGTH;

export const nonceOf = (code: string): string => code.slice(OTP_LENGTH);
export const otpOf = (code: string): string => code.slice(0, OTP_LENGTH);

export const nonceDigestOf = (ctx: Pick<AppContext, 'hasher'>, nonce: string): string => ctx.hasher.digest('sign-in-nonce', nonce);
