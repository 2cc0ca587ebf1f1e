// The cost of tamper evidence (#25): append throughput through the SQLite store with and without
// the chain (the same concurrent appenders, each append linked from the handler's hint as in the
// service), the CPU cost of linking alone, and how fast a checkpoint is written and `audit verify`
// walks a log of BENCH_INTEGRITY_EVENTS (default 1M; BENCH_QUICK=1: 100k) events.
//
//   node --import tsx bench/integrity.ts            (also part of `npm run bench`: BENCH_ONLY=integrity)
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteEventStore } from '../src/store/sqlite-event-store.ts';
import { NO_STREAM, type EventStore, type NewEvent, type RecordedEvent } from '../src/store/event-store.ts';
import { chainingAppends, linkEvents } from '../src/integrity/chaining-store.ts';
import { checkpointKeyring } from '../src/integrity/checkpoint-keys.ts';
import { writeCheckpoint } from '../src/integrity/checkpointer.ts';
import { verifyLog } from '../src/integrity/verify-log.ts';
import { writeBulkSessionLog } from '../test/support/bulk-log.ts';

export interface IntegrityBenchResult {
  appendsPerSecondPlain: number;
  appendsPerSecondChained: number;
  linkMicros: number;
  events: number;
  checkpointEventsPerSecond: number;
  verifyEventsPerSecond: number;
  verifyRssMb: number;
}

const keyring = checkpointKeyring({ value: 'bench-integrity-secret-0123456789abcdefghij', previous: [] });

const sessionEvent = (i: number): NewEvent => ({
  id: randomUUID(),
  type: 'SessionActivityRecorded',
  data: { sessionId: randomUUID(), projectId: randomUUID(), userId: randomUUID(), atMillis: Date.now() + i, sessionExpiresAtMillis: Date.now() + 3600_000 },
  metadata: { occurredAt: new Date().toISOString(), actor: { kind: 'server-key', id: randomUUID() }, ip: { sealed: 1, subject: 'origin:2026-01-01', key: 'k', iv: 'iv', data: 'x'.repeat(40) } as never },
});

/** `writers` appenders in parallel, each on its own stream, each append expecting the revision it holds, with the hint. */
async function appendRate(store: EventStore, writers: number, perWriter: number): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      const stream = `session-${randomUUID()}`;
      let last: RecordedEvent | undefined;
      for (let i = 0; i < perWriter; i++) {
        const event = sessionEvent(i);
        await store.append(stream, [event], last ? last.revision : NO_STREAM, last ? { lastEvent: last } : {});
        // The handler reads the stream before each decision: so does this, in both runs.
        last = (await store.readStream(stream)).at(-1);
      }
    }),
  );
  return (writers * perWriter * 1000) / (performance.now() - started);
}

export async function runIntegrityBench(events: number, log: (line: string) => void): Promise<IntegrityBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'authlog-bench-integrity-'));
  try {
    const writers = 16;
    const perWriter = 150;
    const plainStore = openSqliteEventStore(join(dir, 'plain.db'));
    const chainedRaw = openSqliteEventStore(join(dir, 'chained.db'));
    const chained = chainingAppends(chainedRaw);
    await appendRate(plainStore, 4, 20); // warm-up
    await appendRate(chained, 4, 20);
    const appendsPerSecondPlain = await appendRate(plainStore, writers, perWriter);
    const appendsPerSecondChained = await appendRate(chained, writers, perWriter);
    await Promise.all([plainStore.close(), chainedRaw.close()]);
    log(`append (SQLite, ${writers} concurrent writers x ${perWriter} appends, each read back as the handler does): ${Math.round(appendsPerSecondPlain)} events/s plain, ${Math.round(appendsPerSecondChained)} chained (ratio ${(appendsPerSecondChained / appendsPerSecondPlain).toFixed(2)})`);

    const previous: RecordedEvent = { ...sessionEvent(0), streamId: 'session-x', revision: 0n, position: 1n };
    const linkRounds = 20_000;
    const linkStarted = performance.now();
    for (let i = 0; i < linkRounds; i++) linkEvents('session-x', previous, [sessionEvent(i)]);
    const linkMicros = ((performance.now() - linkStarted) * 1000) / linkRounds;
    log(`linking one event (canonical form + SHA-256 of the previous and of itself): ${linkMicros.toFixed(1)} µs of CPU`);

    const path = join(dir, 'big.db');
    const bulk = writeBulkSessionLog(path, events);
    const store = openSqliteEventStore(path);
    try {
      let started = performance.now();
      await writeCheckpoint(store, keyring, Date.now());
      const checkpointMs = performance.now() - started;
      started = performance.now();
      const report = await verifyLog(store, { keyring, densePositions: true, ephemeralMayAgeOut: false });
      const verifyMs = performance.now() - started;
      if (!report.ok) throw new Error(`the bench log did not verify: ${JSON.stringify(report.breaks[0])}`);
      const verifyRssMb = Math.round(process.memoryUsage().rss / 1e6);
      const result = {
        appendsPerSecondPlain,
        appendsPerSecondChained,
        linkMicros,
        events: bulk.events,
        checkpointEventsPerSecond: (bulk.events * 1000) / checkpointMs,
        verifyEventsPerSecond: (bulk.events * 1000) / verifyMs,
        verifyRssMb,
      };
      log(`first checkpoint over ${bulk.events.toLocaleString('en-US')} events: ${(checkpointMs / 1000).toFixed(1)} s (${Math.round(result.checkpointEventsPerSecond)} events/s)`);
      log(`audit verify over ${bulk.events.toLocaleString('en-US')} events: ${(verifyMs / 1000).toFixed(1)} s (${Math.round(result.verifyEventsPerSecond)} events/s), RSS ${verifyRssMb} MB`);
      return result;
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const events = Number(process.env.BENCH_INTEGRITY_EVENTS ?? (process.env.BENCH_QUICK === '1' ? 100_000 : 1_000_000));
  await runIntegrityBench(events, (line) => console.log(line));
}
