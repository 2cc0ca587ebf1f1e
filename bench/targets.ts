// The issue's targets, each judged MET or SHORT with the figure behind it. They never fail the
// run: they say where the service stands.
import type { RoundResult, ScenarioName, ScenarioResult } from './round.ts';
import { eventsPerSecond, type ReplayResult } from './replay.ts';
import { cpuMicrosPerRequest, fmtMs } from './round.ts';

export interface TargetVerdict {
  met: boolean;
  target: string;
  figure: string;
}

const READ_SHARE_OF_BASELINE = 0.75;
const READ_P99_MS = 10;
const WRITES_PER_SECOND = 1000;
const LAG_P99_MS = 20;
const REPLAY_MEMORY_EPS = 50_000;
const REPLAY_REDIS_EPS = 20_000;
const RSS_REDIS_MB = 250;
const MB = 1024 * 1024;

const find = (round: RoundResult, name: ScenarioName, pass: 'max' | 'rate'): ScenarioResult | undefined =>
  round.scenarios.find((s) => s.name === name && s.pass === pass);

const rate = (n: number): string => Math.round(n).toLocaleString('en-US');

export function judge(rounds: RoundResult[], replays: ReplayResult[], fixedRate: number): TargetVerdict[] {
  const out: TargetVerdict[] = [];
  for (const round of rounds) {
    const rm = round.readModel;
    const baseline = find(round, 'baseline', 'max');
    for (const name of ['poll', 'check-code'] as const) {
      const ours = find(round, name, 'max');
      if (ours && baseline) {
        const share = ours.stats.perSecond / baseline.stats.perSecond;
        out.push({
          met: share >= READ_SHARE_OF_BASELINE && ours.stats.share429 < 0.001,
          target: `${name} (${rm}) >= ${READ_SHARE_OF_BASELINE * 100} % of the bare Koa baseline (${rm})`,
          figure:
            `${rate(ours.stats.perSecond)} vs ${rate(baseline.stats.perSecond)} req/s = ${(100 * share).toFixed(0)} %; ` +
            `server CPU ${Math.round(cpuMicrosPerRequest(ours))} vs ${Math.round(cpuMicrosPerRequest(baseline))} µs/req = ` +
            `${((100 * cpuMicrosPerRequest(baseline)) / cpuMicrosPerRequest(ours)).toFixed(0)} % (the share a CPU-bound server would reach)`,
        });
      }
      const fixed = find(round, name, 'rate');
      if (fixed) {
        out.push({
          met: fixed.stats.p99Ms <= READ_P99_MS && fixed.stats.non2xx === 0 && fixed.stats.errors === 0,
          target: `${name} (${rm}) p99 <= ${READ_P99_MS} ms at ${rate(fixedRate)} req/s`,
          figure: `p99 ${fmtMs(fixed.stats.p99Ms)} ms (p50 ${fmtMs(fixed.stats.p50Ms)} ms) at ${rate(fixed.stats.perSecond)} req/s`,
        });
      }
    }
    if (rm === 'memory') {
      for (const name of ['initiate', 'create session'] as const) {
        const write = find(round, name, 'max');
        if (!write) continue;
        out.push({
          met: write.stats.perSecond >= WRITES_PER_SECOND && write.stats.non2xx === 0,
          target: `writes embedded: ${name} >= ${rate(WRITES_PER_SECOND)}/s`,
          figure: `${rate(write.stats.perSecond)} req/s (p99 ${fmtMs(write.stats.p99Ms)} ms)`,
        });
      }
    }
    for (const lag of round.lag) {
      out.push({
        met: lag.p99Ms <= LAG_P99_MS && lag.late === 0,
        target: `projection lag (${rm}, ${lag.writers} writer${lag.writers > 1 ? 's' : ''}) p99 <= ${LAG_P99_MS} ms`,
        figure: `p99 ${fmtMs(lag.p99Ms)} ms (p50 ${fmtMs(lag.p50Ms)} ms) over ${lag.writes} appends`,
      });
    }
  }
  const largest = replays.reduce<ReplayResult | undefined>((a, b) => (a === undefined || b.events > a.events ? b : a), undefined);
  if (largest) {
    const size = `${rate(largest.events)} events`;
    const memoryEps = eventsPerSecond(largest.events, largest.memory);
    out.push({
      met: memoryEps >= REPLAY_MEMORY_EPS,
      target: `replay into memory >= ${rate(REPLAY_MEMORY_EPS)} events/s`,
      figure: `${rate(memoryEps)} events/s over ${size}`,
    });
    if (largest.redis) {
      const redisEps = eventsPerSecond(largest.events, largest.redis);
      out.push({
        met: redisEps >= REPLAY_REDIS_EPS,
        target: `replay into Redis >= ${rate(REPLAY_REDIS_EPS)} events/s`,
        figure: `${rate(redisEps)} events/s over ${size}`,
      });
      const rssMb = Math.max(largest.redis.rssBytes, largest.startRedis?.rssBytes ?? 0) / MB;
      out.push({
        met: rssMb <= RSS_REDIS_MB,
        target: `RSS <= ${RSS_REDIS_MB} MB after ${largest.events >= 1_000_000 ? '1M' : `${rate(largest.events)} (quick run)`} events with the Redis read model`,
        figure:
          `${Math.round(rssMb)} MB (replay process ${Math.round(largest.redis.rssBytes / MB)} MB` +
          (largest.startRedis ? `, service started on it ${Math.round(largest.startRedis.rssBytes / MB)} MB)` : ')'),
      });
    }
  }
  return out;
}

export const verdictLine = (v: TargetVerdict): string => `${v.met ? 'MET  ' : 'SHORT'}  ${v.target}: ${v.figure}`;
