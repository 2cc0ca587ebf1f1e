// Keys, tokens and codes are looked up by their HMAC digest. What makes that constant-time in
// the sense that matters: how much of a guessed key is right says nothing about how much of its
// digest matches the real one, so no lookup (a Map, a Redis GET, a string compare) can leak it.
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

test.run();
