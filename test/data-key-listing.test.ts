// The data-key store lists every key it holds (issue #22: `authlog secret status` counts those
// still wrapped under the previous secret), erased ones left out, on both adapters.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startEsdbDouble } from './support/esdb-double.ts';
import { openEsdbDataKeyStore } from '../src/keystore/esdb-data-key-store.ts';
import { openSqliteDataKeyStore } from '../src/keystore/sqlite-data-key-store.ts';
import type { DataKeyStore } from '../src/keystore/data-key-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'authlog-key-list-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function listsWhatItHolds(ks: DataKeyStore): Promise<void> {
  for (const s of ['user:a', 'user:b', 'origin:2024-01-01']) await ks.putIfAbsent({ subject: s, keyId: `k-${s}`, wrapped: Buffer.from(s) });
  await ks.rewrap({ subject: 'user:a', keyId: 'k-user:a', wrapped: Buffer.from('rewrapped') });
  await ks.erase(['user:b']);
  const listed = [];
  for await (const k of ks.list()) listed.push({ subject: k.subject, wrapped: k.wrapped.toString() });
  assert.equal(listed.sort((x, y) => x.subject.localeCompare(y.subject)), [
    { subject: 'origin:2024-01-01', wrapped: 'origin:2024-01-01' },
    { subject: 'user:a', wrapped: 'rewrapped' },
  ]);
}

test('the sqlite key store lists its keys as last wrapped, without the erased ones', async () => {
  const ks = openSqliteDataKeyStore(join(dir, 'keys.db'));
  try {
    await listsWhatItHolds(ks);
  } finally {
    await ks.close();
  }
});

test('the EventStoreDB key store lists its keys as last wrapped, without the erased ones or its index', async () => {
  const double = await startEsdbDouble();
  const ks = openEsdbDataKeyStore(double.url);
  try {
    await listsWhatItHolds(ks);
  } finally {
    await ks.close();
    await double.stop();
  }
});

test.run();
