// `authlog log seal-personal-data` (issue #23): a log written before sealing existed, with plain
// emails, names, addresses and user agents, is rewritten in place so none remains in the file; what
// was readable stays readable through the service, and users deleted back then are erased now.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openSqliteEventStore } from '../src/store/sqlite-event-store.ts';
import { ANY, type NewEvent } from '../src/store/event-store.ts';
import { streamName } from '../src/events/streams.ts';
import { adminHeaders, serverHeaders, startTestService } from './support/service.ts';
import { runAuthlog } from './support/spawn-authlog.ts';
import { createProject } from '../src/commands/project/create-project.ts';
import { createHasher } from '../src/crypto/digests.ts';
import { systemClock } from '../src/clock.ts';
import { systemOrigin } from '../src/app-context.ts';

const dir = mkdtempSync(join(tmpdir(), 'authlog-reseal-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const plainEvent = (type: string, data: { projectId: string } & Record<string, unknown>): NewEvent => ({
  id: randomUUID(),
  type,
  data,
  metadata: { projectId: data.projectId, occurredAt: new Date().toISOString(), actor: { kind: 'system', id: 'legacy' }, ip: '127.0.0.88', userAgent: 'LegacyAgent/1 (plain)' },
});

test('a log from before sealing is sealed in place: no plain value left in the file, the live user still reads, a deleted one is erased', async () => {
  // The secret first, as the service would have made it; then a log written the old way (plain).
  const first = await startTestService({}, { dataDir: dir });
  const secret = readFileSync(join(dir, 'secret'), 'utf8').trim();
  await first.stop();
  const store = openSqliteEventStore(join(dir, 'events.db'));
  const project = await createProject({ store, hasher: createHasher(secret), clock: systemClock }, { name: 'legacy', trustedDomains: [] }, systemOrigin('test'));
  const [kept, gone] = [randomUUID(), randomUUID()];
  for (const [userId, email, name] of [[kept, 'kept.person@legacy.example', 'Kept Person'], [gone, 'gone.person@legacy.example', 'Gone Person']] as const) {
    await store.append(streamName('user', userId), [plainEvent('UserCreated', { userId, projectId: project.project_id, primaryEmail: email, primaryEmailVerified: true, displayName: name, signedUpAtMillis: Date.now(), origin: 'api' })], ANY);
  }
  await store.append(streamName('user', gone), [plainEvent('UserDeleted', { userId: gone, projectId: project.project_id })], ANY);
  await store.close();
  const bytes = () => Buffer.concat(['events.db', 'events.db-wal'].map((f) => join(dir, f)).filter(existsSync).map((f) => readFileSync(f))).toString('latin1');
  assert.ok(bytes().includes('kept.person@legacy.example'), 'the legacy log holds plain emails');

  const sealed = await runAuthlog(['log', 'seal-personal-data'], { AUTHLOG_DATA_DIR: dir });
  assert.is(sealed.code, 0, sealed.stderr);
  assert.match(sealed.stdout, /sealed the personal data of \d+ of \d+ events/);
  assert.match(sealed.stdout, /erased 1 user\(s\) deleted before erasure existed/);
  for (const plain of ['kept.person', 'gone.person', 'Kept Person', 'Gone Person', '127.0.0.88', 'LegacyAgent']) assert.not.ok(bytes().includes(plain), `the file still holds ${plain}`);

  const service = await startTestService({}, { dataDir: dir });
  try {
    const user = await service.request('GET', `/api/v1/users/${kept}`, { headers: serverHeaders(project) });
    assert.equal([user.json.primary_email, user.json.display_name], ['kept.person@legacy.example', 'Kept Person']);
    const goneEvents = await service.request('GET', `/api/v1/events?stream=user-${gone}`, { headers: adminHeaders(project) });
    assert.equal([goneEvents.json.items[0].data.primaryEmail, goneEvents.json.items[0].data.displayName], ['[erased]', '[erased]']);
    assert.is(goneEvents.json.items[0].metadata.ip, '127.0.0.88', 'addresses follow their own retention');
  } finally {
    await service.stop();
  }
  const again = await runAuthlog(['log', 'seal-personal-data'], { AUTHLOG_DATA_DIR: dir });
  assert.match(again.stdout, /sealed the personal data of 0 of/, 'running it again changes nothing');
});

test.run();
