// Keys, tokens and codes are looked up by their HMAC digest. What makes that constant-time in
// the sense that matters: how much of a guessed key is right says nothing about how much of its
// digest matches the real one, so no lookup (a Map, a Redis GET, a string compare) can leak it.
import { createHmac } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHasher } from './digests.ts';
import { newApiKey } from './codes.ts';

const hasher = createHasher('digest-test-secret-0123456789-abcdefghijkl');

const commonPrefix = (a: string, b: string): number => {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i;
};

test('a guess that is right but for its last character shares no more of the digest than a random one', () => {
  const key = newApiKey('secret-server');
  const real = hasher.digest('api-key', key);
  const shared: number[] = [];
  for (let right = 0; right < key.length; right++) {
    const guess = key.slice(0, right) + (key[right] === 'a' ? 'b' : 'a') + key.slice(right + 1);
    shared.push(commonPrefix(hasher.digest('api-key', guess), real));
  }
  // 64 symbols of base64url: a shared prefix of 4+ happens by chance once in ~16M guesses.
  assert.ok(Math.max(...shared) <= 3, `shared digest prefixes: ${shared.join(',')}`);
  const nearlyRight = shared.slice(-8).reduce((a, b) => a + b, 0);
  const mostlyWrong = shared.slice(4, 12).reduce((a, b) => a + b, 0);
  assert.ok(nearlyRight <= mostlyWrong + 4, 'being nearly right does not bring the digest closer');
});

test('digests are separated by purpose: a refresh token\'s digest is never a key\'s', () => {
  const value = newApiKey('publishable-client');
  assert.is.not(hasher.digest('api-key', value), hasher.digest('refresh-token', value));
  assert.is.not(hasher.digest('api-key', value), createHasher('another-secret-0123456789-abcdefghijklmn').digest('api-key', value));
});

test('same() compares digests exactly (it is timingSafeEqual on equal lengths)', () => {
  const a = hasher.digest('api-key', 'x');
  assert.ok(hasher.same(a, hasher.digest('api-key', 'x')));
  assert.not.ok(hasher.same(a, hasher.digest('api-key', 'y')));
  assert.not.ok(hasher.same(a, a.slice(0, -1)));
  assert.not.ok(hasher.same(a, a.slice(0, -1) + (a.endsWith('A') ? 'B' : 'A')));
});

const plainHmac = (secret: string, purpose: string, value: string): string =>
  createHmac('sha256', secret).update(purpose).update('\0').update(value, 'utf8').digest('base64url');

test('a recurring value (a key, an address) digests the same from the memo as made afresh, under every secret of the keyring', () => {
  const rotated = createHasher('the-current-secret-0123456789-abcdefghij', ['the-previous-secret-0123456789-abcdefgh']);
  for (const purpose of ['api-key', 'rate-limit-key'] as const) {
    for (const value of ['pck_one', '203.0.113.7', 'pck_one']) {
      const expected = [plainHmac('the-current-secret-0123456789-abcdefghij', purpose, value), plainHmac('the-previous-secret-0123456789-abcdefgh', purpose, value)];
      assert.is(rotated.digest(purpose, value), expected[0], `${purpose} ${value}: digest`);
      assert.equal(rotated.candidates(purpose, value), expected, `${purpose} ${value}: candidates`);
    }
  }
});

test('the digest memo keeps its answers right past its bound (random keys only cost it its hits)', () => {
  const secret = 'memo-bound-secret-0123456789-abcdefghijklm';
  const h = createHasher(secret);
  const first = h.digest('api-key', 'pck_first');
  for (let i = 0; i < 25_000; i++) h.digest('rate-limit-key', `198.51.100.${i}`);
  assert.is(h.digest('api-key', 'pck_first'), first);
  assert.is(h.digest('rate-limit-key', '198.51.100.24999'), plainHmac(secret, 'rate-limit-key', '198.51.100.24999'));
  // A caller changing the list it was given does not change what the memo answers next.
  h.candidates('api-key', 'pck_first').push('forged');
  assert.equal(h.candidates('api-key', 'pck_first'), [first]);
});

test.run();
