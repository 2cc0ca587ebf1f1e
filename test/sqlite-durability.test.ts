// The SQLite store syncs its WAL off the event loop (src/store/sqlite-wal-sync.ts): what that
// must still promise. An append is answered only once its sync has returned, and until then no
// reader (a stream read a command decides on, `$all`, a subscription feeding the read model, the
// head /ready reports) sees its events; a failed sync is a 503 with nothing more taken.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NO_STREAM, StoreUnavailableError, type NewEvent, type RecordedEvent } from '../src/store/event-store.ts';
import { openSqliteEventStore } from '../src/store/sqlite-event-store.ts';
import type { DurabilitySync } from '../src/store/sqlite-wal-sync.ts';

const event = (n: number): NewEvent => ({ id: randomUUID(), type: 'TestHappened', data: { n }, metadata: { occurredAt: new Date().toISOString(), actor: { kind: 'system', id: 'test' } } });
const turns = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A sync the test lets return (or fail) when it wants; counts how many were asked for. */
function heldSync(): DurabilitySync & { asked: number; release(): void; fail(error: Error): void } {
  let waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const held = {
    asked: 0,
    sync: () =>
      new Promise<void>((resolve, reject) => {
        held.asked++;
        waiting.push({ resolve, reject });
      }),
    syncNow: () => {},
    close: () => {},
    release() {
      const now = waiting;
      waiting = [];
      for (const w of now) w.resolve();
    },
    fail(error: Error) {
      const now = waiting;
      waiting = [];
      for (const w of now) w.reject(error);
    },
  };
  return held;
}

function tempPath(): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'authlog-durability-'));
  return { path: join(dir, 'events.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

test('an append is answered only once its WAL sync has returned, and no reader sees its events before', async () => {
  const { path, remove } = tempPath();
  const sync = heldSync();
  const store = openSqliteEventStore(path, { durability: sync });
  try {
    // One event that is on disk already, for the readers to see.
    const first = store.append('s-1', [event(1)], NO_STREAM);
    await turns();
    sync.release();
    const firstPosition = (await first).position;

    const delivered: RecordedEvent[] = [];
    const subscription = store.subscribeToAll({}, { onEvent: async (e) => void delivered.push(e) });
    await turns();
    assert.is(delivered.length, 1);

    let answered = false;
    const second = store.append('s-1', [event(2)], 0n).then((r) => ((answered = true), r));
    await turns();
    assert.ok(sync.asked >= 2, 'a sync was asked for after the commit');
    assert.is(answered, false, 'the append waits for its sync');
    assert.is(await store.headPosition(), firstPosition, 'the head readers are told stops before the unsynced event');
    const all: RecordedEvent[] = [];
    for await (const e of store.readAll()) all.push(e);
    assert.equal(all.map((e) => e.data), [{ n: 1 }], '$all shows only what is on disk');
    let streamRead: RecordedEvent[] | undefined;
    void store.readStream('s-1').then((events) => (streamRead = events));
    await turns();
    assert.is(streamRead, undefined, 'a command reading the stream waits for the sync rather than decide on an unsynced event');
    assert.is(delivered.length, 1, 'the subscription (the read model) has not been given it');

    sync.release();
    const result = await second;
    assert.is(result.nextExpectedRevision, 1n);
    await turns();
    assert.equal(streamRead?.map((e) => e.data), [{ n: 1 }, { n: 2 }]);
    assert.is(delivered.length, 2);
    assert.is(await store.headPosition(), result.position);
    await subscription.close();
  } finally {
    sync.release();
    await store.close();
    remove();
  }
});

test('a failed WAL sync answers 503 (the outcome is unknown) and the store takes nothing more', async () => {
  const { path, remove } = tempPath();
  const sync = heldSync();
  const store = openSqliteEventStore(path, { durability: sync });
  try {
    const pending = store.append('s-1', [event(1)], NO_STREAM);
    await turns();
    sync.fail(new Error('EIO: i/o error, fdatasync'));
    const error = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(error, StoreUnavailableError);
    assert.is((error as StoreUnavailableError).status, 503);
    const later = await store.append('s-2', [event(2)], NO_STREAM).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(later, StoreUnavailableError, 'after a failed sync no append is taken');
    assert.ok(sync.asked === 1, 'nothing more was committed to be synced');
  } finally {
    await store.close();
    remove();
  }
});

test('with the real WAL sync, every commit is followed by a sync (batches may share one) and what was answered is in the file', async () => {
  const { path, remove } = tempPath();
  const store = openSqliteEventStore(path);
  try {
    await Promise.all([store.append('s-1', [event(1)], NO_STREAM), store.append('s-2', [event(2)], NO_STREAM)]);
    await store.append('s-1', [event(3)], 0n);
    assert.ok(store.groupCommitStats.syncs >= 1 && store.groupCommitStats.syncs <= store.groupCommitStats.commits, JSON.stringify(store.groupCommitStats));
  } finally {
    await store.close();
  }
  const db = new Database(path, { readonly: true });
  try {
    assert.is((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, 3);
  } finally {
    db.close();
    remove();
  }
});

test.run();
