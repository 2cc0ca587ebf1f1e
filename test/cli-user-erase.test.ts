// `authlog user erase` (issue #23): the command line erases a person as DELETE /users/{id} does and
// says what it erased; a user deleted before (whose keys outlived the delete) can be erased too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { adminHeaders, serverHeaders, startTestService } from './support/service.ts';
import { runAuthlog } from './support/spawn-authlog.ts';
import { deleteUser } from '../src/flows/delete-user.ts';
import { systemOrigin } from '../src/app-context.ts';

const dir = mkdtempSync(join(tmpdir(), 'authlog-erase-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('authlog user erase deletes the person and their keys, prints what it erased, and refuses an unknown user in one line', async () => {
  let service = await startTestService({}, { dataDir: dir });
  const project = await service.createProject('cli erase');
  const live = (await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: 'live@erase.example', display_name: 'Live One' } })).json.id as string;
  const old = (await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: 'old@erase.example' } })).json.id as string;
  // Deleted without erasure, as before erasure existed: its keys are still there.
  await deleteUser(service.app, project.project_id, old, systemOrigin('test'));
  await service.stop();

  const env = { AUTHLOG_DATA_DIR: dir };
  const erased = await runAuthlog(['user', 'erase', '--project', project.project_id, '--user', live, '--json'], env);
  assert.is(erased.code, 0, erased.stderr);
  const answer = JSON.parse(erased.stdout) as { user_id: string; subjects: string[]; deleted_keys: string[] };
  assert.is(answer.user_id, live);
  assert.ok(answer.deleted_keys.includes(`user:${live}`), erased.stdout);
  assert.ok(answer.subjects.some((k) => k.startsWith(`email:${project.project_id}.`)), 'the address key is asked to go too (it exists once a code was sent there)');
  const oldErased = await runAuthlog(['user', 'erase', '--project', project.project_id, '--user', old], env);
  assert.is(oldErased.code, 0, oldErased.stderr);
  assert.match(oldErased.stdout, /^erased user .+: 1 data key\(s\) deleted \(user:/);
  const unknown = await runAuthlog(['user', 'erase', '--project', project.project_id, '--user', '11111111-1111-4111-8111-111111111111'], env);
  assert.is(unknown.code, 2);
  assert.is(unknown.stderr.trim().split('\n').length, 1, unknown.stderr);

  service = await startTestService({}, { dataDir: dir });
  try {
    assert.is((await service.request('GET', `/api/v1/users/${live}`, { headers: serverHeaders(project) })).json.code, 'USER_NOT_FOUND');
    for (const id of [live, old]) {
      const created = (await service.request('GET', `/api/v1/events?stream=user-${id}`, { headers: adminHeaders(project) })).json.items[0];
      assert.is(created.data.primaryEmail, '[erased]');
    }
  } finally {
    await service.stop();
  }
});

test.run();
