// How an operator reads one event: a line with its position, time, stream, type, actor and data
// (which holds only digests of secrets, as the log does), or the event as JSON.
import type { RecordedEvent } from '../store/event-store.ts';
import { actorSubject } from '../actor-subject.ts';
import type { PersonalData } from '../crypto/personal-data.ts';

/** The event with its personal data opened for reading (`[erased]` where the key is gone). */
export async function openedEvent(personal: PersonalData, e: RecordedEvent): Promise<RecordedEvent> {
  return { ...e, data: await personal.showDeep(e.data), metadata: (await personal.showDeep(e.metadata)) as RecordedEvent['metadata'] };
}

export interface EventJson {
  position: string;
  stream: string;
  revision: string;
  id: string;
  type: string;
  data: unknown;
  metadata: RecordedEvent['metadata'];
}

export const eventJson = (e: RecordedEvent): EventJson => ({
  position: String(e.position),
  stream: e.streamId,
  revision: String(e.revision),
  id: e.id,
  type: e.type,
  data: e.data,
  metadata: e.metadata,
});

export function eventLine(e: RecordedEvent): string {
  const actor = e.metadata.actor ? actorSubject(e.metadata.actor) : '-';
  const from = e.metadata.ip ? ` from ${e.metadata.ip}` : '';
  return `${String(e.position).padStart(8)}  ${e.metadata.occurredAt}  ${e.streamId}@${e.revision}  ${e.type}  by ${actor}${from}  ${JSON.stringify(e.data)}`;
}
