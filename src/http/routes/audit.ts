// Audit and operations over HTTP (API.md §6), admin only and scoped to the caller's project:
// the impersonation audit replayed from the log, and the raw events for debugging.
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppState } from '../app-state.ts';
import { callerOf, requireAccess } from '../access.ts';
import { parseInput } from '../validate.ts';
import { auditImpersonations } from '../../audit/impersonation-audit.ts';
import { eventJson, openedEvent, type EventJson } from '../../audit/event-lines.ts';
import { STREAM_CATEGORIES } from '../../events/streams.ts';
import { describeRoutes } from '../route-description.ts';

const instant = z.iso.datetime({ offset: true }).transform((v) => Date.parse(v));

export const auditQuery = z.object({
  user_id: z.uuid().optional(),
  actor: z.string().min(1).max(200).optional(),
  since: instant.optional(),
  until: instant.optional(),
  as_of: instant.optional(),
});

export const eventsQuery = z.object({
  stream: z.string().min(1).max(300).optional(),
  category: z.enum(STREAM_CATEGORIES).optional(),
  type: z.string().min(1).max(100).optional(),
  /** Exclusive: events after this position. */
  from: z.string().regex(/^\d{1,20}$/, 'must be a position (digits)').optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const MAX_SCAN_PER_REQUEST = 10_000;

const isoOrNull = z.iso.datetime().nullable();
const auditRow = z.strictObject({
  session_id: z.uuid(),
  project_id: z.uuid(),
  user_id: z.uuid(),
  is_impersonation: z.boolean(),
  via: z.enum(['sessions-api', 'cli-login', 'sign-in-code']),
  actor: z.string().describe('who created the session (for a derived impersonation session, the impersonator): kind:id'),
  parent_session_id: z.uuid().nullable().describe('the session it was derived from (a CLI login: the approving session)'),
  actor_chain: z.array(z.string()).describe("the RFC 8693 actor chain of its tokens' act claim, current actor first"),
  created_at: z.iso.datetime(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  request_id: z.string().nullable(),
  expires_at: z.iso.datetime(),
  revoked_at: isoOrNull,
  revoked_by: z.string().nullable(),
  revoke_reason: z.string().nullable().describe('sign-out, revoked, user-deleted, or parent-revoked (ended with its parent)'),
  first_used_at: isoOrNull,
  last_used_at: isoOrNull,
  use_records: z.number().int().min(0),
  live: z.boolean(),
});
const eventItem = z.strictObject({
  position: z.string(),
  stream: z.string(),
  revision: z.string(),
  id: z.string(),
  type: z.string(),
  data: z.unknown().describe('secrets appear only as HMAC digests'),
  metadata: z.looseObject({ occurredAt: z.iso.datetime() }),
});

export const auditRouteDescriptions = describeRoutes(
  {
    method: 'GET',
    path: '/api/v1/audit/impersonations',
    tag: 'Audit and operations',
    summary: 'Every session created through /auth/sessions, replayed from the event log, optionally as of a past instant.',
    access: 'admin',
    query: auditQuery,
    responses: {
      200: {
        description: 'The sessions, oldest first.',
        schema: z.strictObject({ items: z.array(auditRow), events_read: z.number().int().min(0), as_of: z.iso.datetime() }),
      },
    },
    errors: [],
  },
  {
    method: 'GET',
    path: '/api/v1/events',
    tag: 'Audit and operations',
    summary: "The project's raw events (secrets already hashed), for debugging.",
    description: 'At most 10 000 events are scanned per request; continue from next_from.',
    access: 'admin',
    query: eventsQuery,
    responses: {
      200: {
        description: 'A page of events.',
        schema: z.strictObject({ items: z.array(eventItem), next_from: z.string().nullable().describe('pass as from to continue; null when nothing was scanned') }),
      },
    },
    errors: [],
  },
);

export function auditRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1' });

  router.get('/audit/impersonations', requireAccess(app, 'admin'), async (ctx) => {
    const q = parseInput(ctx, auditQuery, ctx.query, 'query');
    const { rows, eventsRead } = await auditImpersonations(
      app.store,
      app.personal,
      { projectId: callerOf(ctx).project.id, userId: q.user_id, actor: q.actor, sinceMs: q.since, untilMs: q.until, asOfMs: q.as_of },
      app.clock(),
    );
    ctx.body = { items: rows, events_read: eventsRead, as_of: new Date(q.as_of ?? app.clock()).toISOString() };
  });

  router.get('/events', requireAccess(app, 'admin'), async (ctx) => {
    const q = parseInput(ctx, eventsQuery, ctx.query, 'query');
    const projectId = callerOf(ctx).project.id;
    const limit = q.limit ?? 100;
    const prefixes = q.stream ? [q.stream] : q.category ? [`${q.category}-`] : undefined;
    const items: EventJson[] = [];
    let scannedTo: string | null = null;
    let scanned = 0;
    for await (const e of app.store.readAll({
      ...(q.from ? { fromPosition: BigInt(q.from) } : {}),
      filter: { ...(prefixes ? { streamPrefixes: prefixes } : {}), ...(q.type ? { eventTypes: [q.type] } : {}) },
    })) {
      scannedTo = String(e.position);
      // Bounded work per request: a sparse match over a long log continues from next_from.
      if (++scanned > MAX_SCAN_PER_REQUEST) break;
      // A project's admin sees its own project's events only.
      if (e.metadata.projectId !== projectId || (q.stream && e.streamId !== q.stream) || (q.type && e.type !== q.type)) continue;
      items.push(eventJson(await openedEvent(app.personal, e)));
      if (items.length >= limit) break;
    }
    ctx.body = { items, next_from: scannedTo };
  });

  return router;
}
