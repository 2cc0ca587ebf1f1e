// The embedded SQLite event store: the shared conformance suite, then what only a file shared by
// several OS processes can show (another process's appends, crashes, a full or read-only disk).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ANY,
  NO_STREAM,
  StoreUnavailableError,
  WrongExpectedVersionError,
  type EventStore,
  type NewEvent,
  type RecordedEvent,
} from '../src/store/event-store.ts';
import { TYPE_INDEX } from '../src/store/sqlite-type-read.ts';
import { filterSql } from '../src/store/sqlite-rows.ts';
import { openSqliteEventStore, type SqliteEventStore, type SqliteEventStoreOptions } from '../src/store/sqlite-event-store.ts';
import type { Outcome, Plan } from './support/append-from-another-process.ts';
import { storeConformance, type StoreUnderTest } from './support/store-conformance.ts';
import { logIdentityConformance } from './support/log-identity-conformance.ts';
import { chainConformance } from './support/chain-conformance.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const childScript = fileURLToPath(new URL('./support/append-from-another-process.ts', import.meta.url));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function tempDir(): { dir: string; path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'authlog-store-'));
  return { dir, path: join(dir, 'events.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function openSqliteUnderTest(): Promise<StoreUnderTest> {
  const { path, remove } = tempDir();
  const opened: EventStore[] = [openSqliteEventStore(path)];
  return {
    store: opened[0] as EventStore,
    openAnother: async () => {
      const another = openSqliteEventStore(path);
      opened.push(another);
      return another;
    },
    cleanup: async () => {
      for (const store of opened) await store.close();
      remove();
    },
  };
}

storeConformance('sqlite', openSqliteUnderTest);

// --- log identity (issue 18) -------------------------------------------------------------------
logIdentityConformance('sqlite', openSqliteUnderTest);

// --- tamper-evidence chain (issue 25) ----------------------------------------------------------
chainConformance('sqlite', openSqliteUnderTest, { densePositions: true });

const identity = suite('sqlite log identity: files');

identity('a file from before log identities gets one on its first writable open, kept from then on and by a copy', async () => {
  const { dir, path, remove } = tempDir();
  try {
    // The schema as it was before the meta table: events only, user_version 1.
    const old = new Database(path);
    old.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL, revision INTEGER NOT NULL,
      event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, UNIQUE (stream_id, revision))`);
    old.prepare('INSERT INTO events (stream_id, revision, event_id, type, data, metadata) VALUES (?, 0, ?, ?, ?, ?)').run('old-1', randomUUID(), 'Old.Thing', '{}', '{"occurredAt":"2024-01-01T00:00:00.000Z"}');
    old.pragma('user_version = 1');
    old.close();
    const readOnly = openSqliteEventStore(path, { readOnly: true });
    try {
      await readOnly.logIdentity();
      assert.unreachable('a read-only open cannot give the old file an identity');
    } catch (error) {
      assert.instance(error, StoreUnavailableError);
    } finally {
      await readOnly.close();
    }
    const first = openSqliteEventStore(path);
    const id = await first.logIdentity();
    assert.is((await first.readStream('old-1')).length, 1, 'the old events are still there');
    await first.close();
    const again = openSqliteEventStore(path);
    assert.is(await again.logIdentity(), id, 'kept on reopen');
    await again.close();
    const copy = join(dir, 'copy.db');
    copyFileSync(path, copy);
    const restored = openSqliteEventStore(copy);
    assert.is(await restored.logIdentity(), id, 'a copy (a backup) is the same log by identity');
    await restored.close();
  } finally {
    remove();
  }
});

identity.run();

// ---------------------------------------------------------------------------------------------

function newEvent(type: string, data: unknown = {}): NewEvent {
  return { id: randomUUID(), type, data, metadata: { occurredAt: new Date().toISOString(), actor: { kind: 'system', id: 'test' } } };
}

const events = (count: number, type: string): NewEvent[] => Array.from({ length: count }, (_, i) => newEvent(type, { i }));
const ids = (list: readonly { id: string }[]): string[] => list.map((e) => e.id);

async function collect(iterable: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const event of iterable) out.push(event);
  return out;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.unreachable(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

async function rejectsWith(attempt: Promise<unknown>, type: abstract new (...args: never[]) => Error): Promise<Error> {
  let failure: unknown;
  try {
    await attempt;
  } catch (error) {
    failure = error;
  }
  if (failure === undefined) assert.unreachable(`expected a ${type.name}, but it succeeded`);
  assert.instance(failure, type);
  return failure as Error;
}

function assertStrictlyIncreasing(positions: readonly bigint[]): void {
  for (let i = 1; i < positions.length; i++) {
    assert.ok((positions[i] as bigint) > (positions[i - 1] as bigint), `position at index ${i} does not increase`);
  }
}

interface Child {
  outcomes: Outcome[];
  committed(): Extract<Outcome, { kind: 'committed' }>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill(): void;
}

function startChild(plan: Plan): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, JSON.stringify(plan)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const outcomes: Outcome[] = [];
  let buffered = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) outcomes.push(JSON.parse(line) as Outcome);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    outcomes,
    committed: () => outcomes.filter((o): o is Extract<Outcome, { kind: 'committed' }> => o.kind === 'committed'),
    exited,
    kill: () => void child.kill('SIGKILL'),
  };
}

async function finished(child: Child): Promise<void> {
  const { code, stderr } = await child.exited;
  assert.is(code, 0, `child process failed: ${stderr}`);
}

/** A store in a fresh temp dir, closed and removed whatever the test's outcome. */
const withFile =
  (body: (file: { path: string; open: (options?: SqliteEventStoreOptions) => SqliteEventStore }) => Promise<void>) =>
  async (): Promise<void> => {
    const { path, remove } = tempDir();
    const opened: SqliteEventStore[] = [];
    const open = (options?: SqliteEventStoreOptions): SqliteEventStore => {
      const store = openSqliteEventStore(path, options);
      opened.push(store);
      return store;
    };
    try {
      await body({ path, open });
    } finally {
      for (const store of opened) await store.close();
      remove();
    }
  };

/** user-1 with three events, reopened with room for two more pages: the next big append is SQLITE_FULL. */
async function nearlyFull(path: string, open: (options?: SqliteEventStoreOptions) => SqliteEventStore): Promise<SqliteEventStore> {
  const setup = open();
  await setup.append('user-1', events(3, 'User.Created'), NO_STREAM);
  await setup.close();
  const raw = new Database(path, { readonly: true });
  const pages = Number(raw.pragma('page_count', { simple: true }));
  raw.close();
  return open({ maxPageCount: pages + 2 });
}

const s = suite('sqlite event store');

s(
  'events appended by a separate OS process reach a live subscription within 1 s',
  withFile(async ({ path, open }) => {
    const store = open();
    const deliveredAt = new Map<string, number>();
    const subscription = store.subscribeToAll(
      {},
      {
        onEvent: (event) => void deliveredAt.set(event.id, Date.now()),
      },
    );
    try {
      const child = startChild({ path, stream: 'project-other', appends: 5, intervalMs: 150 });
      await finished(child);
      const committed = child.committed();
      assert.is(committed.length, 5);
      await waitFor(() => deliveredAt.size === 5, '5 events from the other process', 2000);
      const latencies = committed.map((c) => (deliveredAt.get(c.ids[0] as string) as number) - c.committedAt);
      console.log(`  # sqlite: other OS process -> live subscription: ${latencies.join(', ')} ms`);
      assert.ok(Math.max(...latencies) < 1000, `slowest delivery ${Math.max(...latencies)} ms`);
    } finally {
      await subscription.close();
    }
  }),
);

s(
  'appends from another process interleave with ours in one order, with no gap and no duplicate',
  withFile(async ({ path, open }) => {
    const store = open();
    const received: RecordedEvent[] = [];
    const subscription = store.subscribeToAll({}, { onEvent: (event) => void received.push(event) });
    try {
      const child = startChild({ path, stream: 'project-other', appends: 100, intervalMs: 1 });
      await waitFor(() => child.outcomes.length > 0, 'the other process to start appending');
      const ours: string[] = [];
      for (let i = 0; i < 100; i++) {
        const event = newEvent('Ours.Appended');
        await store.append(`project-ours${i % 4}`, [event], ANY);
        ours.push(event.id);
        await sleep(1);
      }
      await finished(child);
      await waitFor(() => received.length >= 200, '200 events', 3000);
      await sleep(300);
      const all = await collect(store.readAll());
      assert.is(all.length, 200);
      assert.equal(ids(received), ids(all));
      assertStrictlyIncreasing(received.map((e) => e.position));
      const theirs = child.committed().flatMap((c) => c.ids);
      assert.equal(new Set(ids(received)), new Set([...ours, ...theirs]));
      const streams = received.map((e) => (e.streamId === 'project-other' ? 'theirs' : 'ours'));
      const switches = streams.filter((who, i) => i > 0 && who !== streams[i - 1]).length;
      console.log(`  # sqlite: two processes' appends alternated ${switches} times in $all`);
    } finally {
      await subscription.close();
    }
  }),
);

s(
  'optimistic concurrency holds across processes: racing read-decide-append loops lose and duplicate nothing',
  withFile(async ({ path, open }) => {
    const store = open(); // creates the schema before the racers start
    const stream = 'counter-1';
    const startAt = Date.now() + 800;
    const racers = Array.from({ length: 4 }, () => startChild({ path, stream, appends: 25, mode: 'increment', startAt }));
    await Promise.all(racers.map(finished));
    const recorded = await store.readStream(stream);
    assert.equal(
      recorded.map((e) => e.revision),
      Array.from({ length: 100 }, (_, i) => BigInt(i)),
    );
    const committed = racers.flatMap((r) => r.committed());
    assert.equal(new Set(ids(recorded)), new Set(committed.flatMap((c) => c.ids)));
    assert.is(new Set(committed.map((c) => c.revision)).size, 100, 'each revision was won by exactly one process');
    const conflicts = racers.reduce((n, r) => n + r.outcomes.filter((o) => o.kind === 'conflict').length, 0);
    console.log(`  # sqlite: 4 processes x 25 increments, ${conflicts} conflicts retried`);
  }),
);

s(
  'a file from before the type index gets it on its first writable open; opened read-only without it, the read by type walks positions and gives the same events',
  withFile(async ({ path, open }) => {
    const first = open();
    await first.append('session-1', events(3, 'SessionCreated'), NO_STREAM);
    await first.append('user-1', events(2, 'UserCreated'), NO_STREAM);
    await first.close();
    const raw = new Database(path);
    raw.exec(`DROP INDEX ${TYPE_INDEX}`);
    raw.close();
    const filter = { streamPrefixes: ['session-'], eventTypes: ['SessionCreated'] };
    const readOnly = open({ readOnly: true });
    const withoutIndex = await collect(readOnly.readAll({ filter, byType: true }));
    assert.is(withoutIndex.length, 3);
    await readOnly.close();
    const writable = open();
    const check = new Database(path, { readonly: true });
    assert.ok(check.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(TYPE_INDEX), 'the index was built at open');
    check.close();
    assert.equal(ids(await collect(writable.readAll({ filter, byType: true }))), ids(withoutIndex));
  }),
);

s(
  'only the read by type uses the type index: the filtered page of a subscription stays on the primary key',
  withFile(async ({ path, open }) => {
    open();
    const db = new Database(path, { readonly: true });
    const where = filterSql({ streamPrefixes: ['session-'], eventTypes: ['SessionCreated', 'SessionRevoked'] });
    const plan = db
      .prepare(`EXPLAIN QUERY PLAN SELECT * FROM events WHERE position > ? AND position <= ? AND ${where.sql} ORDER BY position LIMIT ?`)
      .all(0, 10, ...where.params, 1000) as { detail: string }[];
    db.close();
    const details = plan.map((p) => p.detail).join('; ');
    assert.not.match(details, TYPE_INDEX);
    assert.not.match(details, 'TEMP B-TREE');
  }),
);

s(
  'appends are durable across close and reopen, and positions continue after the last one',
  withFile(async ({ open }) => {
    const first = open();
    await first.append('user-1', events(3, 'User.Created'), NO_STREAM);
    await first.append('session-1', events(2, 'Session.Started'), NO_STREAM);
    const before = await collect(first.readAll());
    const head = await first.headPosition();
    await first.close();

    const again = open();
    assert.equal(await collect(again.readAll()), before);
    assert.is(await again.headPosition(), head);
    await rejectsWith(again.append('user-1', [newEvent('User.Created')], NO_STREAM), WrongExpectedVersionError);
    const next = await again.append('user-1', [newEvent('User.Renamed')], 2n);
    assert.ok(next.position > head);
    assert.is(next.nextExpectedRevision, 3n);
  }),
);

s(
  'a process killed right after appends returned loses none of them and leaves no half-written append',
  withFile(async ({ path, open }) => {
    open(); // creates the schema
    const child = startChild({ path, stream: 'signInCode-crash', appends: 100_000, batch: 3 });
    await waitFor(() => child.committed().length >= 20, '20 appends from the child', 5000);
    child.kill();
    const { signal } = await child.exited;
    assert.is(signal, 'SIGKILL');
    const reported = child.committed().flatMap((c) => c.ids);

    const store = open();
    const recorded = await store.readStream('signInCode-crash');
    const recordedIds = new Set(ids(recorded));
    assert.ok(
      reported.every((id) => recordedIds.has(id)),
      'every append the killed process saw succeed is there',
    );
    assert.is(recorded.length % 3, 0, 'only whole three-event appends');
    assert.equal(
      recorded.map((e) => e.revision),
      recorded.map((_, i) => BigInt(i)),
    );
  }),
);

s(
  'a full disk fails the append with StoreUnavailableError and writes nothing',
  withFile(async ({ path, open }) => {
    const store = await nearlyFull(path, open);
    const before = await collect(store.readAll());
    const head = await store.headPosition();
    const tooBig = Array.from({ length: 20 }, () => newEvent('User.Bloated', { blob: 'x'.repeat(4000) }));
    const error = await rejectsWith(store.append('user-1', tooBig, 2n), StoreUnavailableError);
    assert.match(error.message, /SQLITE_FULL/);
    assert.equal(await collect(store.readAll()), before);
    assert.is(await store.headPosition(), head);
    assert.is((await store.append('user-1', [newEvent('User.Renamed')], 2n)).nextExpectedRevision, 3n, 'small appends still fit');
  }),
);

s(
  'a read-only store refuses appends with StoreUnavailableError, still reads, and follows a writer',
  withFile(async ({ open }) => {
    const writer = open();
    await writer.append('user-1', events(2, 'User.Created'), NO_STREAM);
    const reader = open({ readOnly: true, pollIntervalMs: 50 });
    const error = await rejectsWith(reader.append('user-1', [newEvent('User.Renamed')], 1n), StoreUnavailableError);
    assert.match(error.message, /SQLITE_READONLY/);
    assert.is((await reader.readStream('user-1')).length, 2);

    const received: RecordedEvent[] = [];
    const subscription = reader.subscribeToAll({}, { onEvent: (event) => void received.push(event) });
    try {
      await writer.append('user-1', [newEvent('User.Renamed')], 1n);
      await waitFor(() => received.length === 3, 'the writer event through the read-only store', 1000);
      assert.equal(
        received.map((e) => e.revision),
        [0n, 1n, 2n],
      );
    } finally {
      await subscription.close();
    }
  }),
);

s(
  'opening a missing file read-only fails with StoreUnavailableError',
  withFile(async ({ path }) => {
    assert.throws(
      () => openSqliteEventStore(join(path, '..', 'missing.db'), { readOnly: true }),
      (error: unknown) => error instanceof StoreUnavailableError,
    );
  }),
);

s(
  'a write lock held past busy_timeout fails the append with StoreUnavailableError; it succeeds once released',
  withFile(async ({ path, open }) => {
    const store = open({ busyTimeoutMs: 100 });
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const started = Date.now();
      const error = await rejectsWith(store.append('user-1', [newEvent('User.Created')], NO_STREAM), StoreUnavailableError);
      assert.match(error.message, /SQLITE_BUSY/);
      assert.ok(Date.now() - started >= 90, 'waited for the lock before giving up');
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
    assert.equal(await store.readStream('user-1'), []);
    assert.is((await store.append('user-1', [newEvent('User.Created')], NO_STREAM)).nextExpectedRevision, 0n);
  }),
);

s(
  'appends issued in one turn share one commit, see each other in order, and are on disk for another connection when they resolve',
  withFile(async ({ path, open }) => {
    const store = open();
    await store.append('shared', [newEvent('Shared.Created')], NO_STREAM);
    const before = { ...store.groupCommitStats };
    const watcher = new Database(path, { readonly: true });
    const onDisk = (): number => Number((watcher.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n);
    try {
      const visibleAtFirstAnswer: number[] = [];
      const appends = [
        store.append('shared', [newEvent('Shared.Changed')], 0n),
        store.append('shared', [newEvent('Shared.Stale')], 0n),
        store.append('shared', [newEvent('Shared.ChangedAgain')], 1n),
        ...Array.from({ length: 7 }, (_, i) => store.append(`other-${i}`, events(2, 'Other.Created'), NO_STREAM)),
      ];
      void appends[0]?.then(() => visibleAtFirstAnswer.push(onDisk()));
      const outcomes = await Promise.allSettled(appends);
      assert.equal(
        outcomes.map((o) => o.status),
        ['fulfilled', 'rejected', 'fulfilled', ...Array<string>(7).fill('fulfilled')],
      );
      assert.instance((outcomes[1] as PromiseRejectedResult).reason, WrongExpectedVersionError);
      const after = store.groupCommitStats;
      assert.is(after.commits - before.commits, 1, 'one commit (one fsync) for the ten appends');
      assert.is(after.appends - before.appends, 10);
      assert.equal(visibleAtFirstAnswer, [1 + 2 + 14], 'the first answer came after the whole batch was committed');
      assert.equal(
        (await store.readStream('shared')).map((e) => e.type),
        ['Shared.Created', 'Shared.Changed', 'Shared.ChangedAgain'],
      );
    } finally {
      watcher.close();
    }
  }),
);

s(
  'an append too big for the file (SQLITE_FULL) fails alone; the appends of the same turn are committed',
  withFile(async ({ path, open }) => {
    const store = await nearlyFull(path, open);
    const tooBig = Array.from({ length: 20 }, () => newEvent('User.Bloated', { blob: 'x'.repeat(4000) }));
    const small = [newEvent('User.Renamed'), newEvent('User.Created'), newEvent('User.Created')];
    const outcomes = await Promise.allSettled([
      store.append('user-1', [small[0] as NewEvent], 2n),
      store.append('user-2', tooBig, NO_STREAM),
      store.append('user-3', [small[1] as NewEvent], NO_STREAM),
      store.append('user-4', [small[2] as NewEvent], NO_STREAM),
    ]);
    assert.equal(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    const failure = (outcomes[1] as PromiseRejectedResult).reason as Error;
    assert.instance(failure, StoreUnavailableError);
    assert.match(failure.message, /SQLITE_FULL/);
    assert.equal(await store.readStream('user-2'), []);
    assert.equal(
      (await collect(store.readAll())).slice(3).map((e) => e.id),
      ids(small),
    );
  }),
);

s(
  'while another connection holds the write lock the event loop keeps turning; the append succeeds once the lock is released',
  withFile(async ({ path, open }) => {
    const store = open({ busyTimeoutMs: 10_000 });
    const other = new Database(path);
    let settled = false;
    try {
      other.exec('BEGIN IMMEDIATE');
      const pending = store.append('user-1', [newEvent('User.Created')], NO_STREAM).finally(() => (settled = true));
      let turns = 0;
      while (turns < 50) {
        await sleep(2);
        turns += 1;
      }
      assert.not.ok(settled, 'still waiting for the lock');
      assert.ok(store.groupCommitStats.busyRetries > 0, 'retried asynchronously');
      other.exec('ROLLBACK');
      assert.is((await pending).nextExpectedRevision, 0n);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
    }
    assert.is((await store.readStream('user-1')).length, 1);
  }),
);

s(
  'concurrent appends with an event id reused by one of them: that append alone is refused (ids are unique in the whole file)',
  withFile(async ({ open }) => {
    const store = open();
    const ns = 'reuse';
    const taken = newEvent('User.Created');
    await store.append(`${ns}-taken`, [taken], NO_STREAM);
    const others = [`${ns}-a`, `${ns}-b`, `${ns}-c`].map((stream) => ({ stream, event: newEvent('User.Created') }));
    const outcomes = await Promise.allSettled([
      store.append(others[0]!.stream, [others[0]!.event], NO_STREAM),
      store.append(`${ns}-thief`, [newEvent('User.Created'), taken], NO_STREAM),
      store.append(others[1]!.stream, [others[1]!.event], NO_STREAM),
      store.append(others[2]!.stream, [others[2]!.event], NO_STREAM),
    ]);
    assert.equal(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.equal(await store.readStream(`${ns}-thief`), []);
    for (const { stream, event } of others) assert.equal(ids(await store.readStream(stream)), [event.id]);
  }),
);

s(
  'a retried append with the same event ids returns the original result and writes nothing',
  withFile(async ({ open }) => {
    const store = open();
    const sent = events(2, 'User.Created');
    const original = await store.append('user-1', sent, NO_STREAM);
    assert.equal(await store.append('user-1', sent, NO_STREAM), original);
    assert.equal(await store.append('user-1', sent, ANY), original);
    assert.is((await store.readStream('user-1')).length, 2);
    await rejectsWith(store.append('user-1', sent, 5n), WrongExpectedVersionError);
    assert.is(await store.headPosition(), original.position);
  }),
);

s(
  'an event id already recorded elsewhere, or repeated in one append, is refused and nothing is written',
  withFile(async ({ open }) => {
    const store = open();
    const [taken] = events(1, 'User.Created') as [NewEvent];
    await store.append('user-1', [taken], NO_STREAM);
    const head = await store.headPosition();
    const elsewhere = await rejectsWith(store.append('user-2', [taken], NO_STREAM), Error);
    assert.not.instance(elsewhere, WrongExpectedVersionError);
    assert.not.instance(elsewhere, StoreUnavailableError);
    const fresh = newEvent('User.Renamed');
    await rejectsWith(store.append('user-3', [fresh, { ...fresh }], NO_STREAM), Error);
    await rejectsWith(store.append('user-1', [newEvent('User.Renamed'), taken], 0n), Error);
    const reused = await rejectsWith(store.append('user-1', [taken], 0n), Error);
    assert.not.instance(reused, WrongExpectedVersionError, 'the stream is where the caller expects: not a conflict');
    assert.is(await store.headPosition(), head);
    assert.equal(await store.readStream('user-2'), []);
    assert.equal(await store.readStream('user-3'), []);
    assert.is((await store.readStream('user-1')).length, 1);
  }),
);

s(
  'reads and subscriptions cross page boundaries in order (2500 events)',
  withFile(async ({ open }) => {
    const store = open();
    for (let i = 0; i < 10; i++) {
      await store.append(`user-${i}`, events(250, 'User.Bulk'), NO_STREAM);
      await store.append(`session-${i}`, events(5, 'Session.Bulk'), NO_STREAM);
    }
    const all = await collect(store.readAll());
    assert.is(all.length, 2550);
    assertStrictlyIncreasing(all.map((e) => e.position));
    const sessions = await collect(store.readAll({ filter: { streamPrefixes: ['session-'] } }));
    assert.equal(
      ids(sessions),
      ids(all.filter((e) => e.streamId.startsWith('session-'))),
    );
    const limited = await collect(store.readAll({ fromPosition: all[999]?.position, maxCount: 1500 }));
    assert.equal(ids(limited), ids(all.slice(1000, 2500)));

    const received: RecordedEvent[] = [];
    let caughtUpAt = -1;
    const subscription = store.subscribeToAll(
      {},
      {
        onEvent: (event) => void received.push(event),
        onCaughtUp: () => (caughtUpAt = received.length),
      },
    );
    try {
      await waitFor(() => caughtUpAt >= 0, 'catch-up over 2550 events');
      assert.is(caughtUpAt, 2550);
      assert.equal(ids(received), ids(all));
    } finally {
      await subscription.close();
    }
  }),
);

s(
  'a handler that throws stops its subscription and reports the error through onError',
  withFile(async ({ open }) => {
    const store = open();
    await store.append('user-1', events(5, 'User.Created'), NO_STREAM);
    const seen: bigint[] = [];
    const errors: Error[] = [];
    const boom = new Error('projector failed');
    store.subscribeToAll(
      {},
      {
        onEvent: (event) => {
          seen.push(event.revision);
          if (event.revision === 1n) throw boom;
        },
        onError: (error) => errors.push(error),
      },
    );
    await waitFor(() => errors.length > 0, 'onError');
    await store.append('user-1', events(2, 'User.Renamed'), 4n);
    await sleep(50);
    assert.equal(seen, [0n, 1n]);
    assert.equal(errors, [boom]);
  }),
);

s(
  'closing the store stops its subscriptions and leaves no timer behind',
  withFile(async ({ open }) => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const idle = timers();
    const store = open({ pollIntervalMs: 20 });
    const received: RecordedEvent[] = [];
    const errors: Error[] = [];
    store.subscribeToAll({}, { onEvent: (event) => void received.push(event), onError: (e) => errors.push(e) });
    store.subscribeToAll({ filter: { eventTypes: ['User.'] } }, { onEvent: () => {}, onError: (e) => errors.push(e) });
    await store.append('user-1', [newEvent('User.Created')], NO_STREAM);
    await waitFor(() => received.length === 1, 'the event');
    assert.is(timers(), idle + 1, 'one poll timer per store while subscriptions are live');
    await store.close();
    assert.is(timers(), idle);
    await rejectsWith(store.append('user-1', [newEvent('User.Renamed')], 0n), StoreUnavailableError);
    await rejectsWith(store.readStream('user-1'), StoreUnavailableError);
    await rejectsWith(collect(store.readAll()), StoreUnavailableError);
    await sleep(60);
    assert.equal(errors, [], 'close() is not an error');
    await store.close(); // idempotent
  }),
);

s(
  'the file is in WAL mode, and closing the last subscription stops polling',
  withFile(async ({ path, open }) => {
    const store = open();
    const raw = new Database(path, { readonly: true });
    try {
      assert.is(raw.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      raw.close();
    }
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const idle = timers();
    const subscription = store.subscribeToAll({}, { onEvent: () => {} });
    await nextTurn();
    assert.is(timers(), idle + 1);
    await subscription.close();
    assert.is(timers(), idle);
  }),
);

s.run();
