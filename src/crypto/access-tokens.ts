// Access tokens: ES256 JWTs, 10 minutes, signed with the project's current signing key, which is
// derived from the server secret (signing-key-derivation.ts).
//
// Rotation (signing-keys.ts decides what is published): each project has a key generation, 0
// until its first `authlog project rotate-signing-key`. A generation's key is derived like the
// original one with the generation in the info string (generation 0's info is unchanged). The
// JWKS lists the current key, the next one (so a verifier's cached JWKS already knows the key a
// rotation switches to) and the previous one until every token it signed has expired; a token
// verifies by its `kid` against exactly that set. A rotated server secret (AUTHLOG_SECRET_PREVIOUS)
// keeps the previous secret's current and previous keys published and verifying.
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { signEs256Jws } from './es256-jws.ts';
import { ALG, deriveProjectKey, type Audience, type ProjectKey, type PublicJwk } from './signing-key-derivation.ts';

export interface AccessTokenClaims {
  sub: string;
  projectId: string;
  sessionId: string;
  /**
   * RFC 8693 actor chain of impersonation sessions, current actor first: `act.sub` is the first,
   * each further one nested in the previous `act` (§4.1). Empty or absent: no `act` claim.
   */
  actorChain?: readonly string[];
  /** The user, as upstream's tokens describe them; the official SDK refuses a token without it. */
  profile?: AccessTokenProfile;
}

export interface AccessTokenProfile {
  displayName: string | null;
  primaryEmail: string | null;
  primaryEmailVerified: boolean;
  signedUpAtMillis: number;
  /**
   * An anonymous user (POST /auth/anonymous/sign-up): their tokens have their own audience
   * (`<project>:anon`), issuer and signing key, as upstream's do, so a verifier that does not ask
   * for anonymous users (the default JWKS, every route without x-stack-allow-anonymous-user)
   * never takes one for a real user's.
   */
  isAnonymous?: boolean;
}

export interface VerifyOptions {
  /** Accept an anonymous user's token too (upstream's x-stack-allow-anonymous-user: true). */
  allowAnonymous?: boolean;
}

export interface VerifiedAccessToken {
  userId: string;
  projectId: string;
  sessionId: string;
  /** The current actor (`act.sub`) of an impersonation session's token. */
  actorSub?: string;
  /** The whole chain, current actor first; set whenever actorSub is. */
  actorChain?: string[];
  expiresAtMs: number;
  /** Only ever true when the verify call allowed anonymous users. */
  isAnonymous: boolean;
}

export interface AccessTokenSigner {
  sign(claims: AccessTokenClaims, nowMs: number): Promise<string>;
  /**
   * undefined for anything that is not a valid, unexpired token of ours; never throws for bad
   * input. The result's projectId is the project the token belongs to: a caller acting for a
   * known project passes it as `expectedProjectId` (or compares it), or a user of project A
   * could present A's token to project B.
   */
  verify(token: string, nowMs: number, expectedProjectId?: string, options?: VerifyOptions): Promise<VerifiedAccessToken | undefined>;
  /**
   * Public keys only: kty, crv, x, y, kid, alg "ES256", use "sig"; the signing key first. The
   * anonymous users' keys only when asked for (upstream's `include_anonymous=true`).
   */
  jwks(projectId: string, nowMs: number, options?: { includeAnonymous?: boolean }): Promise<{ keys: PublicJwk[] }>;
}

/** A project's signing-key generation, as its log says (ProjectSigningKeyRotated). */
export interface SigningKeyState {
  generation: number;
  /** The previous generation's key verifies (and is published) until then. */
  previousUntilMs?: number;
}

export type SigningKeyResolver = (projectId: string) => Promise<SigningKeyState>;

export const ACCESS_TOKEN_TTL_SECONDS = 600;
const ROLE = 'authenticated';
const BRANCH_ID = 'main';
const KEY_CACHE_SIZE = 1024;
// A verify call picks its key by the project named in the unverified payload, so these bound
// what a forged token can make us do before the signature check rejects it.
const MAX_TOKEN_LENGTH = 8192;
const MAX_PROJECT_ID_LENGTH = 128;
// Node's base64url decoder skips characters outside the alphabet, so without this check
// "<token> " or a token with stray characters in it would verify as the token itself. A valid
// token still has other valid spellings (ECDSA's (r, n-s), the spare bits of the last base64
// character): nothing may use the token string as an identity; the session id is the identity.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface AccessTokenSignerOptions {
  secret: string;
  /** Secrets rotated out (AUTHLOG_SECRET_PREVIOUS): their keys still verify, nothing is signed with them. */
  previousSecrets?: readonly string[];
  issuerBase: string;
  /** Each project's key generation; without it every project stays on generation 0. */
  signingKeys?: SigningKeyResolver;
}

export function createAccessTokenSigner(options: AccessTokenSignerOptions): AccessTokenSigner {
  if (!options.secret) throw new Error('createAccessTokenSigner: secret is empty');
  const secrets = [options.secret, ...(options.previousSecrets ?? []).filter((s) => s !== options.secret)].map((s) => Buffer.from(s, 'utf8'));
  const issuerBase = options.issuerBase.replace(/\/+$/, '');
  const signingKeys: SigningKeyResolver = options.signingKeys ?? (async () => ({ generation: 0 }));
  // Insertion-ordered Map as an LRU: a hit is re-inserted at the end, the oldest is evicted.
  const cache = new Map<string, ProjectKey>();

  const derive = (secretIndex: number, projectId: string, generation: number, audience: Audience): ProjectKey => {
    const cacheKey = `${secretIndex} ${generation} ${audience} ${projectId}`;
    const hit = cache.get(cacheKey);
    if (hit) {
      cache.delete(cacheKey);
      cache.set(cacheKey, hit);
      return hit;
    }
    const key = deriveProjectKey(secrets[secretIndex] as Buffer, projectId, generation, audience);
    cache.set(cacheKey, key);
    if (cache.size > KEY_CACHE_SIZE) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    return key;
  };

  /** The key that signs now: the current secret's, current generation. */
  const signingKeyFor = async (projectId: string, audience: Audience): Promise<ProjectKey> => derive(0, projectId, (await signingKeys(projectId)).generation, audience);

  /**
   * Every key a token of this project may verify under now, the signing key first: per secret,
   * the current generation and the previous one while its tokens live; the current secret's next
   * generation too (another instance may already sign with it, a rotation being seen by each
   * instance when its projection applies it).
   */
  const publishedKeys = async (projectId: string, nowMs: number, audience: Audience): Promise<ProjectKey[]> => {
    const state = await signingKeys(projectId);
    const keys: ProjectKey[] = [];
    for (let s = 0; s < secrets.length; s++) {
      keys.push(derive(s, projectId, state.generation, audience));
      if (s === 0) keys.push(derive(s, projectId, state.generation + 1, audience));
      if (state.generation > 0 && state.previousUntilMs !== undefined && nowMs < state.previousUntilMs) keys.push(derive(s, projectId, state.generation - 1, audience));
    }
    return keys;
  };

  // Upstream's issuers and audiences: an anonymous user's token is of another issuer and audience.
  const issuerFor = (projectId: string, audience: Audience): string =>
    `${issuerBase}/api/v1/projects${audience === 'anonymous' ? '-anonymous-users' : ''}/${projectId}`;
  const audienceFor = (projectId: string, audience: Audience): string => (audience === 'anonymous' ? `${projectId}:anon` : projectId);

  return {
    async sign(claims, nowMs) {
      for (const field of ['sub', 'projectId', 'sessionId'] as const) {
        if (typeof claims[field] !== 'string' || claims[field].length === 0) {
          throw new Error(`access token claim ${field} must be a non-empty string`);
        }
      }
      if (claims.projectId.length > MAX_PROJECT_ID_LENGTH) throw new Error('access token projectId is too long');
      if (!Number.isFinite(nowMs)) throw new Error('access token clock value is not a finite number');
      const audience: Audience = claims.profile?.isAnonymous === true ? 'anonymous' : 'users';
      const key = await signingKeyFor(claims.projectId, audience);
      const iat = Math.floor(nowMs / 1000);
      const payload: JWTPayload = {
        project_id: claims.projectId,
        branch_id: BRANCH_ID,
        refresh_token_id: claims.sessionId,
        role: ROLE,
      };
      if (claims.actorChain && claims.actorChain.length > 0) payload.act = nestActors(claims.actorChain);
      if (claims.profile) Object.assign(payload, upstreamUserClaims(claims.profile));
      // The registered claims after the custom ones, as jose's SignJWT setters placed them.
      payload.sub = claims.sub;
      payload.iss = issuerFor(claims.projectId, audience);
      payload.aud = audienceFor(claims.projectId, audience);
      payload.iat = iat;
      payload.exp = iat + ACCESS_TOKEN_TTL_SECONDS;
      return signEs256Jws({ alg: ALG, kid: key.kid, typ: 'JWT' }, payload, key.privateKey);
    },

    async verify(token, nowMs, expectedProjectId, options = {}) {
      try {
        if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) return undefined;
        if (!Number.isFinite(nowMs)) return undefined;
        // Cheap rejections before any key is derived: wrong algorithm, no kid, no project.
        const header = decodeProtectedHeader(token);
        if (header.alg !== ALG || typeof header.kid !== 'string') return undefined;
        const unverified = decodeJwt(token);
        const projectId = unverified.project_id;
        if (typeof projectId !== 'string' || projectId.length === 0 || projectId.length > MAX_PROJECT_ID_LENGTH) {
          return undefined;
        }
        if (expectedProjectId !== undefined && projectId !== expectedProjectId) return undefined;
        // The audience picks the key set: an anonymous token verifies only under the anonymous
        // users' keys, and only when the caller allows anonymous users at all.
        const audience: Audience = unverified.aud === audienceFor(projectId, 'anonymous') ? 'anonymous' : 'users';
        if (audience === 'anonymous' && options.allowAnonymous !== true) return undefined;
        const key = (await publishedKeys(projectId, nowMs, audience)).find((k) => k.kid === header.kid);
        if (!key) return undefined;

        // The project was read from the unverified payload only to choose the key; from here
        // the signature under that project's key proves the payload, and iss/aud must agree.
        const { payload } = await jwtVerify(token, key.publicKey, {
          algorithms: [ALG],
          issuer: issuerFor(projectId, audience),
          audience: audienceFor(projectId, audience),
          currentDate: new Date(nowMs),
          clockTolerance: 0,
          requiredClaims: ['sub', 'iat', 'exp'],
        });
        if (payload.project_id !== projectId || payload.role !== ROLE) return undefined;
        // Signed by the audience's own key, so this only double-checks what the key already says.
        if ((payload.is_anonymous === true) !== (audience === 'anonymous')) return undefined;
        const { sub, exp, refresh_token_id: sessionId, act } = payload;
        if (typeof sub !== 'string' || sub.length === 0) return undefined;
        if (typeof sessionId !== 'string' || sessionId.length === 0) return undefined;
        if (typeof exp !== 'number') return undefined;
        const verified: VerifiedAccessToken = { userId: sub, projectId, sessionId, expiresAtMs: exp * 1000, isAnonymous: audience === 'anonymous' };
        if (act !== undefined) {
          const chain = unnestActors(act);
          if (!chain) return undefined;
          verified.actorSub = chain[0];
          verified.actorChain = chain;
        }
        return verified;
      } catch {
        return undefined;
      }
    },

    async jwks(projectId, nowMs, options = {}) {
      const keys = [...(await publishedKeys(projectId, nowMs, 'users')), ...(options.includeAnonymous === true ? await publishedKeys(projectId, nowMs, 'anonymous') : [])];
      return { keys: keys.map((k) => ({ ...k.publicJwk })) };
    },
  };
}

const MAX_ACTOR_DEPTH = 64;
type ActClaim = { sub: string; act?: ActClaim };

function nestActors(chain: readonly string[]): ActClaim {
  let act: ActClaim | undefined;
  for (let i = chain.length - 1; i >= 0; i--) act = act ? { sub: chain[i] as string, act } : { sub: chain[i] as string };
  if (!act) throw new Error('nestActors: empty chain');
  return act;
}

/** The chain an `act` claim nests, current actor first; undefined when it is not of that shape. */
function unnestActors(act: unknown): string[] | undefined {
  const chain: string[] = [];
  let level: unknown = act;
  while (level !== undefined) {
    if (typeof level !== 'object' || level === null || !('sub' in level) || typeof level.sub !== 'string' || chain.length >= MAX_ACTOR_DEPTH) return undefined;
    chain.push(level.sub);
    level = 'act' in level ? level.act : undefined;
  }
  return chain;
}

/**
 * Upstream's user claims, which the official SDK validates in every access token (its
 * `accessTokenPayloadSchema`). authlog has no teams, restrictions or TOTP, so those are constant;
 * an anonymous user is restricted for the reason `anonymous`, as upstream says (its SDK checks
 * that the two agree). `signed_up_at` is in seconds, like every other time in a JWT.
 */
function upstreamUserClaims(profile: AccessTokenProfile): JWTPayload {
  return {
    name: profile.displayName,
    email: profile.primaryEmail,
    email_verified: profile.primaryEmailVerified,
    selected_team_id: null,
    signed_up_at: Math.floor(profile.signedUpAtMillis / 1000),
    is_anonymous: profile.isAnonymous === true,
    is_restricted: profile.isAnonymous === true,
    restricted_reason: profile.isAnonymous === true ? { type: 'anonymous' } : null,
    requires_totp_mfa: false,
  };
}
