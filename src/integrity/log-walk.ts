// The log in position order as the digest sees it: the events present, and between them the ones a
// trusted prune removed (by their recorded hashes), streamed from the store, never all in memory.
// An event a reseal rewrote counts with the hash it had before (so no earlier checkpoint breaks),
// as long as it now hashes to what the reseal recorded.
import type { EventStore, RecordedEvent } from '../store/event-store.ts';
import { eventHash } from './event-hash.ts';
import type { IntegrityState, PrunedEvent } from './integrity-state.ts';

export type WalkedEvent =
  | { kind: 'present'; event: RecordedEvent; hash: string; digestHash: string; problem?: string }
  | { kind: 'pruned'; pruned: PrunedEvent };

export async function* walkLog(store: Pick<EventStore, 'readAll'>, fromPosition: bigint, state: Pick<IntegrityState, 'pruned' | 'resealed'>): AsyncGenerator<WalkedEvent> {
  let next = state.pruned.findIndex((p) => p.position > fromPosition);
  if (next < 0) next = state.pruned.length;
  for await (const event of store.readAll({ fromPosition })) {
    for (; next < state.pruned.length && state.pruned[next]!.position <= event.position; next++) {
      const pruned = state.pruned[next]!;
      if (pruned.position < event.position) yield { kind: 'pruned', pruned };
    }
    const hash = eventHash(event);
    const resealed = state.resealed.get(event.position);
    let problem: string | undefined;
    let digestHash = hash;
    if (resealed) {
      digestHash = resealed.before;
      // Still its "before": the reseal was recorded and then did not happen (a crash between).
      if (hash !== resealed.after && hash !== resealed.before) problem = 'differs from what its reseal recorded';
    }
    const prunedHere = state.pruned[next - 1];
    if (prunedHere?.position === event.position && prunedHere.hash !== hash) problem = 'differs from what the prune that listed it recorded';
    yield { kind: 'present', event, hash, digestHash, ...(problem ? { problem } : {}) };
  }
  for (; next < state.pruned.length; next++) yield { kind: 'pruned', pruned: state.pruned[next]! };
}
