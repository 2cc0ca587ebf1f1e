// `authlog serve`: runs the service until SIGTERM or SIGINT, then shuts down cleanly.
import type { Config } from '../config.ts';
import { startService } from '../main.ts';

export async function serveCommand(config: Config): Promise<void> {
  const service = await startService(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    service.app.log.info('shutting down', { signal });
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        service.app.log.error('shutdown failed', { error: error instanceof Error ? error.message : String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
