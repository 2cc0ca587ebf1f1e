// The signing-key rotation schedule. Verifiers cache the JWKS for JWKS_MAX_AGE_SECONDS; the
// JWKS always lists the next key, so a verifier's cached copy knows the key a rotation switches
// to provided the rotation before it was at least that long ago. Rotations are therefore kept
// MIN_SIGNING_KEY_ROTATION_INTERVAL_MS apart, which is also longer than a previous key must stay
// published (every token it signed expires ACCESS_TOKEN_TTL_SECONDS after the rotation, plus a
// margin for an instance that saw the rotation late): only ever one previous key at a time.
import { ACCESS_TOKEN_TTL_SECONDS } from '../../crypto/access-tokens.ts';

export const JWKS_MAX_AGE_SECONDS = 300;
/** An instance signs with the old key until its projection applies the rotation: seconds at most. */
const LATE_SIGNER_MARGIN_MS = 60_000;
export const PREVIOUS_SIGNING_KEY_MS = ACCESS_TOKEN_TTL_SECONDS * 1000 + LATE_SIGNER_MARGIN_MS;
export const MIN_SIGNING_KEY_ROTATION_INTERVAL_MS = Math.max(PREVIOUS_SIGNING_KEY_MS, JWKS_MAX_AGE_SECONDS * 1000);
