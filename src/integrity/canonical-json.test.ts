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

test('for random JSON values, the canonical form parses back to what a JSON round trip gives, whatever the order of the keys', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const value = (depth: number): unknown => {
    const p = random();
    if (depth > 3 || p < 0.3) return p < 0.1 ? null : p < 0.2 ? Math.floor(random() * 1e9) / 7 : `s${random()}"\\é`;
    if (p < 0.6) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
    const o: Record<string, unknown> = {};
    for (let k = 0; k < random() * 5; k++) o[`${String.fromCharCode(65 + Math.floor(random() * 58))}${k}`] = random() < 0.1 ? undefined : value(depth + 1);
    return o;
  };
  const reversed = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(reversed) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversed(x)])) : v;
  for (let i = 0; i < 500; i++) {
    const v = value(0);
    const text = canonicalJson(v);
    assert.equal(JSON.parse(text), JSON.parse(JSON.stringify(v) ?? 'null'));
    assert.is(canonicalJson(reversed(v)), text);
  }
});

test.run();
