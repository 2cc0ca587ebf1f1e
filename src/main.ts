// The composition root: configuration -> server secret -> event store -> read model ->
// projections (caught up before the first request) -> HTTP. Everything is built here and
// passed down; nothing else reaches for a global.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.ts';
import { systemClock, type Clock } from './clock.ts';
import { createLogger, type Logger } from './log.ts';
import { resolveServerSecret } from './server-secret.ts';
import { describeEventStore, openEventStore, openReadModel } from './backends.ts';
import { createHasher } from './crypto/digests.ts';
import { createAccessTokenSigner } from './crypto/access-tokens.ts';
import { createLogMailer } from './mail/log-mailer.ts';
import { createSmtpMailer } from './mail/smtp-mailer.ts';
import type { Mailer } from './mail/mailer.ts';
import { ProjectionRunner } from './projections/runner.ts';
import { withReadThroughCache } from './readmodel/cached-read-model.ts';
import { isProjectReadModelKey } from './projections/project-projection.ts';
import { allProjectors, projectionFilter } from './projections/all-projections.ts';
import { createHttpApp } from './http/app.ts';
import { answerClientError } from './http/client-error.ts';
import type { AppContext } from './app-context.ts';

export interface ServiceOptions {
  clock?: Clock;
  log?: Logger;
  mailer?: Mailer;
}

export interface RunningService {
  /** http://host:port, with the port actually bound (PORT=0 picks a free one). */
  url: string;
  app: AppContext;
  server: Server;
  /** Stops accepting, lets in-flight requests finish (bounded), stops projections, closes backends. */
  close(): Promise<void>;
}

/** Milliseconds in-flight requests get to finish on close before their connections are cut. */
const DRAIN_MS = 5000;

export async function startService(config: Config, options: ServiceOptions = {}): Promise<RunningService> {
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  const clock = options.clock ?? systemClock;
  const secret = resolveServerSecret(config);
  if (secret.source === 'generated') log.info('generated a new server secret', { path: secret.path });

  const store = openEventStore(config, (msg, fields) => log.warn(msg, fields));
  // Every request reads its project and key; in-process, invalidated by the projection's own writes.
  const readModel = withReadThroughCache(openReadModel(config, clock), { cacheable: isProjectReadModelKey });
  const projections = new ProjectionRunner({
    store,
    readModel,
    projector: allProjectors,
    filter: projectionFilter,
    log: (level, msg, fields) => log[level](msg, fields),
  });
  const mailer =
    options.mailer ??
    (config.SMTP_URL ? createSmtpMailer({ url: config.SMTP_URL, from: config.SMTP_FROM }) : createLogMailer((line) => log.raw(line)));

  const closeBackends = async () => {
    await projections.stop().catch(() => undefined);
    await Promise.allSettled([store.close(), readModel.close(), mailer.close()]);
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

  // Listen first, so that the issuer of access tokens names the port actually bound (PORT=0).
  const server = createServer();
  server.on('clientError', answerClientError);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, config.HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await closeBackends();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  const app: AppContext = {
    config,
    store,
    readModel,
    projections,
    hasher: createHasher(secret.value),
    clock,
    tokens: createAccessTokenSigner({ secret: secret.value, issuerBase: config.PUBLIC_URL ?? url }),
    mailer,
    log,
  };
  // Attached in the same turn as listen() resolved: no request can have arrived before it.
  server.on('request', createHttpApp(app).callback());
  log.info('authlog listening', { url, eventStore: describeEventStore(config), readModel: readModel.kind, mail: config.SMTP_URL ? 'smtp' : 'log (development only)' });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
      await drained;
      clearTimeout(timer);
      await closeBackends();
    })());

  return { url, app, server, close };
}
