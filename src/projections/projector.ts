// A projector turns one event into read-model operations. It is pure: it never reads the read
// model and never decides anything; every operation is an absolute assignment, so replaying an
// event twice is harmless.
import type { DomainEvent } from '../events/catalogue.ts';
import type { ReadModelOp } from '../readmodel/read-model.ts';
import type { RecordedEvent } from '../store/event-store.ts';

export type Projector = (event: DomainEvent, recorded: RecordedEvent) => ReadModelOp[];

export function combineProjectors(...projectors: readonly Projector[]): Projector {
  return (event, recorded) => projectors.flatMap((p) => p(event, recorded));
}
