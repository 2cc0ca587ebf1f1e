// Writing signed checkpoints: the digest of the log (log-digest.ts) from the last trusted
// checkpoint on, carried over the events since, appended to the integrity stream at the revision
// it was read at. Two processes serving one log may both try: the one that appends second finds
// the revision moved, reads again, and finds nothing new to cover but the other's checkpoint. A
// prune or reseal recorded meanwhile moves the revision too, so a checkpoint never misses the
// hashes of events that left between its reading and its writing.
import { WrongExpectedVersionError, type EventStore } from '../store/event-store.ts';
import { appendRecord, CHECKPOINT_EVENT, INTEGRITY_STREAM, readIntegrityStream, signedCheckpointSchema, type CheckpointBody, type SignedCheckpoint } from './integrity-records.ts';
import { integrityState } from './integrity-state.ts';
import { LogDigestFold, emptyLogDigest, type LogDigest } from './log-digest.ts';
import { walkLog } from './log-walk.ts';
import type { CheckpointKeyring } from './checkpoint-keys.ts';

const ATTEMPTS = 5;

export const publishedKids = (keyring: CheckpointKeyring): string[] => keyring.signing.map((k) => k.kid);

const digestOf = (body: CheckpointBody): LogDigest => ({
  position: body.position,
  events: body.events,
  streams: body.streams,
  digest: body.digest,
  ephemeralEvents: body.ephemeralEvents,
  ephemeralDigest: body.ephemeralDigest,
});

/**
 * Appends a checkpoint when there is something new to cover (events other than checkpoints), or
 * when `force`, or when the last one lacks a key of the keyring (a rotation: the next checkpoint
 * is signed by old and new). Resolves with it and its position, or undefined when none was due.
 */
export async function writeCheckpoint(store: EventStore, keyring: CheckpointKeyring, nowMs: number, options: { force?: boolean } = {}): Promise<{ checkpoint: SignedCheckpoint; position: bigint } | undefined> {
  for (let attempt = 1; ; attempt++) {
    const logId = await store.logIdentity();
    const stream = await readIntegrityStream(store);
    const state = integrityState(stream.events, logId, publishedKids(keyring));
    const last = state.checkpoints.at(-1);
    const fold = new LogDigestFold(last ? digestOf(last.body) : emptyLogDigest());
    let news = false;
    for await (const w of walkLog(store, BigInt(fold.state.position), state)) {
      if (w.kind === 'pruned') fold.add(w.pruned.streamId, w.pruned.revision, w.pruned.position, w.pruned.hash);
      else {
        fold.add(w.event.streamId, w.event.revision, w.event.position, w.digestHash);
        if (w.event.streamId !== INTEGRITY_STREAM) news = true;
      }
    }
    const covered = fold.state;
    if (covered.position === '-1') return undefined;
    const signedBy = new Set(last ? ((last.event.data as { signatures?: { kid: string }[] }).signatures ?? []).map((s) => s.kid) : []);
    const rotated = last !== undefined && publishedKids(keyring).some((k) => !signedBy.has(k));
    if (!news && !options.force && !rotated) return undefined;
    const body: CheckpointBody = { v: 1, log: logId, ...covered, previous: last ? { position: last.body.position, digest: last.body.digest } : null, at: new Date(nowMs).toISOString() };
    try {
      const written = await appendRecord(store, CHECKPOINT_EVENT, body, keyring.signing, stream.expected, stream.events.at(-1));
      return { checkpoint: signedCheckpointSchema.parse(written.data), position: written.position };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError) || attempt >= ATTEMPTS) throw error;
    }
  }
}

export interface CheckpointSchedule {
  /** Counts appended events; a checkpoint is written once `everyEvents` have been since the last. */
  noteAppended(count: number): void;
  stop(): Promise<void>;
}

/** Every `intervalMs` and every `everyEvents` appended events (0: not by that measure), one at a time. */
export function scheduleCheckpoints(options: {
  store: EventStore;
  keyring: CheckpointKeyring;
  intervalMs: number;
  everyEvents: number;
  now: () => number;
  log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}): CheckpointSchedule {
  let running: Promise<void> | undefined;
  let appended = 0;
  let stopped = false;
  const run = (): void => {
    if (running || stopped) return;
    appended = 0;
    running = writeCheckpoint(options.store, options.keyring, options.now())
      .then(
        (written) => written && options.log('info', 'wrote a log checkpoint', { position: written.checkpoint.position, events: written.checkpoint.events }),
        (error: unknown) => options.log('warn', 'could not write a log checkpoint', { error: error instanceof Error ? error.message : String(error) }),
      )
      .finally(() => (running = undefined));
  };
  const timer = options.intervalMs > 0 ? setInterval(run, options.intervalMs) : undefined;
  timer?.unref();
  return {
    noteAppended(count) {
      appended += count;
      if (options.everyEvents > 0 && appended >= options.everyEvents) run();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
