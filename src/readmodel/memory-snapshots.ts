// When the memory read model's snapshot (memory-snapshot.ts) is read and written: read once at
// start (only if it was made from this log), written every interval while the checkpoint moves,
// and once more at a clean stop, so that the next start replays only what came after. A write is
// one synchronous copy of the live entries (consistent: no projection write can interleave), then
// an asynchronous write to a temp file and a rename; a failed write is logged and retried next time.
import type { ReadModel } from './read-model.ts';
import type { Generation } from './memory-generation.ts';
import { memoryLiveGeneration } from './memory-read-model.ts';
import { readSnapshotFile, snapshotLines, writeSnapshotFile, type SnapshotSealer } from './memory-snapshot.ts';

type Log = (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;

/** The snapshot in `dir`, if there is a whole one made from the log `logId`; undefined: replay the whole log. */
export async function loadMemorySnapshot(dir: string, logId: string, log: Log, sealer: SnapshotSealer): Promise<Generation | undefined> {
  const gen = await readSnapshotFile(dir, '0', sealer);
  if (gen === undefined) return undefined;
  if (gen.logId !== undefined && gen.logId !== logId) {
    log('warn', 'read-model snapshot is of another log: not used, replaying the whole log', { snapshotLogId: gen.logId, logId });
    return undefined;
  }
  log('info', 'read model starts from its snapshot', { checkpoint: String(gen.checkpoint), entries: gen.data.size });
  return gen;
}

export interface MemorySnapshots {
  /** Writes a snapshot now if the checkpoint moved since the last one; true when it wrote. */
  snapshotNow(): Promise<boolean>;
  /** Stops the timer, then writes a last snapshot. */
  stop(): Promise<void>;
}

/** `loadedAt`: the checkpoint of the snapshot the read model started from (not written again until it moves). */
export function startMemorySnapshots(options: { readModel: ReadModel; dir: string; intervalMs: number; now: () => number; log: Log; sealer: SnapshotSealer; loadedAt?: bigint }): MemorySnapshots {
  const { readModel, dir, now, log, sealer } = options;
  let written: bigint | undefined = options.loadedAt;
  let running: Promise<boolean> | undefined;

  async function write(): Promise<boolean> {
    const gen = memoryLiveGeneration(readModel);
    if (gen === undefined || gen.checkpoint < 0n || gen.checkpoint === written) return false;
    const checkpoint = gen.checkpoint;
    const lines = snapshotLines(gen, now());
    await writeSnapshotFile(dir, lines, sealer);
    written = checkpoint;
    return true;
  }

  const snapshotNow = (): Promise<boolean> => {
    running ??= write()
      .catch((error: unknown) => {
        log('warn', 'could not write the read-model snapshot', { error: String(error) });
        return false;
      })
      .finally(() => (running = undefined));
    return running;
  };

  const timer = options.intervalMs > 0 ? setInterval(() => void snapshotNow(), options.intervalMs) : undefined;
  timer?.unref();
  return {
    snapshotNow,
    async stop() {
      if (timer) clearInterval(timer);
      await running;
      await snapshotNow();
    },
  };
}
