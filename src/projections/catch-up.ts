// Catching a read-model writer (the live generation, or a new one being rebuilt) up with the log:
// read `$all` from the writer's checkpoint and apply it in batches, each with its checkpoint.
import type { AllFilter, EventStore } from '../store/event-store.ts';
import type { ProjectedEvent, ReadModelWriter } from '../readmodel/read-model.ts';
import { projectRecorded, type Projector } from './projector.ts';

export interface CatchUpSource {
  store: EventStore;
  filter: AllFilter;
  projector: Projector;
  batchSize: number;
  /** The log identity every write carries, once known. */
  writeOptions: () => { logId?: string };
}

/** Applies what the log holds after the writer's checkpoint; answers how many events it applied. */
export async function catchUp(source: CatchUpSource, writer: ReadModelWriter, onBatch?: (applied: number, position: bigint) => void): Promise<number> {
  const from = await writer.checkpoint();
  let batch: ProjectedEvent[] = [];
  let applied = 0;
  // One batch applies while the next is read and projected; they still apply in order.
  let applying: Promise<void> = Promise.resolve();
  const apply = async (full: ProjectedEvent[]): Promise<void> => {
    await applying;
    const step = writer.applyBatch(full, source.writeOptions()).then(() => {
      applied += full.length;
      onBatch?.(applied, full[full.length - 1]!.position);
    });
    step.catch(() => undefined); // awaited by the next apply or at the end; not unhandled meanwhile
    applying = step;
  };
  for await (const recorded of source.store.readAll({ fromPosition: from >= 0n ? from : undefined, filter: source.filter })) {
    batch.push(projectRecorded(source.projector, recorded));
    if (batch.length >= source.batchSize) {
      await apply(batch);
      batch = [];
    }
  }
  if (batch.length) await apply(batch);
  await applying;
  return applied;
}
