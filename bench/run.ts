// `npm run bench`: throughput and latency of authlog's HTTP paths against a bare Koa baseline,
// projection lag, replay and start-up over a large log, and the issue's targets (MET or SHORT;
// never a failed run because of them). Loopback only; bounded durations.
//
//   npm run bench                                    embedded (SQLite + memory read model)
//   REDIS_URL=redis://127.0.0.1:6379 npm run bench   and a second round on the Redis read model
//   BENCH_QUICK=1 npm run bench                      replay over 100k events instead of 100k and 1M
//   BENCH_HISTORY=10m npm run bench                  replay over 100k, 1M and 10M events
//
// Also: BENCH_DURATION_S (seconds per measured pass, default 5), BENCH_CONNECTIONS (default
// 10), BENCH_POLL_CODES (pending CLI attempts polled in turn, default 2000), BENCH_ONLY=memory,
// redis,replay (only those parts), BENCH_PROFILE=dir (a CPU profile of the server per pass),
// BENCH_CPU_PROF=dir (--cpu-prof for the child processes). BENCH_ONLY=integrity: the cost of the
// tamper-evident chain and checkpoints alone (bench/integrity.ts).
import { availableParallelism, cpus, loadavg, totalmem, freemem } from 'node:os';
import { LoadGenerator } from './load.ts';
import { runRound, appendsLine, fmtMs, otherCpuPct, type RoundOptions, type RoundResult } from './round.ts';
import { eventsPerSecond, runReplay, type ReplayResult } from './replay.ts';
import type { ReplayJobResult } from './replay-job.ts';
import { judge, verdictLine } from './targets.ts';
import { deleteTrackedRedisKeys, redisAnswers } from './service.ts';
import { measureCommitCost } from './disk.ts';
import { runIntegrityBench } from './integrity.ts';

const started = performance.now();
const log = (line: string) => console.log(line);
const envNumber = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number (got ${JSON.stringify(raw)})`);
  return value;
};

const quick = process.env.BENCH_QUICK === '1';
const redisUrl = process.env.REDIS_URL || undefined;
const FIXED_RATE = 1000;
const options: RoundOptions = {
  durationS: envNumber('BENCH_DURATION_S', 5),
  warmupS: 1,
  connections: envNumber('BENCH_CONNECTIONS', 10),
  fixedRate: FIXED_RATE,
  pendingAttempts: envNumber('BENCH_POLL_CODES', 2000),
  signInCodes: 90,
  users: 50,
  lagWrites: 500,
  ...(redisUrl ? { redisUrl } : {}),
  log,
};
/** BENCH_HISTORY=10m: the growth table goes on to 10M events (the bulk log alone is a few GB and minutes to write). */
const history = process.env.BENCH_HISTORY ?? '';
if (history !== '' && history !== '10m') throw new Error(`BENCH_HISTORY must be 10m or unset (got ${JSON.stringify(history)})`);
const replaySizes = quick ? [100_000] : history === '10m' ? [100_000, 1_000_000, 10_000_000] : [100_000, 1_000_000];
/** BENCH_ONLY=memory,redis,replay,integrity: run only those parts (for profiling one of them). */
const only = (process.env.BENCH_ONLY ?? '').split(',').filter(Boolean);
const wanted = (part: 'memory' | 'redis' | 'replay' | 'integrity'): boolean => only.length === 0 || only.includes(part);

const MB = 1024 * 1024;
const loadLine = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  log(`authlog bench — ${new Date().toISOString()}`);
  log(
    `machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM ` +
      `(${(freemem() / 1024 ** 3).toFixed(1)} free), node ${process.version}, load average ${loadLine()}`,
  );
  log(
    `passes: ${options.durationS} s measured after ${options.warmupS} s warm-up, ${options.connections} connections, fixed-rate pass at ${FIXED_RATE} req/s; ` +
      `replay over ${replaySizes.map((n) => n.toLocaleString('en-US')).join(' and ')} events${quick ? ' (BENCH_QUICK=1)' : ''}`,
  );
  const commit = measureCommitCost();
  log(
    `disk: one SQLite commit with synchronous = FULL (fsync inside COMMIT, on the loop) takes p50 ${fmtMs(commit.full.p50Ms)} ms, mean ${fmtMs(commit.full.meanMs)} ms, ` +
      `p99 ${fmtMs(commit.full.p99Ms)} ms (at most ~${Math.round(1000 / commit.full.meanMs)} commits/s on one loop); the store's way, NORMAL + fdatasync of the WAL: ` +
      `the commit blocks the loop p50 ${fmtMs(commit.normalCommit.p50Ms)} ms, mean ${fmtMs(commit.normalCommit.meanMs)} ms, the sync (off the loop, shared by a batch) p50 ${fmtMs(commit.walSync.p50Ms)} ms, mean ${fmtMs(commit.walSync.meanMs)} ms`,
  );
  if (redisUrl) {
    if (!(await redisAnswers(redisUrl))) throw new Error(`REDIS_URL is set but Redis does not answer PING at ${new URL(redisUrl).host}`);
    log(`Redis: ${new URL(redisUrl).host} (keys under authlog-bench-*, deleted at the end)`);
  } else {
    log('Redis: REDIS_URL unset, so the embedded round only (set REDIS_URL for the Redis read model round and Redis replay)');
  }

  const rounds: RoundResult[] = [];
  const load = new LoadGenerator();
  try {
    for (const readModel of redisUrl ? (['memory', 'redis'] as const) : (['memory'] as const)) {
      if (!wanted(readModel)) continue;
      log('');
      log(`== HTTP scenarios, SQLite event store + ${readModel} read model ==`);
      rounds.push(await runRound(readModel, load, options));
    }
  } finally {
    await load.close();
  }

  const replays: ReplayResult[] = [];
  for (const events of wanted('replay') ? replaySizes : []) {
    log('');
    log(`== replay and start-up over ${events.toLocaleString('en-US')} events ==`);
    replays.push(await runReplay(events, redisUrl, log));
  }

  if (wanted('integrity')) {
    log('');
    log('== tamper evidence: chained appends, checkpoint and verify ==');
    await runIntegrityBench(quick ? 100_000 : 1_000_000, log);
  }

  log('');
  log('== summary ==');
  for (const line of summaryTable(rounds, replays)) log(line);
  log('');
  log('== targets ==');
  for (const verdict of judge(rounds, replays, FIXED_RATE)) log(verdictLine(verdict));
  log('');
  log(`bench process RSS at the end: ${Math.round(process.memoryUsage().rss / MB)} MB; load average ${loadLine()}`);
  log(`total run time: ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** The figures as a Markdown table, ready for BENCHMARKS.md. */
function summaryTable(rounds: RoundResult[], replays: ReplayResult[]): string[] {
  const lines = [
    '| read model | scenario | pass | throughput | p50 ms | p99 ms | non-2xx | errors | 429 share | server RSS MB | CPU % server / load gen / Redis / other / steal | read-model queries per req | event-store appends |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const round of rounds) {
    for (const s of round.scenarios) {
      const unit = s.name === 'CLI login' ? 'logins/s' : 'req/s';
      lines.push(
        `| ${round.readModel} | ${s.name} | ${s.pass === 'rate' ? `fixed ${FIXED_RATE}/s` : 'max'} | ${Math.round(s.stats.perSecond)} ${unit} | ` +
          `${fmtMs(s.stats.p50Ms)} | ${fmtMs(s.stats.p99Ms)} | ${s.stats.non2xx} | ${s.stats.errors} | ${(100 * s.stats.share429).toFixed(2)} % | ${Math.round(s.rssMb)} | ` +
          `${Math.round(s.serverCpuPct)} / ${Math.round(s.stats.clientCpuPct)} / ${s.redisCpuPct === undefined ? '-' : Math.round(s.redisCpuPct)} / ${s.machine ? Math.max(0, Math.round(otherCpuPct(s))) : '-'} / ${s.machine ? Math.round(s.machine.stealPct) : '-'} | ${s.queriesPerRequest ? s.queriesPerRequest.toFixed(1) : ''} | ${appendsLine(s)} |`,
      );
    }
    for (const lag of round.lag) {
      lines.push(
        `| ${round.readModel} | projection lag, ${lag.writers} writer${lag.writers > 1 ? 's' : ''} | ${lag.writes} appends | | ${fmtMs(lag.p50Ms)} | ${fmtMs(lag.p99Ms)} | | ${lag.late} late | | | | | |`,
      );
    }
  }
  if (replays.length === 0) return lines;
  lines.push('');
  lines.push('| events | job | time s | events/s | RSS MB | V8 heap used / total / after full GC MB |', '|---|---|---|---|---|---|');
  for (const r of replays) {
    const row = (job: string, result: ReplayJobResult | undefined, withRate: boolean) => {
      if (!result) return;
      lines.push(
        `| ${r.events.toLocaleString('en-US')} | ${job} | ${(result.ms / 1000).toFixed(2)} | ${withRate ? Math.round(eventsPerSecond(r.events, result)) : ''} | ` +
          `${Math.round(result.rssBytes / MB)} | ${Math.round(result.heapUsedBytes / MB)} / ${Math.round(result.heapTotalBytes / MB)} / ${Math.round(result.heapRetainedBytes / MB)} |`,
      );
    };
    row('replay into memory (ProjectionRunner.start)', r.memory, true);
    row('replay into Redis (ProjectionRunner.start)', r.redis, true);
    row('startService, embedded, no snapshot', r.startEmbedded, true);
    row('startService, embedded, from snapshot', r.startEmbeddedSnapshot, false);
    row('audit impersonations (a session per 100 events), by type', r.audit, false);
    row('startService, Redis already caught up', r.startRedis, false);
  }
  lines.push('', ...growthTable(replays));
  return lines;
}

/** How the costs that should follow live state, not history, grow with the log. */
function growthTable(replays: ReplayResult[]): string[] {
  const s = (r: ReplayJobResult) => (r.ms / 1000).toFixed(2);
  const mb = (r: ReplayJobResult) => Math.round(r.rssBytes / MB);
  const lines = [
    '| events | start-up, no snapshot s | start-up, from snapshot s | RSS after start-up MB (no snapshot / snapshot) | audit s (walking every position s) | replay into memory events/s |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of replays) {
    lines.push(
      `| ${r.events.toLocaleString('en-US')} | ${s(r.startEmbedded)} | ${s(r.startEmbeddedSnapshot)} | ${mb(r.startEmbedded)} / ${mb(r.startEmbeddedSnapshot)} | ` +
        `${s(r.audit)} (${((r.audit.audit?.walkMs ?? Number.NaN) / 1000).toFixed(2)}) | ${Math.round(eventsPerSecond(r.events, r.memory))} |`,
    );
  }
  return lines;
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  console.error('interrupted: deleting the bench keys in Redis (Ctrl-C again to leave them)');
  void deleteTrackedRedisKeys().finally(() => process.exit(130));
});

main().then(
  () => process.exit(0),
  async (error: Error) => {
    console.error(`bench failed: ${error.stack ?? error.message}`);
    await deleteTrackedRedisKeys();
    process.exit(1);
  },
);
