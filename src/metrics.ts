// Prometheus metrics (prom-client), one registry per service instance: tests run many services
// in one process, and a global registry would mix their counts. What is measured where:
//   requests and their latency   the request middleware (http/access-log.ts)
//   events appended, by type     the event-store port (store/counting-store.ts), whatever the adapter
//   projection lag               read from the projection runner when scraped
//   rate-limit refusals          http/rate-limit.ts
//   backend errors               http/error-responses.ts, when a backend is unavailable
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ProjectionLagSource {
  lag(): Promise<{ events: bigint; ms: number }>;
}

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  eventsAppended: Counter<'type'>;
  rateLimitRefusals: Counter<'limit'>;
  backendErrors: Counter<'backend'>;
  /** The lag gauges read `source` at each scrape. */
  watchProjections(source: ProjectionLagSource): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  let source: ProjectionLagSource | undefined;
  // Both gauges come from one reading per scrape (counting what is behind reads the log).
  let reading: Promise<{ events: bigint; ms: number } | undefined> | undefined;
  const readLag = () =>
    (reading ??= (async () => {
      try {
        return await source?.lag();
      } catch {
        return undefined; // the store is unreachable: the gauges keep their last value
      } finally {
        setImmediate(() => (reading = undefined));
      }
    })());
  new Gauge({
    name: 'authlog_projection_lag_events',
    help: 'Events in the log that the read model has not applied yet.',
    registers,
    async collect() {
      const lag = await readLag();
      if (lag) this.set(Number(lag.events));
    },
  });
  new Gauge({
    name: 'authlog_projection_lag_seconds',
    help: 'Age of the oldest event the read model has not applied yet (0 when caught up).',
    registers,
    async collect() {
      const lag = await readLag();
      if (lag) this.set(lag.ms / 1000);
    },
  });
  return {
    registry,
    httpRequests: new Counter({ name: 'authlog_http_requests_total', help: 'HTTP requests answered, by route template and status.', labelNames: ['method', 'route', 'status'], registers }),
    httpDuration: new Histogram({
      name: 'authlog_http_request_duration_seconds',
      help: 'Time from receiving a request to its answer.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    eventsAppended: new Counter({ name: 'authlog_events_appended_total', help: 'Events appended to the event store, by type.', labelNames: ['type'], registers }),
    rateLimitRefusals: new Counter({ name: 'authlog_rate_limit_refusals_total', help: 'Requests refused with 429 RATE_LIMITED, by limit.', labelNames: ['limit'], registers }),
    backendErrors: new Counter({ name: 'authlog_backend_errors_total', help: 'Requests answered 503 because a backend was unavailable, by backend.', labelNames: ['backend'], registers }),
    watchProjections(s) {
      source = s;
    },
  };
}
