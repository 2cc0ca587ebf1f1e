// Whether a read model answers for this log. A read model is built from one log; used beside
// another (a fresh data dir with an old Redis) it answers from that other log, and beside an
// older copy of its own log (a restored backup) it answers from a history the log no longer has.
// Its provenance (read-model.ts) says which log it was built from and which event is at its
// checkpoint; this compares that with the log.
import type { AllFilter, EventStore } from '../store/event-store.ts';
import type { ReadModelProvenance, ReadModelWriter } from '../readmodel/read-model.ts';
import type { Verdict } from '../projection-ports.ts';

// Declared beside the port the readiness check reads; handed on for the projections that judge with it.
export type { Verdict };

export interface ReadModelJudgement {
  verdict: Verdict;
  /** Why, in a sentence, for the log line and the CLI. */
  reason: string;
  logId: string;
  readModelLogId: string | undefined;
  provenance: ReadModelProvenance;
  /** The newest event position of the log (among the projected streams). */
  head: bigint;
}

export async function judgeReadModel(store: EventStore, readModel: Pick<ReadModelWriter, 'provenance'>, filter: AllFilter): Promise<ReadModelJudgement> {
  const provenance = await readModel.provenance();
  const logId = await store.logIdentity();
  // Read after the provenance: the log only grows, so a read model caught up with it is never past this.
  const head = await store.headPosition(filter);
  const judged = (verdict: Verdict, reason: string): ReadModelJudgement => ({ verdict, reason, logId, readModelLogId: provenance.logId, provenance, head });
  const { checkpoint, checkpointEvent } = provenance;

  if (provenance.logId !== undefined && provenance.logId !== logId) {
    return judged('another log', `it was built from log ${provenance.logId}, and this log is ${logId}`);
  }
  if (checkpoint < 0n) return judged('same log', 'it is empty');
  // The checkpoint may have moved past other streams' events without projecting them (the store's
  // checkpoints on a filtered subscription), so "ahead" is judged against the whole log.
  const logHead = checkpoint > head ? await store.headPosition() : head;
  if (checkpoint > logHead) return judged('ahead of its log', `its checkpoint ${checkpoint} is past the log's newest event ${logHead} (the log was replaced by an older copy?)`);
  if (checkpointEvent && checkpointEvent.position <= checkpoint) {
    const found = (await store.readStream(checkpointEvent.streamId)).find((e) => e.revision === checkpointEvent.revision);
    if (!found || found.id !== checkpointEvent.id || found.position !== checkpointEvent.position) {
      const what = found ? `event ${found.id} at position ${found.position}` : 'no such event';
      return judged(
        'other history',
        `its checkpoint event ${checkpointEvent.id} (${checkpointEvent.streamId}@${checkpointEvent.revision}, position ${checkpointEvent.position}) is not in the log, which has ${what} there (restored from a copy and written to since?)`,
      );
    }
    if (checkpoint > checkpointEvent.position) {
      // Past its last event it saw only events it does not project; an event it would project
      // there now belongs to another history (a copy written to since), and would be skipped.
      for await (const e of store.readAll({ fromPosition: checkpointEvent.position, filter })) {
        if (e.position <= checkpoint) return judged('other history', `the log has event ${e.id} at position ${e.position}, between its checkpoint event and its checkpoint ${checkpoint}, which it never saw`);
        break;
      }
    }
    return judged('same log', provenance.logId === undefined ? 'its checkpoint event is in the log' : 'built from this log, its checkpoint event is in the log');
  }
  // Written before log identities (or by an older instance still running): no event to check.
  // At the head it is adopted, as after a clean stop and upgrade; anywhere else it is rebuilt.
  if (checkpoint === head) return judged('same log', `adopted: from before log identities, at the log's head ${head}`);
  return judged('unverifiable', `from before log identities, at ${checkpoint}, not at the log's head ${head}: nothing proves it is this log's history`);
}
