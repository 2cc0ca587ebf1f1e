// The embedded SQLite event store when the file cannot take writes: another OS process holds the
// write lock (BEGIN IMMEDIATE), or the disk is full (a real ENOSPC on a small tmpfs). Writes
// answer 503 SERVICE_UNAVAILABLE with retry-after, reads and /health keep answering meanwhile
// (the event loop is not blocked), nothing is half written, and writes work again without a
// restart once the lock is released or space returns. Issue #8, store faults.
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CreatedProject } from '../src/commands/project/create-project.ts';
import { NO_STREAM, StoreUnavailableError, type EventStore } from '../src/store/event-store.ts';
import { serverHeaders, startTestService, type ApiResponse, type TestService } from './support/service.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const lockHolderScript = fileURLToPath(new URL('./support/hold-write-lock.ts', import.meta.url));

interface Service {
  service: TestService;
  project: CreatedProject;
  userId: string;
}

async function startWithUser(options: { dataDir?: string } = {}): Promise<Service> {
  const service = await startTestService({}, options);
  const project = await service.createProject('store faults');
  const user = await service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: `${randomUUID()}@example.com` } });
  assert.is(user.status, 201, user.text);
  return { service, project, userId: user.json.id as string };
}

const createSession = ({ service, project, userId }: Service): Promise<ApiResponse> =>
  service.request('POST', '/api/v1/auth/sessions', { headers: serverHeaders(project), body: { user_id: userId } });
const createUser = ({ service, project }: Service, email: string): Promise<ApiResponse> =>
  service.request('POST', '/api/v1/users', { headers: serverHeaders(project), body: { primary_email: email } });
const getUser = ({ service, project, userId }: Service): Promise<ApiResponse> =>
  service.request('GET', `/api/v1/users/${userId}`, { headers: serverHeaders(project) });

/** Every event of the log, as ids in position order: "unchanged" means exactly this list. */
async function logIds(store: EventStore): Promise<string[]> {
  const out: string[] = [];
  for await (const event of store.readAll()) out.push(event.id);
  return out;
}

function assertUnavailable(res: ApiResponse): void {
  assert.is(res.status, 503, res.text);
  assert.is(res.json.code, 'SERVICE_UNAVAILABLE');
  assert.is(res.headers.get('x-stack-known-error'), 'SERVICE_UNAVAILABLE');
  assert.ok(Number(res.headers.get('retry-after')) >= 1, 'retry-after');
}

/** Another OS process holding BEGIN IMMEDIATE on the file until `release()`. */
async function holdWriteLock(path: string): Promise<{ release: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', lockHolderScript, path], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const saw = (word: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (out.includes(word)) resolve();
      };
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        check();
      });
      void exited.then(() => (out.includes(word) ? resolve() : reject(new Error(`lock holder exited before "${word}": ${err}`))));
      check();
    });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  await saw('locked');
  return {
    release: async () => {
      child.stdin.end('release\n');
      await saw('released');
      assert.is(await exited, 0, err);
    },
  };
}

test('another process holds the write lock: writes answer 503 with retry-after, reads and /health answer meanwhile, nothing is written; released: writes work without a restart', async () => {
  const running = await startWithUser();
  const { service } = running;
  try {
    assert.is((await createSession(running)).status, 200);
    const before = await logIds(service.app.store);
    const holder = await holdWriteLock(join(service.dataDir, 'events.db'));
    let released = false;
    try {
      const started = Date.now();
      let writesAnswered = 0;
      const writes = [createSession(running), createSession(running), createUser(running, 'locked-out@example.com'), createSession(running)].map((w) =>
        w.finally(() => (writesAnswered += 1)),
      );
      // Answered while every write still waits for the lock: the event loop is not blocked.
      let readsWhileWaiting = 0;
      for (let i = 0; i < 5; i++) {
        const health = await service.request('GET', '/health');
        assert.is(health.status, 200, health.text);
        const read = await getUser(running);
        assert.is(read.status, 200, read.text);
        if (writesAnswered === 0) readsWhileWaiting += 2;
      }
      assert.ok(readsWhileWaiting > 0, 'reads answered while the writes were waiting for the lock');
      const answers = await Promise.all(writes);
      const ms = Date.now() - started;
      for (const res of answers) assertUnavailable(res);
      assert.equal(await logIds(service.app.store), before, 'nothing written while the lock was held');
      console.log(
        `  # SQLite write lock held by another process: ${answers.length} writes tried, ${answers.length} answered 503 (after ${ms} ms, EVENTSTORE_TIMEOUT_MS ${service.config.EVENTSTORE_TIMEOUT_MS}); ${readsWhileWaiting} reads answered 200 meanwhile`,
      );
      await holder.release();
      released = true;
    } finally {
      if (!released) await holder.release().catch(() => undefined);
    }
    const again = await createSession(running);
    assert.is(again.status, 200, again.text);
    const user = await createUser(running, 'locked-out@example.com');
    assert.is(user.status, 201, `the refused creation left nothing behind that blocks its email: ${user.text}`);
    assert.is((await logIds(service.app.store)).length, before.length + 3, 'session, email reservation and user');
  } finally {
    await service.stop();
    await service.remove();
  }
});

/** A tmpfs of `sizeMb` at a fresh directory, or undefined when this process may not mount (not root). */
function mountTmpfs(sizeMb: number): { dir: string; unmount: () => void } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'authlog-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes a file until the filesystem answers ENOSPC; returns its path. */
function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

test('disk full (ENOSPC on a small tmpfs): writes answer 503 with retry-after and write nothing, reads answer; space back: writes work without a restart', async () => {
  const mounted = mountTmpfs(16);
  if (!mounted) {
    console.log('  # disk full over HTTP: not run, mounting a tmpfs needs root (the SQLITE_FULL store test in store-sqlite covers the adapter)');
    return;
  }
  let running: Service | undefined;
  try {
    const dataDir = join(mounted.dir, 'data');
    mkdirSync(dataDir);
    running = await startWithUser({ dataDir });
    const { service } = running;
    const filler = fillDisk(mounted.dir);
    // The WAL may still have room it allocated earlier: write until the disk is really in the way.
    let accepted = 0;
    let before = await logIds(service.app.store);
    let refused = await createSession(running);
    while (refused.status === 200 && accepted < 1000) {
      accepted += 1;
      before = await logIds(service.app.store);
      refused = await createSession(running);
    }
    assertUnavailable(refused);
    assert.equal(await logIds(service.app.store), before, 'the refused write left nothing in the log');
    const probe = service.app.store.append(`probe-${randomUUID()}`, [{ id: randomUUID(), type: 'Probe.Big', data: { blob: 'x'.repeat(1 << 20) }, metadata: { occurredAt: new Date().toISOString() } }], NO_STREAM);
    const error = await probe.then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(error, StoreUnavailableError);
    assert.match((error as Error).message, /SQLITE_FULL/, 'it is the full disk that refuses');
    const tried = [await createSession(running), await createUser(running, 'full@example.com')];
    for (const res of tried) assertUnavailable(res);
    assert.equal(await logIds(service.app.store), before, 'still nothing written');
    assert.is((await getUser(running)).status, 200, 'reads answer while the disk is full');
    assert.is((await service.request('GET', '/health')).status, 200);
    console.log(`  # disk full: ${accepted} writes fitted after filling, then ${tried.length + 1} writes tried, ${tried.length + 1} answered 503; log unchanged`);

    rmSync(filler);
    const again = await createSession(running);
    assert.is(again.status, 200, again.text);
    const user = await createUser(running, 'full@example.com');
    assert.is(user.status, 201, user.text);
    assert.is((await logIds(service.app.store)).length, before.length + 3);
  } finally {
    if (running) {
      await running.service.stop();
      await running.service.remove();
    }
    mounted.unmount();
  }
});

test.run();
