// An event store that wraps another and changes only how it appends (counting, sealing, chaining): every
// other call goes straight through, so a method added to the port is never silently dropped by a
// wrapper that listed the old ones.
import type { EventStore } from './event-store.ts';

export type DecoratedStore = EventStore & {
  /** The adapter at the bottom of the wrappers, for tools that read its own figures (the benchmark's commit time). */
  readonly unwrapped: EventStore;
};

export function withAppend(store: EventStore, append: EventStore['append']): DecoratedStore {
  return {
    unwrapped: (store as Partial<DecoratedStore>).unwrapped ?? store,
    append,
    readStream: (streamId) => store.readStream(streamId),
    readAll: (options) => store.readAll(options),
    headPosition: (filter) => store.headPosition(filter),
    subscribeToAll: (options, handler) => store.subscribeToAll(options, handler),
    logIdentity: () => store.logIdentity(),
    close: () => store.close(),
  };
}
