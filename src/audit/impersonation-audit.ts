// The impersonation audit: every session created through /auth/sessions (impersonation or not),
// every session whose tokens act for someone (`act`), however it came to be, and every session
// derived from one of those — who created it, for whom, when and from where, its parent and actor
// chain, its expiry, its revocation (its own, or its parent's when it ends with it) and its use —
// computed by replaying the log, never from the read model, optionally as the world was at an
// instant. It streams the log: memory holds one row per matching session, not the events.
import type { AllFilter, EventStore, RecordedEvent } from '../store/event-store.ts';
import { asDomainEvent } from '../events/catalogue.ts';
import { actorSubject } from '../actor-subject.ts';
import { termsOf } from '../policy/session-authority.ts';
import type { PersonalData } from '../crypto/personal-data.ts';
import type { Personal } from '../crypto/sealed.ts';

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
  /** How it came to be: sessions-api, cli-login, sign-in-code. */
  via: string;
  /** Who created the session (for a derived impersonation session, the impersonator): `kind:id`. */
  actor: string;
  /** The session it was derived from (a CLI login's approving session), or null. */
  parent_session_id: string | null;
  /** The actor chain its tokens carry in `act`, current actor first; empty for none. */
  actor_chain: string[];
  created_at: string;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  expires_at: string;
  revoked_at: string | null;
  revoked_by: string | null;
  /** sign-out, revoked, user-deleted, or parent-revoked (it ended with its parent). */
  revoke_reason: string | null;
  /** Use as recorded in the log: at most one record per 15 minutes of refreshes. */
  first_used_at: string | null;
  last_used_at: string | null;
  use_records: number;
  /** At the audit's instant (as_of, or now): not revoked and not expired. */
  live: boolean;
}

/** The part of `$all` the audit reads: three types among the many of the log, read by type (the store's index). */
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
  personal: PersonalData,
  filters: AuditFilters,
  nowMs: number,
  onProgress?: (eventsRead: number) => void,
): Promise<{ rows: ImpersonationRow[]; eventsRead: number }> {
  const rows = new Map<string, ImpersonationRow>();
  // Addresses and user agents stay sealed while the log streams by; only the rows' are opened.
  const origins = new Map<string, { ip: Personal | undefined; userAgent: Personal | undefined }>();
  // Every session derived from an audited one is audited too, whatever the filters say of the
  // parent; and sessions that end with their parent end on its revocation. Both need the links.
  const audited = new Set<string>();
  const endingWith = new Map<string, string[]>();
  const at = filters.asOfMs ?? nowMs;
  let eventsRead = 0;
  for await (const recorded of store.readAll({ filter: AUDIT_FILTER, byType: true })) {
    eventsRead++;
    if (onProgress && eventsRead % 10_000 === 0) onProgress(eventsRead);
    if (filters.asOfMs !== undefined && occurredAt(recorded) > filters.asOfMs) continue;
    const event = asDomainEvent(recorded);
    if (!event) continue;
    switch (event.type) {
      case 'SessionCreated': {
        const d = event.data;
        const terms = termsOf(d);
        const parent = terms.parentSessionId;
        if (!(d.via === 'sessions-api' || terms.actorChain.length > 0 || (parent !== undefined && audited.has(parent)))) break;
        audited.add(d.sessionId);
        if (terms.endsWithParent && parent !== undefined) endingWith.set(parent, [...(endingWith.get(parent) ?? []), d.sessionId]);
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
          via: d.via,
          actor,
          parent_session_id: parent ?? null,
          actor_chain: [...terms.actorChain],
          created_at: iso(d.createdAtMillis),
          ip: null,
          user_agent: null,
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
        origins.set(d.sessionId, { ip: recorded.metadata.ip, userAgent: recorded.metadata.userAgent });
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
        const revokedAt = iso(event.data.revokedAtMillis);
        const revokedBy = recorded.metadata.actor ? actorSubject(recorded.metadata.actor) : null;
        endRow(rows.get(event.data.sessionId), revokedAt, revokedBy, event.data.reason);
        // Its descendants that end with it end now, each shown with the parent's revocation.
        const pending = [...(endingWith.get(event.data.sessionId) ?? [])];
        for (let child = pending.pop(); child !== undefined; child = pending.pop()) {
          endRow(rows.get(child), revokedAt, revokedBy, 'parent-revoked');
          pending.push(...(endingWith.get(child) ?? []));
        }
        break;
      }
      default:
        break;
    }
  }
  for (const [sessionId, origin] of origins) {
    const row = rows.get(sessionId);
    if (!row) continue;
    row.ip = origin.ip === undefined ? null : await personal.show(origin.ip);
    row.user_agent = origin.userAgent === undefined ? null : await personal.show(origin.userAgent);
  }
  const result = [...rows.values()];
  for (const row of result) row.live = row.revoked_at === null && Date.parse(row.expires_at) > at;
  return { rows: result, eventsRead };
}

/** A row's first end is the one that counts: a later revocation changes nothing. */
function endRow(row: ImpersonationRow | undefined, at: string, by: string | null, reason: string): void {
  if (!row || row.revoked_at !== null) return;
  row.revoked_at = at;
  row.revoked_by = by;
  row.revoke_reason = reason;
}

/** When the event happened, by the clock of the process that decided it. */
function occurredAt(recorded: RecordedEvent): number {
  return Date.parse(recorded.metadata.occurredAt);
}
