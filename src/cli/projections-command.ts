// `authlog projections status|rebuild`: how far the read model is behind the log, and a rebuild
// into a fresh generation that is switched in atomically (progress bar on a terminal, plain
// lines otherwise).
import type { Config } from '../config.ts';
import { systemClock } from '../clock.ts';
import { openEventStore, openReadModel } from '../backends.ts';
import { ProjectionRunner } from '../projections/runner.ts';
import { allProjectors, projectionFilter } from '../projections/all-projections.ts';
import { judgeReadModel } from '../projections/read-model-verdict.ts';
import { UsageError } from './usage.ts';
import type { CliIo } from './cli-io.ts';

const MEMORY_NOTE =
  'The embedded read model lives in the server\'s memory and is rebuilt from the log at every start; set REDIS_URL to keep it in Redis.';

export async function projectionsCommand(config: Config, args: string[], io: CliIo): Promise<void> {
  const [sub] = args;
  if (sub === 'status') return status(config, io);
  if (sub === 'rebuild') return rebuild(config, io);
  throw new UsageError('try: authlog projections status  or  authlog projections rebuild');
}

async function status(config: Config, io: CliIo): Promise<void> {
  if (!config.REDIS_URL) {
    // The server holds the checkpoint: ask it.
    const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${config.PORT}/ready`;
    try {
      const ready = (await (await fetch(url, { signal: AbortSignal.timeout(3000) })).json()) as { projection?: Record<string, unknown> };
      const p = ready.projection ?? {};
      io.out(`read model: memory (in the server at ${url.replace('/ready', '')})`);
      io.out(`checkpoint ${String(p.checkpoint)}  head ${String(p.head)}  lag ${String(p.lag_events)} events`);
      io.out('verdict: same log (the embedded read model is built from this log at every start)');
    } catch {
      io.out(`read model: memory; no server answers at ${url.replace('/ready', '')}. ${MEMORY_NOTE}`);
    }
    return;
  }
  const store = openEventStore(config);
  const readModel = openReadModel(config, systemClock);
  try {
    const runner = new ProjectionRunner({ store, readModel, projector: allProjectors, filter: projectionFilter });
    const judgement = await judgeReadModel(store, readModel, projectionFilter);
    const checkpoint = judgement.provenance.checkpoint;
    const lag = await runner.lagFrom(checkpoint);
    io.out(`read model: redis (prefix ${config.REDIS_PREFIX}, generation ${judgement.provenance.generation})`);
    io.out(`checkpoint ${checkpoint}  head ${lag.head}  lag ${lag.events} events`);
    io.out(`log identity: ${judgement.logId}`);
    io.out(`read model built from log: ${judgement.readModelLogId ?? '(not recorded: empty, or from before log identities)'}`);
    io.out(`verdict: ${judgement.verdict} (${judgement.reason})`);
    if (judgement.verdict !== 'same log') io.out('the server rebuilds it from this log at its next start (or run: authlog projections rebuild)');
  } finally {
    await Promise.allSettled([store.close(), readModel.close()]);
  }
}

async function rebuild(config: Config, io: CliIo): Promise<void> {
  if (!config.REDIS_URL) {
    io.out(MEMORY_NOTE);
    return;
  }
  const store = openEventStore(config);
  const readModel = openReadModel(config, systemClock);
  const runner = new ProjectionRunner({ store, readModel, projector: allProjectors, filter: projectionFilter });
  const started = performance.now();
  let lastLine = 0;
  try {
    const result = await runner.rebuild((p) => {
      const seconds = (performance.now() - started) / 1000;
      const rate = p.applied / Math.max(seconds, 0.001);
      const eta = rate > 0 ? Math.max(0, (p.total - p.applied) / rate) : 0;
      const share = p.total ? p.applied / p.total : 1;
      const text = `${p.applied}/${p.total} events  ${Math.round(rate)}/s  ETA ${eta.toFixed(1)} s`;
      if (io.isTty) {
        const width = 30;
        const done = Math.round(share * width);
        process.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${(share * 100).toFixed(0).padStart(3)}%  ${text}   `);
      } else if (performance.now() - lastLine > 1000 || p.applied === p.total) {
        lastLine = performance.now();
        io.err(`rebuild: ${text}`);
      }
    });
    if (io.isTty) process.stderr.write('\n');
    io.out(`rebuilt the read model from ${result.events} events in ${result.ms} ms (${Math.round(result.events / Math.max(result.ms / 1000, 0.001))} events/s); checkpoint ${runner.appliedPosition}`);
  } finally {
    await runner.stop();
    await Promise.allSettled([store.close(), readModel.close()]);
  }
}
