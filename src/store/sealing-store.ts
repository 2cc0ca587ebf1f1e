// The event-store port with personal data sealed on the way in: the fields events/personal-fields.ts
// names, under their subject's key, and every event's client address and user agent under the key
// of the day they were recorded (forgotten after ORIGIN_RETENTION_DAYS; 0 records neither). Every
// process appends through this, so no plain personal value reaches the log whoever writes.
import type { EventMetadata, EventStore, NewEvent } from './event-store.ts';
import { withAppend } from './decorated-store.ts';
import type { PersonalData } from '../crypto/personal-data.ts';
import { subjects } from '../crypto/sealed.ts';
import { personalFields } from '../events/personal-fields.ts';
import { isEventType } from '../events/catalogue.ts';

export interface SealingOptions {
  /** 0: client addresses and user agents are not recorded at all. */
  originRetentionDays: number;
}

export interface AppendOptions extends SealingOptions {
  /**
   * The current server secret's fingerprint, stamped on every appended event's metadata: this is
   * the one spot every process's appends pass, and the command that decides never knows it.
   */
  secretId: string;
}

export async function sealEvent(personal: PersonalData, event: NewEvent, options: SealingOptions): Promise<NewEvent> {
  return { ...event, data: await sealData(personal, event.type, event.data), metadata: await sealMetadata(personal, event.metadata, options) };
}

async function sealData(personal: PersonalData, type: string, data: unknown): Promise<unknown> {
  const spec = isEventType(type) ? (personalFields[type] as { fields: readonly string[]; subject: (d: never) => string } | undefined) : undefined;
  if (!spec || data === null || typeof data !== 'object') return data;
  const record = data as Record<string, unknown>;
  const subject = spec.subject(record as never);
  const sealed: Record<string, unknown> = { ...record };
  for (const field of spec.fields) {
    const value = record[field];
    if (typeof value === 'string') sealed[field] = await personal.seal(subject, value);
  }
  return sealed;
}

async function sealMetadata(personal: PersonalData, metadata: EventMetadata, options: SealingOptions): Promise<EventMetadata> {
  const { ip, userAgent, ...rest } = metadata;
  if (options.originRetentionDays === 0 || (ip === undefined && userAgent === undefined)) return rest;
  const subject = subjects.origin(metadata.occurredAt);
  return {
    ...rest,
    ...(typeof ip === 'string' ? { ip: await personal.seal(subject, ip) } : ip !== undefined ? { ip } : {}),
    ...(typeof userAgent === 'string' ? { userAgent: await personal.seal(subject, userAgent) } : userAgent !== undefined ? { userAgent } : {}),
  };
}

export function sealingPersonalData(store: EventStore, personal: PersonalData, options: AppendOptions): EventStore {
  // Stamped here, not in sealEvent: `authlog log seal-personal-data` reseals old events through
  // sealEvent, and their digests were made by whichever secret was current then, not this one.
  const stamp = (e: NewEvent): NewEvent => ({ ...e, metadata: { ...e.metadata, secretId: options.secretId } });
  return withAppend(store, async (streamId, events, expected, hints) =>
    store.append(streamId, await Promise.all(events.map((e) => sealEvent(personal, stamp(e), options))), expected, hints),
  );
}
