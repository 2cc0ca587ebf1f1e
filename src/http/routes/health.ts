// Liveness and readiness. /ready checks each backend and reports the projection lag.
import Router from '@koa/router';
import { z } from 'zod';
import type { AppContext } from '../../app-context.ts';
import type { AppState } from '../app-state.ts';
import { describeRoutes } from '../route-description.ts';

const backendCheck = z.union([z.strictObject({ kind: z.string(), ok: z.literal(true) }), z.strictObject({ kind: z.string(), ok: z.literal(false), error: z.string() })]);
const readiness = z.strictObject({
  status: z.enum(['ready', 'unavailable']),
  event_store: backendCheck,
  read_model: backendCheck,
  projection: z.union([
    z.strictObject({
      checkpoint: z.string().describe('global position of the last event applied to the read model'),
      head: z.string().describe('global position of the newest event in the log'),
      lag_events: z.number().int().min(0),
      lag_ms: z.number().int().min(0).describe('age of the oldest event not applied yet; 0 when caught up'),
      rebuilding: z
        .enum(['another log', 'ahead of its log', 'other history', 'unverifiable'])
        .optional()
        .describe('the read model did not answer for this log and is being rebuilt from it (503 until it has caught up)'),
    }),
    z.strictObject({ error: z.string() }),
  ]),
});

export const healthRouteDescriptions = describeRoutes(
  {
    method: 'GET',
    path: '/health',
    tag: 'Operations',
    summary: 'Liveness: the process answers.',
    access: 'public',
    responses: { 200: { description: 'Alive.', schema: z.strictObject({ status: z.literal('ok') }) } },
    errors: [],
  },
  {
    method: 'GET',
    path: '/ready',
    tag: 'Operations',
    summary: 'Readiness: the event store and the read model answer; how far projections are behind.',
    access: 'public',
    responses: {
      200: { description: 'Both backends answer.', schema: readiness },
      503: { description: 'A backend does not answer (which one, and why), or the read model is being rebuilt from the log.', schema: readiness },
    },
    errors: [],
  },
);

export function healthRoutes(app: AppContext): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    const check = async (probe: () => Promise<unknown>) => {
      try {
        await Promise.race([probe(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout after 2000 ms')), 2000).unref())]);
        return { ok: true as const };
      } catch (error) {
        return { ok: false as const, error: (error as Error).message };
      }
    };
    const [eventStore, readModel] = await Promise.all([
      check(() => app.store.headPosition()),
      check(() => app.readModel.ping()),
    ]);
    let projection: z.infer<typeof readiness>['projection'];
    // A read model of another log (or history) answers wrongly until its rebuild has caught up.
    const rebuilding = app.projections.rebuildingBecause;
    try {
      const lag = await app.projections.lag();
      projection = {
        checkpoint: String(lag.checkpoint),
        head: String(lag.head),
        lag_events: Number(lag.events),
        lag_ms: lag.ms,
        ...(rebuilding && rebuilding !== 'same log' ? { rebuilding } : {}),
      };
    } catch (error) {
      projection = { error: (error as Error).message };
    }
    const ready = eventStore.ok && readModel.ok && rebuilding === undefined;
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      status: ready ? 'ready' : 'unavailable',
      event_store: { kind: app.config.EVENTSTORE_URL ? 'eventstoredb' : 'sqlite', ...eventStore },
      read_model: { kind: app.readModel.kind, ...readModel },
      projection,
    };
  });
  return router;
}
