// The log digest: a running hash, so a later state extends an earlier one; ephemeral events apart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LogDigestFold, EMPTY_DIGEST, emptyLogDigest } from './log-digest.ts';

const h = (n: number) => Buffer.alloc(32, n).toString('base64url');

test('folding the events after an earlier state onto it gives the same digest as folding everything', () => {
  const whole = new LogDigestFold();
  const events: [string, bigint, bigint][] = [['user-a', 0n, 1n], ['user-a', 1n, 2n], ['session-b', 0n, 3n], ['user-a', 2n, 4n]];
  events.forEach(([s, r, p], i) => whole.add(s, r, p, h(i)));
  const first = new LogDigestFold();
  events.slice(0, 2).forEach(([s, r, p], i) => first.add(s, r, p, h(i)));
  const rest = new LogDigestFold(first.state);
  events.slice(2).forEach(([s, r, p], i) => rest.add(s, r, p, h(i + 2)));
  assert.equal(rest.state, whole.state);
  assert.equal([whole.state.events, whole.state.streams, whole.state.position], [4, 2, '4']);
});

test('a changed hash, a changed position or another order each give another digest', () => {
  const digestOf = (events: [bigint, number][]) => {
    const fold = new LogDigestFold();
    for (const [p, n] of events) fold.add('user-a', p - 1n, p, h(n));
    return fold.state.digest;
  };
  const base = digestOf([[1n, 1], [2n, 2]]);
  assert.is.not(digestOf([[1n, 1], [2n, 3]]), base);
  assert.is.not(digestOf([[1n, 1], [3n, 2]]), base);
  assert.is.not(digestOf([[1n, 2], [2n, 1]]), base);
});

test('ephemeral events fold apart from durable ones and never count as durable streams', () => {
  const fold = new LogDigestFold();
  fold.add('cliAuth-x', 0n, 1n, h(1));
  assert.equal([fold.state.digest, fold.state.events, fold.state.streams, fold.state.ephemeralEvents], [EMPTY_DIGEST, 0, 0, 1]);
  assert.is.not(fold.state.ephemeralDigest, emptyLogDigest().ephemeralDigest);
});

test.run();
