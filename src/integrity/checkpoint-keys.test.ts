// Checkpoint signing: derived from the secret, checkable with the public key alone, trust handed on by rotation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPublicKey, verify } from 'node:crypto';
import { checkpointKeyOf, checkpointKeyring } from './checkpoint-keys.ts';
import { signBody, trustedRecords, validSigners, SIGNATURE_DOMAIN } from './signed-record.ts';
import { canonicalJson } from './canonical-json.ts';

const OLD = 'checkpoint-test-secret-old-0123456789abcdef';
const NEW = 'checkpoint-test-secret-new-0123456789abcdef';

test('the key is derived from the secret: the same secret gives the same key, another secret another', () => {
  assert.is(checkpointKeyOf(OLD).kid, checkpointKeyOf(OLD).kid);
  assert.is.not(checkpointKeyOf(OLD).kid, checkpointKeyOf(NEW).kid);
});

test('a signature checks with nothing but the published JWK, by the documented procedure', () => {
  const body = { v: 1, position: '42', digest: 'abc', nested: { b: 1, a: 2 } };
  const [signature] = signBody(body, [checkpointKeyOf(NEW)]);
  const jwk = checkpointKeyring({ value: NEW, previous: [] }).jwks().keys[0]!;
  const { status: _s, ...publicJwk } = jwk;
  const ok = verify(null, Buffer.from(SIGNATURE_DOMAIN + canonicalJson(body)), createPublicKey({ key: publicJwk, format: 'jwk' }), Buffer.from(signature!.sig, 'base64url'));
  assert.ok(ok);
  assert.ok(validSigners(body, [signature!]).has(jwk.kid));
});

test('a changed body, or a signature by a key named with another kid, is not valid', () => {
  const body = { v: 1, position: '42' };
  const [signature] = signBody(body, [checkpointKeyOf(NEW)]);
  assert.is(validSigners({ ...body, position: '43' }, [signature!]).size, 0);
  assert.is(validSigners(body, [{ ...signature!, kid: checkpointKeyOf(OLD).kid }]).size, 0);
});

test('a record signed by the old and the new key hands trust on: old-only records stay trusted after the old secret is gone', () => {
  const oldOnly = { body: { n: 1 }, signatures: signBody({ n: 1 }, [checkpointKeyOf(OLD)]) };
  const both = { body: { n: 2 }, signatures: signBody({ n: 2 }, checkpointKeyring({ value: NEW, previous: [OLD] }).signing) };
  const forged = { body: { n: 3 }, signatures: signBody({ n: 3 }, [checkpointKeyOf('someone-else-entirely-0123456789abcdef')]) };
  const records = [oldOnly, both, forged];
  const trusted = trustedRecords(records, (r) => validSigners(r.body, r.signatures), [checkpointKeyOf(NEW).kid]);
  assert.ok(trusted.has(oldOnly) && trusted.has(both));
  assert.not.ok(trusted.has(forged));
});

test.run();
