// The impersonation audit: every session created through /auth/sessions (impersonation or not),
// who created it, for whom, when and from where, its expiry, its revocation and its use —
// computed by replaying the log, never from the read model, optionally as the world was at an
// instant. It streams the log: memory holds one row per matching session, not the events.
import type { AllFilter, EventStore, RecordedEvent } from '../store/event-store.ts';
import { asDomainEvent } from '../events/catalogue.ts';
import { actorSubject } from '../actor-subject.ts';

export interface AuditFilters {
  projectId?: string;
  userId?: string;
  /** An actor as `kind:id` (e.g. `admin-user:<uuid>`), or just its id. */
  actor?: string;
  /** Sessions created at or after / before this instant (epoch ms). */
  sinceMs?: number;
  untilMs?: number;
  /** Answer as the log stood at this instant: later events are not seen. */
  asOfMs?: number;
}

export interface ImpersonationRow {
  session_id: string;
  project_id: string;
  user_id: string;
  is_impersonation: boolean;
  /** Who created the session: `kind:id`. */
  actor: string;
  created_at: string;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  expires_at: string;
  revoked_at: string | null;
  revoked_by: string | null;
  revoke_reason: string | null;
  /** Use as recorded in the log: at most one record per 15 minutes of refreshes. */
  first_used_at: string | null;
  last_used_at: string | null;
  use_records: number;
  /** At the audit's instant (as_of, or now): not revoked and not expired. */
  live: boolean;
}

/** The part of `$all` the audit reads. */
export const AUDIT_FILTER: AllFilter = {
  streamPrefixes: ['session-'],
  eventTypes: ['SessionCreated', 'SessionActivityRecorded', 'SessionRevoked'],
};

const iso = (ms: number): string => new Date(ms).toISOString();

function actorMatches(actor: string, wanted: string | undefined): boolean {
  if (wanted === undefined) return true;
  return wanted.includes(':') ? actor === wanted : actor.slice(actor.indexOf(':') + 1) === wanted;
}

/**
 * Replays the session streams and returns the rows, oldest first. `onProgress` is called every
 * 10,000 events read, so a long audit can say where it is.
 */
export async function auditImpersonations(
  store: EventStore,
  filters: AuditFilters,
  nowMs: number,
  onProgress?: (eventsRead: number) => void,
): Promise<{ rows: ImpersonationRow[]; eventsRead: number }> {
  const rows = new Map<string, ImpersonationRow>();
  const at = filters.asOfMs ?? nowMs;
  let eventsRead = 0;
  for await (const recorded of store.readAll({ filter: AUDIT_FILTER })) {
    eventsRead++;
    if (onProgress && eventsRead % 10_000 === 0) onProgress(eventsRead);
    if (filters.asOfMs !== undefined && occurredAt(recorded) > filters.asOfMs) continue;
    const event = asDomainEvent(recorded);
    if (!event) continue;
    switch (event.type) {
      case 'SessionCreated': {
        const d = event.data;
        if (d.via !== 'sessions-api') break;
        if (filters.projectId !== undefined && d.projectId !== filters.projectId) break;
        if (filters.userId !== undefined && d.userId !== filters.userId) break;
        const actor = actorSubject(d.createdBy);
        if (!actorMatches(actor, filters.actor)) break;
        if (filters.sinceMs !== undefined && d.createdAtMillis < filters.sinceMs) break;
        if (filters.untilMs !== undefined && d.createdAtMillis >= filters.untilMs) break;
        rows.set(d.sessionId, {
          session_id: d.sessionId,
          project_id: d.projectId,
          user_id: d.userId,
          is_impersonation: d.isImpersonation,
          actor,
          created_at: iso(d.createdAtMillis),
          ip: recorded.metadata.ip ?? null,
          user_agent: recorded.metadata.userAgent ?? null,
          request_id: recorded.metadata.requestId ?? null,
          expires_at: iso(d.expiresAtMillis),
          revoked_at: null,
          revoked_by: null,
          revoke_reason: null,
          first_used_at: null,
          last_used_at: null,
          use_records: 0,
          live: false,
        });
        break;
      }
      case 'SessionActivityRecorded': {
        const row = rows.get(event.data.sessionId);
        if (!row) break;
        row.first_used_at ??= iso(event.data.atMillis);
        row.last_used_at = iso(event.data.atMillis);
        row.use_records++;
        break;
      }
      case 'SessionRevoked': {
        const row = rows.get(event.data.sessionId);
        if (!row) break;
        row.revoked_at = iso(event.data.revokedAtMillis);
        row.revoked_by = recorded.metadata.actor ? actorSubject(recorded.metadata.actor) : null;
        row.revoke_reason = event.data.reason;
        break;
      }
      default:
        break;
    }
  }
  const result = [...rows.values()];
  for (const row of result) row.live = row.revoked_at === null && Date.parse(row.expires_at) > at;
  return { rows: result, eventsRead };
}

/** When the event happened, by the clock of the process that decided it. */
function occurredAt(recorded: RecordedEvent): number {
  return Date.parse(recorded.metadata.occurredAt);
}
