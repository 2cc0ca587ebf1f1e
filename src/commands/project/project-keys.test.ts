// The key lifecycle rules, pure (project-keys.ts): who may rotate, how graces run, what revoking does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { throwsKnown } from '../../../test/support/throws-known.ts';
import { decideKeyCommand, isKeyLive, keysAfterCreated, keysAfterRevoked, keysAfterRotated, type ProjectKey } from './project-keys.ts';

const projectId = randomUUID();
const record = () => ({ id: randomUUID(), digest: `digest-${randomUUID()}` });
const created = (): ProjectKey[] => keysAfterCreated({ publishableClientKey: record(), secretServerKey: record(), superSecretAdminKey: record() });
const NOW = 1_700_000_000_000;

function rotateOnce(keys: ProjectKey[], graceMs: number, nowMs = NOW): ProjectKey[] {
  const [event] = decideKeyCommand(keys, { type: 'RotateKey', projectId, kind: 'server', newKey: record(), graceMs, nowMs });
  if (event?.type !== 'ProjectKeyRotated') throw new Error('no rotation');
  return keysAfterRotated(keys, event.data);
}

test('a rotation makes a new current key and gives the old one exactly its grace', () => {
  const keys = created();
  const old = keys.find((k) => k.kind === 'server')!;
  const after = rotateOnce(keys, 60_000);
  const retired = after.find((k) => k.id === old.id)!;
  assert.is(retired.endsAtMillis, NOW + 60_000);
  assert.ok(isKeyLive(retired, NOW + 59_999));
  assert.not.ok(isKeyLive(retired, NOW + 60_000));
  assert.is(after.filter((k) => k.kind === 'server' && k.endsAtMillis === undefined).length, 1);
});

test('a second rotation never lengthens the grace of the key rotated out first', () => {
  const keys = created();
  const first = keys.find((k) => k.kind === 'server')!;
  const after = rotateOnce(rotateOnce(keys, 10_000), 3_600_000, NOW + 1);
  assert.is(after.find((k) => k.id === first.id)!.endsAtMillis, NOW + 10_000);
});

test('a key in its grace may not rotate or revoke; an unknown manager key may not either', () => {
  const keys = created();
  const oldAdmin = keys.find((k) => k.kind === 'admin')!;
  const after = rotateOnce(keys, 60_000);
  const byRetired = rotateOnce(keysAfterRotated(after, { projectId, kind: 'admin', newKey: record(), previousKey: oldAdmin, previousKeyEndsAtMillis: NOW + 60_000, rotatedAtMillis: NOW }), 0);
  throwsKnown(() => decideKeyCommand(byRetired, { type: 'RotateKey', projectId, kind: 'admin', newKey: record(), graceMs: 0, nowMs: NOW, byKeyId: oldAdmin.id }), 'API_KEY_RETIRING');
  throwsKnown(() => decideKeyCommand(byRetired, { type: 'RevokeKey', projectId, keyId: oldAdmin.id, nowMs: NOW, byKeyId: oldAdmin.id }), 'API_KEY_RETIRING');
  throwsKnown(() => decideKeyCommand(keys, { type: 'RevokeKey', projectId, keyId: oldAdmin.id, nowMs: NOW, byKeyId: randomUUID() }), 'API_KEY_RETIRING');
});

test('revoking removes the key; revoking one whose grace is over decides nothing; an unknown id is API_KEY_NOT_FOUND', () => {
  const keys = created();
  const server = keys.find((k) => k.kind === 'server')!;
  const [event] = decideKeyCommand(keys, { type: 'RevokeKey', projectId, keyId: server.id, nowMs: NOW });
  assert.is(event?.type, 'ProjectKeyRevoked');
  if (event?.type === 'ProjectKeyRevoked') assert.not.ok(keysAfterRevoked(keys, event.data).some((k) => k.id === server.id));
  const after = rotateOnce(keys, 1000);
  assert.equal(decideKeyCommand(after, { type: 'RevokeKey', projectId, keyId: server.id, nowMs: NOW + 1000 }), []);
  throwsKnown(() => decideKeyCommand(keys, { type: 'RevokeKey', projectId, keyId: randomUUID(), nowMs: NOW }), 'API_KEY_NOT_FOUND');
  throwsKnown(() => decideKeyCommand(keys, { type: 'RotateKey', projectId, kind: 'client', newKey: record(), graceMs: -1, nowMs: NOW }), 'SCHEMA_ERROR');
});

test.run();
