// Before a read model is used (at start and at every (re)subscription of the projection runner):
// one of another log, ahead of its log, or of another history (read-model-verdict.ts) is never
// used as it stands, but rebuilt from this log into a new generation, with one warning that
// says why. Instances sharing a Redis agree on one generation: the new one is switched in only
// while the generation judged is still live; when another instance switched first, its
// generation is judged in turn (and ours discarded).
import type { AllFilter, EventStore } from '../store/event-store.ts';
import type { NextGeneration, ReadModel } from '../readmodel/read-model.ts';
import { judgeReadModel } from './read-model-verdict.ts';
import type { Verdict } from '../projection-ports.ts';

/** The warning logged once per rebuild of a read model that does not answer for this log. */
export const FOREIGN_READ_MODEL_MSG = 'read model does not answer for this log; rebuilding it from the log';
/** Rebuilds in a row before giving up (each lost to another switch: an instance of another log shares the read model?). */
const MAX_REBUILDS = 3;

export interface OwnershipOptions {
  store: EventStore;
  readModel: ReadModel;
  filter: AllFilter;
  log?: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  /** Told the log's identity at each judgement: every write of the caller carries it. */
  onJudged(logId: string): void;
  /** Told before a rebuild starts, and why. */
  onRebuilding(verdict: Verdict): void;
  /** Projects the whole log into the new generation (the runner's catch-up); resolves with the events applied. */
  fill(next: NextGeneration): Promise<number>;
}

/** Returns whether the live generation changed (rebuilt here, or switched by another instance). */
export async function ensureOwnReadModel(options: OwnershipOptions): Promise<boolean> {
  const { store, readModel, filter, log } = options;
  for (let attempt = 1; ; attempt++) {
    const judgement = await judgeReadModel(store, readModel, filter);
    options.onJudged(judgement.logId);
    if (judgement.verdict === 'same log') {
      // Adopted (from before identities) or empty: it records this log from now on, so that a
      // later judgement no longer depends on where the log's head happens to be.
      if (judgement.readModelLogId === undefined) await readModel.applyBatch([], { logId: judgement.logId });
      return attempt > 1;
    }
    if (attempt > MAX_REBUILDS) {
      throw new Error(`the read model still does not answer for this log after ${MAX_REBUILDS} rebuilds (an instance of another log shares it?): ${judgement.reason}`);
    }
    options.onRebuilding(judgement.verdict);
    log?.('warn', FOREIGN_READ_MODEL_MSG, {
      verdict: judgement.verdict,
      reason: judgement.reason,
      logId: judgement.logId,
      readModelLogId: judgement.readModelLogId ?? null,
      checkpoint: String(judgement.provenance.checkpoint),
      head: String(judgement.head),
    });
    const started = Date.now();
    const next = await readModel.openNextGeneration();
    try {
      const events = await options.fill(next);
      if (await next.activate({ ifLiveIs: judgement.provenance.generation })) {
        log?.('info', 'read model rebuilt from this log', { generation: next.id, events, ms: Date.now() - started });
        return true;
      }
      await next.discard();
      log?.('info', 'another instance switched the read model first; judging its generation', { discarded: next.id });
    } catch (error) {
      await next.discard().catch(() => undefined);
      throw error;
    }
  }
}
