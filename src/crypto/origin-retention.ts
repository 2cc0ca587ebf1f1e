// Client addresses and user agents are sealed under a key per UTC day; once a day is older than
// ORIGIN_RETENTION_DAYS its key is deleted, and every address and user agent of that day, in the
// log and its backups, reads `[erased]`. The audit keeps who did what and when; from where, for the
// retention period only. Runs at start and hourly in `serve`.
import type { PersonalData } from './personal-data.ts';
import { subjects } from './sealed.ts';

const DAY_MS = 86_400_000;

export async function forgetExpiredOrigins(personal: PersonalData, nowMs: number, retentionDays: number): Promise<string[]> {
  const cutoff = subjects.origin(new Date(nowMs - retentionDays * DAY_MS).toISOString());
  const expired = await personal.keys.listBefore('origin:', retentionDays === 0 ? subjects.origin(new Date(nowMs + DAY_MS).toISOString()) : cutoff);
  return expired.length === 0 ? [] : personal.erase(expired);
}
