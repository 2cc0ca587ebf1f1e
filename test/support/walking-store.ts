// The same store with every read of `$all` made without the by-type hint: every position walked.
// What the audit read by type is compared against (test/audit-by-type.test.ts, the bench).
import type { EventStore } from '../../src/store/event-store.ts';

export const walkingEveryPosition = (store: EventStore): EventStore => ({
  append: (...args) => store.append(...args),
  readStream: (id) => store.readStream(id),
  readAll: (options) => store.readAll({ ...options, byType: false }),
  headPosition: (filter) => store.headPosition(filter),
  subscribeToAll: (options, handler) => store.subscribeToAll(options, handler),
  logIdentity: () => store.logIdentity(),
  close: () => store.close(),
});
