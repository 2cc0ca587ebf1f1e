// `authlog serve`: runs the service until SIGTERM or SIGINT, then shuts down: stops accepting,
// lets in-flight requests finish (SHUTDOWN_DRAIN_MS), flushes projections, closes the backends.
// Exit 0 when all of that went cleanly; 1 when a request was cut, a backend failed to close, or
// the whole shutdown took longer than its bound; a second signal exits 1 at once.
import type { Config } from '../config.ts';
import { startService } from '../main.ts';

/** Time the backends get to close after the drain, on top of SHUTDOWN_DRAIN_MS. */
const CLOSE_BACKENDS_MS = 4000;

export async function serveCommand(config: Config): Promise<void> {
  const service = await startService(config);
  const log = service.app.log;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn('second signal: exiting without waiting for the shutdown', { signal });
      process.exit(1);
    }
    stopping = true;
    const started = performance.now();
    log.info('shutting down', { signal, drainMs: config.SHUTDOWN_DRAIN_MS });
    const bound = config.SHUTDOWN_DRAIN_MS + CLOSE_BACKENDS_MS;
    setTimeout(() => {
      log.error('shutdown did not finish in time; exiting', { boundMs: bound });
      process.exit(1);
    }, bound).unref();
    service.close().then(
      (report) => {
        log[report.clean ? 'info' : 'warn']('shut down', { clean: report.clean, ms: Math.round(performance.now() - started) });
        process.exit(report.clean ? 0 : 1);
      },
      (error: unknown) => {
        log.error('shutdown failed', { error: error instanceof Error ? error.message : String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
