import { createECDH, createHmac, createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAccessTokenSigner, type AccessTokenSigner } from './access-tokens.ts';
import { isValidP256Scalar } from './signing-key-derivation.ts';

const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
const ISSUER_BASE = 'https://auth.example.test';
const PROJECT_A = '8f1c6a52-3b8e-4d5e-9f0a-1b2c3d4e5f60';
const PROJECT_B = '0a9b8c7d-6e5f-4a3b-8c1d-0e9f8a7b6c5d';
const USER = '5d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a';
const SESSION = 'c4b3a291-8f7e-4d6c-9b5a-4e3d2c1b0a9f';
const ADMIN = 'e1d2c3b4-a596-4877-8695-a4b3c2d1e0f9';
const NOW = 1_760_000_000_123;

const signer = (secret = SECRET): AccessTokenSigner => createAccessTokenSigner({ secret, issuerBase: ISSUER_BASE });

const b64urlJson = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const parts = (token: string): [string, string, string] => {
  const [h, p, s] = token.split('.');
  if (h === undefined || p === undefined || s === undefined) throw new Error('not a compact JWS');
  return [h, p, s];
};
const payloadOf = (token: string): JWTPayload => JSON.parse(Buffer.from(parts(token)[1], 'base64url').toString('utf8')) as JWTPayload;

/**
 * Re-derives a project's key from the documented recipe, independently of the module: pins the
 * derivation (a change would silently rotate every deployed key) and lets tests forge tokens
 * with the real key but wrong claims.
 */
function deriveIndependently(secret: string, projectId: string): { privateKey: KeyObject; x: string; y: string } {
  const d = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), `authlog access-token signing key v1 ${projectId}`, 32));
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const pub = ecdh.getPublicKey();
  const x = pub.subarray(1, 33).toString('base64url');
  const y = pub.subarray(33).toString('base64url');
  return { privateKey: createPrivateKey({ key: { kty: 'EC', crv: 'P-256', x, y, d: d.toString('base64url') }, format: 'jwk' }), x, y };
}

async function forge(projectId: string, kid: string, claims: JWTPayload, keyProject = projectId): Promise<string> {
  const { privateKey } = deriveIndependently(SECRET, keyProject);
  const iat = Math.floor(NOW / 1000);
  return new SignJWT({
    sub: USER,
    iss: `${ISSUER_BASE}/api/v1/projects/${projectId}`,
    aud: projectId,
    iat,
    exp: iat + 600,
    project_id: projectId,
    branch_id: 'main',
    refresh_token_id: SESSION,
    role: 'authenticated',
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', kid })
    .sign(privateKey);
}

async function kidOf(s: AccessTokenSigner, projectId: string): Promise<string> {
  const key = (await s.jwks(projectId, NOW)).keys[0];
  if (!key) throw new Error('empty JWKS');
  return key.kid;
}

test('a signed token verifies against the JWKS as an external client would, with every claim', async () => {
  const s = signer();
  const token = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION }, NOW);
  const jwks = await s.jwks(PROJECT_A, NOW);
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
    algorithms: ['ES256'],
    issuer: `${ISSUER_BASE}/api/v1/projects/${PROJECT_A}`,
    audience: PROJECT_A,
    currentDate: new Date(NOW),
  });
  const iat = Math.floor(NOW / 1000);
  assert.is(protectedHeader.alg, 'ES256');
  assert.is(protectedHeader.kid, jwks.keys[0]?.kid);
  assert.equal(payload, {
    sub: USER,
    iss: `${ISSUER_BASE}/api/v1/projects/${PROJECT_A}`,
    aud: PROJECT_A,
    iat,
    exp: iat + 600,
    project_id: PROJECT_A,
    branch_id: 'main',
    refresh_token_id: SESSION,
    role: 'authenticated',
  });
  assert.equal(await s.verify(token, NOW), {
    userId: USER,
    projectId: PROJECT_A,
    sessionId: SESSION,
    expiresAtMs: (iat + 600) * 1000,
    isAnonymous: false,
  });
  assert.ok(await s.verify(token, NOW, PROJECT_A));
});

test('the JWKS holds only the public halves, with kid, alg and use: the signing key and the next one', async () => {
  const { keys } = await signer().jwks(PROJECT_A, NOW);
  assert.is(keys.length, 2);
  assert.is.not(keys[0]!.kid, keys[1]!.kid);
  const key = keys[0]!;
  assert.equal(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  assert.is(key.kty, 'EC');
  assert.is(key.crv, 'P-256');
  assert.is(key.alg, 'ES256');
  assert.is(key.use, 'sig');
});

test('kid is the RFC 7638 thumbprint of the public key, cut to 16 bytes', async () => {
  const key = (await signer().jwks(PROJECT_A, NOW)).keys[0]!;
  const thumbprint = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: key.x, y: key.y });
  assert.is(key.kid, Buffer.from(thumbprint, 'base64url').subarray(0, 16).toString('base64url'));
});

test('the key is the documented derivation: HKDF-SHA-256 of the secret, info "authlog access-token signing key v1 <projectId>"', async () => {
  const key = (await signer().jwks(PROJECT_A, NOW)).keys[0]!;
  const { x, y } = deriveIndependently(SECRET, PROJECT_A);
  assert.is(key.x, x);
  assert.is(key.y, y);
});

test('an impersonation token carries act.sub and verifies with the actor', async () => {
  const s = signer();
  const token = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION, actorChain: [ADMIN] }, NOW);
  assert.equal(payloadOf(token).act, { sub: ADMIN });
  const verified = await s.verify(token, NOW);
  assert.is(verified?.actorSub, ADMIN);
  assert.is(verified?.userId, USER);
});

test('a derived session\'s token nests its actor chain in act (RFC 8693 §4.1) and verifies with the whole chain', async () => {
  const s = signer();
  const chain = ['admin-user:a', 'server-key:k', 'admin-key:z'];
  const token = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION, actorChain: chain }, NOW);
  assert.equal(payloadOf(token).act, { sub: 'admin-user:a', act: { sub: 'server-key:k', act: { sub: 'admin-key:z' } } });
  const verified = await s.verify(token, NOW);
  assert.is(verified?.actorSub, 'admin-user:a');
  assert.equal(verified?.actorChain, chain);
  const plain = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION, actorChain: [] }, NOW);
  assert.is(payloadOf(plain).act, undefined, 'an empty chain is no act claim');
});

test('same secret, new signer (a restart or another instance): same kid, same key, tokens still verify', async () => {
  const first = signer();
  const token = await first.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION }, NOW);
  const second = signer();
  assert.equal(await second.jwks(PROJECT_A, NOW), await first.jwks(PROJECT_A, NOW));
  assert.is((await second.verify(token, NOW))?.userId, USER);
});

test('another secret gives another key, and tokens of the old secret stop verifying', async () => {
  const token = await signer().sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION }, NOW);
  const other = signer('another-secret-fedcba9876543210');
  assert.is.not(await kidOf(other, PROJECT_A), await kidOf(signer(), PROJECT_A));
  assert.is(await other.verify(token, NOW), undefined);
});

test('another project has another kid, and a token of project A never verifies as project B', async () => {
  const s = signer();
  const kidA = await kidOf(s, PROJECT_A);
  const kidB = await kidOf(s, PROJECT_B);
  assert.is.not(kidA, kidB);
  const tokenA = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION }, NOW);
  assert.is(await s.verify(tokenA, NOW, PROJECT_B), undefined);

  // B's JWKS, as an external client of project B holds it, rejects A's token.
  try {
    await jwtVerify(tokenA, createLocalJWKSet(await s.jwks(PROJECT_B, NOW)), { currentDate: new Date(NOW) });
    assert.unreachable('project B JWKS accepted a project A token');
  } catch (error) {
    assert.instance(error, Error);
    assert.not.instance(error, assert.Assertion);
  }

  // Relabelling A's token as B breaks the signature.
  const [h, , sig] = parts(tokenA);
  const relabelled = `${h}.${b64urlJson({ ...payloadOf(tokenA), project_id: PROJECT_B, aud: PROJECT_B, iss: `${ISSUER_BASE}/api/v1/projects/${PROJECT_B}` })}.${sig}`;
  assert.is(await s.verify(relabelled, NOW), undefined);

  // Validly signed with A's key but claiming project B, under either kid.
  assert.is(await s.verify(await forge(PROJECT_B, kidA, {}, PROJECT_A), NOW), undefined);
  assert.is(await s.verify(await forge(PROJECT_B, kidB, {}, PROJECT_A), NOW), undefined);
});

test('iss, aud and role are checked against the project even under a valid signature', async () => {
  const s = signer();
  const kidA = await kidOf(s, PROJECT_A);
  assert.ok(await s.verify(await forge(PROJECT_A, kidA, {}), NOW), 'the forging helper makes valid tokens');
  assert.is(await s.verify(await forge(PROJECT_A, kidA, { aud: PROJECT_B }), NOW), undefined);
  assert.is(await s.verify(await forge(PROJECT_A, kidA, { iss: `${ISSUER_BASE}/api/v1/projects/${PROJECT_B}` }), NOW), undefined);
  assert.is(await s.verify(await forge(PROJECT_A, kidA, { iss: 'https://evil.example' }), NOW), undefined);
  assert.is(await s.verify(await forge(PROJECT_A, kidA, { role: 'admin' }), NOW), undefined);
  assert.is(await s.verify(await forge(PROJECT_A, kidA, { refresh_token_id: 42 }), NOW), undefined);
  assert.is(await s.verify(await forge(PROJECT_A, kidA, { act: 'not-an-object' }), NOW), undefined);
  assert.is(await s.verify(await forge(PROJECT_A, 'some-other-kid', {}), NOW), undefined);
});

test('expiry follows the injected clock: valid at +599 s, undefined at +600 s and +601 s', async () => {
  const s = signer();
  const token = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION }, NOW);
  assert.ok(await s.verify(token, NOW + 599_000));
  assert.is(await s.verify(token, Math.floor(NOW / 1000) * 1000 + 600_000), undefined);
  assert.is(await s.verify(token, NOW + 601_000), undefined);
});

test('tampered payload or signature → undefined', async () => {
  const s = signer();
  const token = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION }, NOW);
  const [h, , sig] = parts(token);
  assert.is(await s.verify(`${h}.${b64urlJson({ ...payloadOf(token), sub: ADMIN })}.${sig}`, NOW), undefined);
  assert.is(await s.verify(`${h}.${b64urlJson({ ...payloadOf(token), exp: 9_999_999_999 })}.${sig}`, NOW), undefined);
  const flipped = Buffer.from(sig, 'base64url');
  flipped[10] = (flipped[10] ?? 0) ^ 1;
  assert.is(await s.verify(`${parts(token)[0]}.${parts(token)[1]}.${flipped.toString('base64url')}`, NOW), undefined);
  assert.is(await s.verify(`${parts(token)[0]}.${parts(token)[1]}.`, NOW), undefined);
});

test('alg "none" → undefined', async () => {
  const s = signer();
  const token = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION }, NOW);
  const kid = decodeProtectedHeader(token).kid;
  const unsigned = `${b64urlJson({ alg: 'none', kid, typ: 'JWT' })}.${parts(token)[1]}.`;
  assert.is(await s.verify(unsigned, NOW), undefined);
  assert.is(await s.verify(`${b64urlJson({ alg: 'none' })}.${parts(token)[1]}.`, NOW), undefined);
});

test('HS256 "signed" with the public key (algorithm confusion) → undefined', async () => {
  const s = signer();
  const token = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION }, NOW);
  const jwk = (await s.jwks(PROJECT_A, NOW)).keys[0]!;
  const publicPem = String(createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' }).export({ format: 'pem', type: 'spki' }));
  const signingInput = `${b64urlJson({ alg: 'HS256', kid: jwk.kid, typ: 'JWT' })}.${parts(token)[1]}`;
  for (const hmacKey of [publicPem, JSON.stringify(jwk), String(jwk.x)]) {
    const mac = createHmac('sha256', hmacKey).update(signingInput).digest('base64url');
    assert.is(await s.verify(`${signingInput}.${mac}`, NOW), undefined);
  }
});

test('garbage never throws and never verifies', async () => {
  const s = signer();
  const token = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION }, NOW);
  const [h, p] = parts(token);
  const garbage: unknown[] = [
    '',
    'abc',
    'a.b.c',
    '...',
    '....',
    `${h}.${p}`,
    `${h}.${p}.${parts(token)[2]}.extra`,
    `${h}.!!!.${parts(token)[2]}`,
    `${b64urlJson('not an object')}.${p}.xx`,
    `${h}.${Buffer.from('not json').toString('base64url')}.xx`,
    `${h}.${b64urlJson({ project_id: 42 })}.xx`,
    `${h}.${b64urlJson({ project_id: 'x'.repeat(10_000) })}.xx`,
    `${b64urlJson({ alg: 'ES256' })}.${p}.${parts(token)[2]}`,
    'x'.repeat(100_000),
    `${token} `,
    ` ${token}`,
    `${h}.${p}.${parts(token)[2].slice(0, 20)}+/${parts(token)[2].slice(20)}`,
    `${h}.${p}.${parts(token)[2]}==`,
    undefined,
    null,
    42,
    {},
  ];
  for (const input of garbage) {
    assert.is(await s.verify(input as string, NOW), undefined, `accepted ${String(input).slice(0, 40)}`);
  }
  assert.is(await s.verify(token, Number.NaN), undefined);
});

test('sign refuses incomplete claims (a programming error, not user input)', async () => {
  const s = signer();
  for (const claims of [
    { sub: '', projectId: PROJECT_A, sessionId: SESSION },
    { sub: USER, projectId: '', sessionId: SESSION },
    { sub: USER, projectId: PROJECT_A, sessionId: '' },
  ]) {
    try {
      await s.sign(claims, NOW);
      assert.unreachable('signed incomplete claims');
    } catch (error) {
      assert.not.instance(error, assert.Assertion);
    }
  }
  assert.throws(() => createAccessTokenSigner({ secret: '', issuerBase: ISSUER_BASE }));
});

test('scalar validity: 0 and values ≥ n are rejected, 1 and n-1 accepted', () => {
  const hex = (h: string): Buffer => Buffer.from(h.padStart(64, '0'), 'hex');
  const n = 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551';
  assert.not.ok(isValidP256Scalar(hex('0')));
  assert.ok(isValidP256Scalar(hex('1')));
  assert.ok(isValidP256Scalar(hex('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550')));
  assert.not.ok(isValidP256Scalar(hex(n)));
  assert.not.ok(isValidP256Scalar(hex('f'.repeat(64))));
  assert.not.ok(isValidP256Scalar(Buffer.alloc(31, 1)));
});

const anonymousProfile = { displayName: null, primaryEmail: null, primaryEmailVerified: false, signedUpAtMillis: NOW, isAnonymous: true };

test("an anonymous user's token has upstream's anonymous audience and issuer, and says so in its claims", async () => {
  const token = await signer().sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION, profile: anonymousProfile }, NOW);
  const payload = payloadOf(token);
  assert.is(payload.aud, `${PROJECT_A}:anon`);
  assert.is(payload.iss, `${ISSUER_BASE}/api/v1/projects-anonymous-users/${PROJECT_A}`);
  assert.is(payload.is_anonymous, true);
  assert.is(payload.is_restricted, true);
  assert.equal(payload.restricted_reason, { type: 'anonymous' });
});

test("an anonymous user's token verifies only where anonymous users are allowed, and is marked anonymous there", async () => {
  const s = signer();
  const token = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION, profile: anonymousProfile }, NOW);
  assert.is(await s.verify(token, NOW), undefined, 'not a user token by default (an admin token, every route without the header)');
  assert.is(await s.verify(token, NOW, PROJECT_A), undefined);
  assert.is((await s.verify(token, NOW, PROJECT_A, { allowAnonymous: true }))?.isAnonymous, true);
  const plain = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION }, NOW);
  assert.is((await s.verify(plain, NOW, PROJECT_A, { allowAnonymous: true }))?.isAnonymous, false);
});

test("anonymous users' keys are their own, listed in the JWKS only with includeAnonymous, as upstream's include_anonymous", async () => {
  const s = signer();
  const token = await s.sign({ sub: USER, projectId: PROJECT_A, sessionId: SESSION, profile: anonymousProfile }, NOW);
  const plainKeys = (await s.jwks(PROJECT_A, NOW)).keys;
  const withAnonymous = (await s.jwks(PROJECT_A, NOW, { includeAnonymous: true })).keys;
  const kid = decodeProtectedHeader(token).kid;
  assert.not.ok(plainKeys.some((k) => k.kid === kid), "the plain JWKS cannot verify an anonymous user's token");
  assert.ok(withAnonymous.some((k) => k.kid === kid));
  assert.is(withAnonymous.length, plainKeys.length * 2);
  // An external verifier holding the JWKS with anonymous keys checks it like upstream's tokens.
  const { payload } = await jwtVerify(token, createLocalJWKSet({ keys: withAnonymous }), { audience: `${PROJECT_A}:anon`, currentDate: new Date(NOW) });
  assert.is(payload.sub, USER);
  await jwtVerify(token, createLocalJWKSet({ keys: plainKeys }), { currentDate: new Date(NOW) }).then(
    () => assert.unreachable('verified under the plain JWKS'),
    () => undefined,
  );
});

test("a token claiming the anonymous audience but signed with the users' key does not verify, nor the reverse", async () => {
  const { privateKey, x } = deriveIndependently(SECRET, PROJECT_A);
  const usersKey = (await signer().jwks(PROJECT_A, NOW)).keys[0];
  assert.is(usersKey?.x, x, "the users' current key, as derived independently");
  const kid = usersKey?.kid;
  const forged = await new SignJWT({ project_id: PROJECT_A, branch_id: 'main', refresh_token_id: SESSION, role: 'authenticated', is_anonymous: true })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .setSubject(USER)
    .setIssuer(`${ISSUER_BASE}/api/v1/projects-anonymous-users/${PROJECT_A}`)
    .setAudience(`${PROJECT_A}:anon`)
    .setIssuedAt(Math.floor(NOW / 1000))
    .setExpirationTime(Math.floor(NOW / 1000) + 600)
    .sign(privateKey);
  assert.is(await signer().verify(forged, NOW, PROJECT_A, { allowAnonymous: true }), undefined);
});

test.run();
