// A projector turns one event into read-model operations. It is pure: it never reads the read
// model and never decides anything; every operation is an absolute assignment, so replaying an
// event twice is harmless.
import { asDomainEvent, type DomainEvent } from '../events/catalogue.ts';
import type { ProjectedEvent, ReadModelOp } from '../readmodel/read-model.ts';
import type { RecordedEvent } from '../store/event-store.ts';

export type Projector = (event: DomainEvent, recorded: RecordedEvent) => ReadModelOp[];

export function combineProjectors(...projectors: readonly Projector[]): Projector {
  return (event, recorded) => projectors.flatMap((p) => p(event, recorded));
}

/** A recorded event as the read model takes it: its position, its operations (none for an event of no known type). */
export function projectRecorded(projector: Projector, recorded: RecordedEvent): ProjectedEvent {
  const event = asDomainEvent(recorded);
  return {
    position: recorded.position,
    ops: event ? projector(event, recorded) : [],
    event: { id: recorded.id, streamId: recorded.streamId, revision: recorded.revision },
  };
}
