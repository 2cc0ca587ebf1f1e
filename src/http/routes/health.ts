// Liveness and readiness. /ready checks each backend and reports the projection lag.
import Router from '@koa/router';
import type { AppContext } from '../../app-context.ts';
import type { AppState } from '../app-state.ts';

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
    let projection: { checkpoint: string; head: string; lag_events: number } | { error: string };
    try {
      const lag = await app.projections.lag();
      projection = { checkpoint: String(lag.checkpoint), head: String(lag.head), lag_events: Number(lag.events) };
    } catch (error) {
      projection = { error: (error as Error).message };
    }
    const ready = eventStore.ok && readModel.ok;
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
