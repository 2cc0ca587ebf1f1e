// Sealing and opening personal data: what opens, what never does, and what an erasure leaves.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPersonalData } from './personal-data.ts';
import { openSqliteDataKeyStore } from '../keystore/sqlite-data-key-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'authlog-pd-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = 'personal-data-test-secret-0123456789abcdef';
let n = 0;
const keys = () => openSqliteDataKeyStore(join(dir, `keys-${++n}.db`));

test('a sealed value opens under its subject, and shows [erased] once the subject is erased', async () => {
  const pd = createPersonalData(SECRET, keys());
  const sealed = await pd.seal('user:a', 'ada@example.com');
  assert.not.ok(JSON.stringify(sealed).includes('ada'));
  assert.is(await pd.tryOpen(sealed), 'ada@example.com');
  assert.equal(await pd.erase(['user:a', 'user:never']), ['user:a']);
  assert.is(await pd.tryOpen(sealed), undefined);
  assert.is(await pd.show(sealed), '[erased]');
  assert.is(await pd.show(null), null);
});

test('a key made again after an erasure never opens what the old one sealed', async () => {
  const pd = createPersonalData(SECRET, keys());
  const before = await pd.seal('email:p.d', 'old@example.com');
  await pd.erase(['email:p.d']);
  const after = await pd.seal('email:p.d', 'new@example.com');
  assert.is.not(after.key, before.key);
  assert.is(await pd.tryOpen(before), undefined);
  assert.is(await pd.tryOpen(after), 'new@example.com');
});

test('a sealed value moved under another subject does not open (subject and key id are bound to it)', async () => {
  const pd = createPersonalData(SECRET, keys());
  const a = await pd.seal('user:a', 'secret of a');
  const b = await pd.seal('user:b', 'secret of b');
  assert.is(await pd.tryOpen({ ...a, subject: 'user:b', key: b.key }), undefined);
  assert.is(await pd.tryOpen({ ...a, data: b.data }), undefined);
});

test('another secret opens nothing; with the old one as previous, keys open and are rewrapped under the new one', async () => {
  const store = keys();
  const old = createPersonalData(SECRET, store);
  const sealed = await old.seal('user:r', 'rotated@example.com');
  assert.is(await createPersonalData('another-secret-entirely-0123456789abcdef', store).tryOpen(sealed), undefined);
  const rotated = createPersonalData('the-new-secret-after-rotation-0123456789', store, Date.now, [SECRET]);
  assert.is(await rotated.tryOpen(sealed), 'rotated@example.com');
  // Rewrapped: the new secret alone opens it now.
  assert.is(await createPersonalData('the-new-secret-after-rotation-0123456789', store).tryOpen(sealed), 'rotated@example.com');
});

test('showDeep opens every sealed value of an event and leaves the rest as it was', async () => {
  const pd = createPersonalData(SECRET, keys());
  const event = { userId: 'u', primaryEmail: await pd.seal('user:u', 'u@example.com'), nested: [{ ip: await pd.seal('origin:2026-12-01', '10.0.0.1') }], n: 3 };
  assert.equal(await pd.showDeep(event), { userId: 'u', primaryEmail: 'u@example.com', nested: [{ ip: '10.0.0.1' }], n: 3 });
});

test.run();
