// Projection lag: from an append returning to its event being visible to queries, measured as
// the time until `app.projections.waitFor(position)` resolves. The appends go straight to the
// running service's event store (a SessionCreated each, as POST /auth/sessions appends it), so
// the figure is the projection's own delay, not the HTTP or decision time around it.
import { randomUUID } from 'node:crypto';
import { metadataFor, systemOrigin } from '../src/app-context.ts';
import { validateEvent, type DomainEvent } from '../src/events/catalogue.ts';
import { NO_STREAM } from '../src/store/event-store.ts';
import { percentile } from './stats.ts';
import type { BenchService } from './service.ts';

export interface LagStats {
  writes: number;
  writers: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Writes that were not visible within the wait (5 s). */
  late: number;
}

async function appendOneAndWait(service: BenchService): Promise<{ ms: number; visible: boolean }> {
  const { app, project } = service;
  const now = app.clock();
  const sessionId = randomUUID();
  const event = validateEvent({
    type: 'SessionCreated',
    data: {
      sessionId,
      projectId: project.project_id,
      userId: randomUUID(),
      refreshTokenDigest: randomUUID(),
      createdAtMillis: now,
      expiresAtMillis: now + 3_600_000,
      isImpersonation: false,
      createdBy: { kind: 'system', id: 'bench' },
      via: 'sessions-api',
    },
  } satisfies DomainEvent);
  const metadata = metadataFor(systemOrigin('bench', project.project_id), now);
  const result = await app.store.append(`session-${sessionId}`, [{ id: randomUUID(), type: event.type, data: event.data, metadata }], NO_STREAM);
  const appended = performance.now();
  const visible = await app.projections.waitFor(result.position, 5000);
  return { ms: performance.now() - appended, visible };
}

/** `writes` appends by `writers` concurrent writers; lag of each. */
export async function measureProjectionLag(service: BenchService, writes: number, writers: number): Promise<LagStats> {
  const lags = new Float64Array(writes);
  let next = 0;
  let late = 0;
  const writer = async () => {
    while (next < writes) {
      const i = next++;
      const { ms, visible } = await appendOneAndWait(service);
      lags[i] = ms;
      if (!visible) late++;
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  const sorted = lags.sort();
  return { writes, writers, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted[sorted.length - 1] ?? Number.NaN, late };
}
