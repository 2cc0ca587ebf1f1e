// The event catalogue: every event type the log may hold, one zod schema each. The schemas are
// the single source of truth for payloads: decide() output is validated against them before it
// is appended, and TypeScript types are inferred from them.
import { z } from 'zod';
import { projectEvents } from './project-events.ts';
import { userEvents } from './user-events.ts';
import { sessionEvents } from './session-events.ts';
import { cliAuthEvents } from './cli-auth-events.ts';
import { signInCodeEvents } from './sign-in-code-events.ts';

export const eventSchemas = {
  ...projectEvents,
  ...userEvents,
  ...sessionEvents,
  ...cliAuthEvents,
  ...signInCodeEvents,
};

export type EventType = keyof typeof eventSchemas;
export type EventData<T extends EventType> = z.infer<(typeof eventSchemas)[T]>;

/** A domain event: its type and its validated payload. */
export type DomainEvent = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];
export type EventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;

export const isEventType = (type: string): type is EventType => Object.hasOwn(eventSchemas, type);

/** Validates a payload against its schema; used on every append, so the log only holds valid events. */
export function validateEvent(event: DomainEvent): DomainEvent {
  const schema: z.ZodType = eventSchemas[event.type];
  const result = schema.safeParse(event.data);
  if (!result.success) throw new Error(`Invalid ${event.type} event: ${result.error.message}`);
  return event;
}

/**
 * Reads a recorded event as a domain event. The log is written only through validateEvent, so the
 * payload is trusted and not re-validated on every replay (replay speed matters: a rebuild reads
 * every event); an unknown type (a newer version's event, a foreign stream) reads as undefined.
 */
export function asDomainEvent(recorded: { type: string; data: unknown }): DomainEvent | undefined {
  if (!isEventType(recorded.type)) return undefined;
  return { type: recorded.type, data: recorded.data } as DomainEvent;
}
