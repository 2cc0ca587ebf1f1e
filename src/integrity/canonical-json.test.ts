// The canonical form must be the same before and after any JSON round trip, in any key order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalJson } from './canonical-json.ts';

test('keys are sorted at every depth and whitespace is gone', () => {
  assert.is(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 'x' }], c: true } }), '{"a":{"c":true,"d":[1,{"y":"x","z":0}]},"b":1}');
});

test('what a JSON round trip drops or changes is dropped or changed the same way', () => {
  const value = { keep: 'é\u2028"\\', gone: undefined, list: [undefined, 1.5e-7, -0, 12345678901234567890], nested: { n: null } };
  assert.is(canonicalJson(value), canonicalJson(JSON.parse(JSON.stringify(value))));
  assert.is(canonicalJson(undefined), 'null');
});

test('the same object written in another key order (as another adapter may return it) has the same form', () => {
  const a = JSON.parse('{"x":1,"y":{"b":2,"a":3}}');
  const b = JSON.parse('{"y":{"a":3,"b":2},"x":1}');
  assert.is(canonicalJson(a), canonicalJson(b));
});

test('a bigint, which JSON cannot hold, is refused', () => {
  assert.throws(() => canonicalJson({ n: 1n }), /bigint/);
});

test.run();
