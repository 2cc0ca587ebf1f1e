// Pruning the embedded log of expired ephemeral streams (store/sqlite-prune.ts), the way `authlog
// log prune` and the schedule in `serve` both do it: the stream of the read model's checkpoint
// event is kept, so that a Redis read model restarted afterwards still finds its checkpoint event
// and is not rebuilt. EventStoreDB needs none of this: its ephemeral streams carry `$maxAge`
// from their creation (store/esdb-retention.ts) and a scavenge reclaims the space.
import type { Config } from './config.ts';
import { sqlitePath } from './backends.ts';
import type { ReadModelWriter } from './readmodel/read-model.ts';
import { pruneSqliteLog, type PruneReport, type PrunedRow } from './store/sqlite-prune.ts';

export type PruneConfig = Pick<Config, 'EVENTSTORE_URL' | 'AUTHLOG_DATA_DIR' | 'EPHEMERAL_RETENTION_HOURS'>;

/** Undefined on EventStoreDB, which prunes by itself. */
export async function pruneLog(
  config: PruneConfig,
  readModel: Pick<ReadModelWriter, 'provenance'> | undefined,
  nowMs: number,
  vacuum: 'always' | 'when-worth-it',
  /** Records what is about to be removed in the log's integrity stream (integrity/rewrite-records.ts). */
  record: (rows: PrunedRow[]) => Promise<void>,
): Promise<PruneReport | undefined> {
  if (config.EVENTSTORE_URL) return undefined;
  const checkpointStream = readModel ? (await readModel.provenance()).checkpointEvent?.streamId : undefined;
  return pruneSqliteLog(sqlitePath(config), {
    nowMs,
    graceMs: config.EPHEMERAL_RETENTION_HOURS * 3600_000,
    keepStreams: checkpointStream === undefined ? [] : [checkpointStream],
    vacuum,
    record,
  });
}
