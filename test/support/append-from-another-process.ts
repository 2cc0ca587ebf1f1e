// Appends to an SQLite event store file from a separate OS process, the way the `authlog`
// command does while the server runs on the same file. Driven by one JSON argument (a Plan);
// prints one JSON line per outcome so the parent can see what was committed and when.
//
//   node --import tsx test/support/append-from-another-process.ts '{"path":"/tmp/x.db","stream":"s-1","appends":5}'
import { randomUUID } from 'node:crypto';
import { ANY, NO_STREAM, WrongExpectedVersionError, type NewEvent } from '../../src/store/event-store.ts';
import { openSqliteEventStore } from '../../src/store/sqlite-event-store.ts';

export interface Plan {
  path: string;
  stream: string;
  /** How many appends succeed before the process ends. */
  appends: number;
  /** Events per append (default 1). */
  batch?: number;
  /** Pause between appends (default 0). */
  intervalMs?: number;
  /** Wall-clock ms to wait for before the first append, so that several processes start together. */
  startAt?: number;
  /**
   * `append` (default): expected revision ANY.
   * `increment`: read the stream, append with its last revision as expected, retry on conflict:
   * the read-decide-append loop of a command handler.
   */
  mode?: 'append' | 'increment';
}

/** One line of output; bigints as decimal strings. */
export type Outcome =
  | { kind: 'committed'; ids: string[]; revision: string; position: string; committedAt: number }
  | { kind: 'conflict' }
  | { kind: 'done'; conflicts: number };

const plan = JSON.parse(process.argv[2] ?? '{}') as Plan;
const say = (outcome: Outcome): void => void process.stdout.write(JSON.stringify(outcome) + '\n');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function batch(size: number): NewEvent[] {
  return Array.from({ length: size }, () => ({
    id: randomUUID(),
    type: 'OtherProcess.Appended',
    data: { pid: process.pid },
    metadata: { occurredAt: new Date().toISOString(), actor: { kind: 'system' as const, id: `pid-${process.pid}` } },
  }));
}

const store = openSqliteEventStore(plan.path);
if (plan.startAt !== undefined) await sleep(Math.max(0, plan.startAt - Date.now()));
let conflicts = 0;
for (let done = 0; done < plan.appends; ) {
  const events = batch(plan.batch ?? 1);
  let expected: bigint | typeof ANY | typeof NO_STREAM = ANY;
  if (plan.mode === 'increment') {
    const last = (await store.readStream(plan.stream)).at(-1);
    expected = last ? last.revision : NO_STREAM;
  }
  try {
    const result = await store.append(plan.stream, events, expected);
    say({
      kind: 'committed',
      ids: events.map((e) => e.id),
      revision: String(result.nextExpectedRevision),
      position: String(result.position),
      committedAt: Date.now(),
    });
    done += 1;
  } catch (error) {
    if (!(error instanceof WrongExpectedVersionError)) throw error;
    conflicts += 1;
    say({ kind: 'conflict' });
  }
  if (plan.intervalMs) await sleep(plan.intervalMs);
}
say({ kind: 'done', conflicts });
await store.close();
