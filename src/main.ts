// The composition root: configuration -> server secret -> event store -> read model ->
// projections (caught up before the first request) -> HTTP. Everything is built here and
// passed down; nothing else reaches for a global.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.ts';
import { systemClock, type Clock } from './clock.ts';
import { createLogger, type Logger } from './log.ts';
import { describeEventStore, openLog, openReadModel } from './backends.ts';
import { createHasher } from './crypto/digests.ts';
import { createAccessTokenSigner } from './crypto/access-tokens.ts';
import { createLogMailer } from './mail/log-mailer.ts';
import { createSmtpMailer } from './mail/smtp-mailer.ts';
import type { Mailer } from './mail/mailer.ts';
import { ProjectionRunner } from './projections/runner.ts';
import { withReadThroughCache } from './readmodel/cached-read-model.ts';
import { createMemoryReadModel } from './readmodel/memory-read-model.ts';
import { loadMemorySnapshot, startMemorySnapshots, type MemorySnapshots } from './readmodel/memory-snapshots.ts';
import { isProjectReadModelKey, signingKeyState } from './projections/project-projection.ts';
import { allProjectors, projectionFilter } from './projections/all-projections.ts';
import { createHttpApp } from './http/app.ts';
import { createMetricsApp } from './http/metrics-app.ts';
import { createMetrics } from './metrics.ts';
import { countingAppends } from './store/counting-store.ts';
import { answerClientError } from './http/client-error.ts';
import type { AppContext } from './app-context.ts';
import { forgetExpiredOrigins } from './crypto/origin-retention.ts';
import { pruneLog } from './log-pruning.ts';
import { recordPrune } from './integrity/rewrite-records.ts';
import { scheduleCheckpoints } from './integrity/checkpointer.ts';

/** When `serve` first prunes an embedded log after starting (then every PRUNE_INTERVAL_MINUTES). */
const FIRST_PRUNE_DELAY_MS = 30_000;

export interface ServiceOptions {
  clock?: Clock;
  log?: Logger;
  mailer?: Mailer;
}

export interface RunningService {
  /** http://host:port, with the port actually bound (PORT=0 picks a free one). */
  url: string;
  /** The commands' context, with the projection runner behind its narrow ports (for operations and tests). */
  app: AppContext & { projections: ProjectionRunner };
  server: Server;
  /** http://host:port of the separate metrics listener, when METRICS_PORT is set. */
  metricsUrl?: string;
  /**
   * Stops accepting, lets in-flight requests finish (SHUTDOWN_DRAIN_MS at most, then cuts their
   * connections), flushes projections, closes the backends. Says whether all of it went cleanly.
   */
  close(): Promise<ShutdownReport>;
}

export interface ShutdownReport {
  /** Every in-flight request was answered and every backend closed without an error. */
  clean: boolean;
  /** Requests still running when the drain time ran out: their connections were cut, unanswered. */
  cutRequests: number;
  /** Backends whose close failed. */
  failed: string[];
}

async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shownHost}:${address.port}`;
}

export async function startService(config: Config, options: ServiceOptions = {}): Promise<RunningService> {
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  const clock = options.clock ?? systemClock;
  const opened = openLog(config, (msg, fields) => log.warn(msg, fields), clock);
  const secret = opened.secret;
  if (secret.source === 'generated') log.info('generated a new server secret', { path: secret.path });

  const metrics = createMetrics();
  // Signed checkpoints of the log (integrity/checkpointer.ts): every so often and every so many events.
  const checkpoints = scheduleCheckpoints({
    store: opened.store,
    keyring: opened.checkpointKeys,
    intervalMs: config.CHECKPOINT_INTERVAL_SECONDS * 1000,
    everyEvents: config.CHECKPOINT_EVERY_EVENTS,
    now: clock,
    log: (level, msg, fields) => log[level](msg, fields),
  });
  const store = countingAppends(opened.store, (events) => {
    for (const e of events) metrics.eventsAppended.inc({ type: e.type });
    checkpoints.noteAppended(events.length);
  });
  // The in-process read model starts from its snapshot, when there is one of this log.
  const snapshotting = !config.REDIS_URL && config.SNAPSHOT_INTERVAL_SECONDS > 0;
  const snapshotLog = (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>): void => log[level](msg, fields);
  const hasher = createHasher(secret.value, secret.previous);
  const snapshot = snapshotting ? await loadMemorySnapshot(config.AUTHLOG_DATA_DIR, await store.logIdentity(), snapshotLog, hasher) : undefined;
  const loadedAt = snapshot?.checkpoint; // the generation is then projected into in place
  const baseReadModel = snapshotting ? createMemoryReadModel({ now: clock, ...(snapshot ? { initial: snapshot } : {}) }) : openReadModel(config, clock);
  // Every request reads its project and key; in-process, invalidated by the projection's own writes.
  const readModel = withReadThroughCache(baseReadModel, { cacheable: isProjectReadModelKey });
  const projections = new ProjectionRunner({
    store,
    readModel,
    projector: allProjectors,
    filter: projectionFilter,
    log: (level, msg, fields) => log[level](msg, fields),
  });
  metrics.watchProjections(projections);
  const mailer =
    options.mailer ??
    (config.SMTP_URL ? createSmtpMailer({ url: config.SMTP_URL, from: config.SMTP_FROM }) : createLogMailer((line) => log.raw(line)));

  let snapshots: MemorySnapshots | undefined;
  /** Names of the parts whose close failed. */
  const closeBackends = async (): Promise<string[]> => {
    // Projections first: they flush what they hold into the read model before it closes.
    const stopped = await Promise.allSettled([projections.stop().then(() => snapshots?.stop()), checkpoints.stop()]);
    const closed = await Promise.allSettled([opened.close(), readModel.close(), mailer.close()]);
    const names = ['projections', 'checkpoints', 'event store', 'read model', 'mailer'];
    return [...stopped, ...closed].flatMap((outcome, i) => (outcome.status === 'rejected' ? [names[i]!] : []));
  };

  try {
    const started = performance.now();
    await projections.start();
    log.info('read model caught up', {
      readModel: readModel.kind,
      checkpoint: projections.appliedPosition,
      ms: Math.round(performance.now() - started),
    });
  } catch (error) {
    await closeBackends();
    throw error;
  }
  snapshots = snapshotting
    ? startMemorySnapshots({ readModel: baseReadModel, dir: config.AUTHLOG_DATA_DIR, intervalMs: config.SNAPSHOT_INTERVAL_SECONDS * 1000, now: clock, log: snapshotLog, sealer: hasher, ...(loadedAt !== undefined ? { loadedAt } : {}) })
    : undefined;

  // Listen first, so that the issuer of access tokens names the port actually bound (PORT=0).
  const server = createServer();
  server.on('clientError', answerClientError);
  const metricsServer = config.METRICS_PORT === undefined ? undefined : createServer();
  let url: string;
  let metricsUrl: string | undefined;
  try {
    url = await listen(server, config.PORT, config.HOST);
    if (metricsServer) metricsUrl = await listen(metricsServer, config.METRICS_PORT ?? 0, config.HOST);
  } catch (error) {
    server.close();
    await closeBackends();
    throw error;
  }

  const app: RunningService['app'] = {
    config,
    store,
    readModel,
    projections,
    hasher,
    clock,
    tokens: createAccessTokenSigner({ secret: secret.value, previousSecrets: secret.previous, issuerBase: config.PUBLIC_URL ?? url, signingKeys: (projectId) => signingKeyState(readModel, projectId) }),
    mailer,
    log,
    metrics,
    personal: opened.personal,
    checkpointKeys: opened.checkpointKeys,
  };
  // Attached in the same turn as listen() resolved: no request can have arrived before it.
  // Addresses and user agents older than the retention period become unreadable (a key per day).
  const forgetOrigins = () =>
    forgetExpiredOrigins(app.personal, clock(), config.ORIGIN_RETENTION_DAYS).then(
      (forgotten) => forgotten.length > 0 && log.info('forgot client addresses and user agents past retention', { days: forgotten }),
      (error: unknown) => log.warn('could not forget expired client addresses', { error: error instanceof Error ? error.message : String(error) }),
    );
  void forgetOrigins();
  const originTimer = setInterval(() => void forgetOrigins(), 3_600_000);
  originTimer.unref();
  // Expired CLI attempts and codes leave an embedded log (EventStoreDB drops them by $maxAge). The
  // file is only rewritten when a quarter of it is free: otherwise new appends reuse the space.
  const pruneExpired = () =>
    pruneLog(config, readModel, clock(), 'when-worth-it', (rows) => recordPrune(opened.store, opened.checkpointKeys, rows, clock())).then(
      (report) => report && report.streams > 0 && log.info('pruned expired ephemeral streams', { ...report }),
      (error: unknown) => log.warn('could not prune expired ephemeral streams', { error: error instanceof Error ? error.message : String(error) }),
    );
  const pruneTimer = config.PRUNE_INTERVAL_MINUTES > 0 && !config.EVENTSTORE_URL ? setInterval(() => void pruneExpired(), config.PRUNE_INTERVAL_MINUTES * 60_000) : undefined;
  pruneTimer?.unref();
  // The first pass a little after start rather than in start-up's last turn: its query holds the
  // event loop (about 0.3 s over 1M events), which was a tenth of a start from the snapshot.
  const firstPrune = pruneTimer ? setTimeout(() => void pruneExpired(), FIRST_PRUNE_DELAY_MS) : undefined;
  firstPrune?.unref();
  server.on('request', createHttpApp(app).callback());
  metricsServer?.on('request', createMetricsApp(app).callback());
  log.info('authlog listening', {
    url,
    eventStore: describeEventStore(config),
    readModel: readModel.kind,
    mail: config.SMTP_URL ? 'smtp' : 'log (development only)',
    metrics: metricsUrl ? `${metricsUrl}/metrics` : config.METRICS_TOKEN ? `${url}/metrics (bearer token)` : 'off',
  });

  // In-flight requests, so that a shutdown can say whether each one got its answer.
  let inFlight = 0;
  server.on('request', (_req, res) => {
    inFlight++;
    res.once('close', () => inFlight--);
  });
  const drain = async (s: Server): Promise<void> => {
    const drained = new Promise<void>((resolve) => s.close(() => resolve()));
    // A keep-alive connection whose request ends during the drain becomes idle: close it then too,
    // rather than waiting for its keep-alive timeout.
    s.closeIdleConnections();
    const sweeper = setInterval(() => s.closeIdleConnections(), 50);
    const timer = setTimeout(() => s.closeAllConnections(), config.SHUTDOWN_DRAIN_MS);
    await drained;
    clearInterval(sweeper);
    clearTimeout(timer);
  };

  let closing: Promise<ShutdownReport> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(originTimer);
      clearInterval(pruneTimer);
      clearTimeout(firstPrune);
      let cutRequests = 0;
      const cutting = setTimeout(() => (cutRequests = inFlight), config.SHUTDOWN_DRAIN_MS);
      await Promise.all([drain(server), metricsServer ? drain(metricsServer) : undefined]);
      clearTimeout(cutting);
      const failed = await closeBackends();
      const report = { clean: cutRequests === 0 && failed.length === 0, cutRequests, failed };
      log[report.clean ? 'info' : 'warn']('closed', { ...report });
      return report;
    })());

  return { url, ...(metricsUrl ? { metricsUrl } : {}), app, server, close };
}
