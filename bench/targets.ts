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
/** At the fixed rate, a read path's p99 at most this many times the bare route's p99 in the same pass. */
const READ_P99_OF_BASELINE = 1.5;
const WRITES_PER_SECOND = 2000;
const START_EMBEDDED_S = 2;
const AUDIT_S = 1;
const TARGET_EVENTS = 1_000_000;
const LAG_P99_MS = 20;
const REPLAY_MEMORY_EPS = 50_000;
const REPLAY_REDIS_EPS = 20_000;
const RSS_REDIS_MB = 250;
const MB = 1024 * 1024;

const find = (round: RoundResult, name: ScenarioName, pass: 'max' | 'rate'): ScenarioResult | undefined =>
  round.scenarios.find((s) => s.name === name && s.pass === pass);

const rate = (n: number): string => Math.round(n).toLocaleString('en-US');
/** How a figure stands to its target, >= 1 when met: higher-is-better figures divided by the target, lower-is-better the other way round. */
const ratio = (figure: number, target: number, better: 'higher' | 'lower'): string =>
  `${(better === 'higher' ? figure / target : target / figure).toFixed(2)}× the target`;

export function judge(rounds: RoundResult[], replays: ReplayResult[], fixedRate: number): TargetVerdict[] {
  const out: TargetVerdict[] = [];
  for (const round of rounds) {
    const rm = round.readModel;
    const baseline = find(round, 'baseline', 'max');
    const baselineRate = find(round, 'baseline', 'rate');
    for (const name of ['poll', 'check-code', 'refresh'] as const) {
      const ours = find(round, name, 'max');
      if (ours && baseline) {
        const share = ours.stats.perSecond / baseline.stats.perSecond;
        out.push({
          met: share >= READ_SHARE_OF_BASELINE && ours.stats.share429 < 0.001,
          target: `${name} (${rm}) >= ${READ_SHARE_OF_BASELINE * 100} % of the bare Koa baseline's throughput (${rm}, same run)`,
          figure:
            `${rate(ours.stats.perSecond)} vs ${rate(baseline.stats.perSecond)} req/s = ${(100 * share).toFixed(0)} % (${ratio(share, READ_SHARE_OF_BASELINE, 'higher')}); ` +
            `server CPU ${Math.round(cpuMicrosPerRequest(ours))} vs ${Math.round(cpuMicrosPerRequest(baseline))} µs/req = ` +
            `${((100 * cpuMicrosPerRequest(baseline)) / cpuMicrosPerRequest(ours)).toFixed(0)} % (the share a CPU-bound server would reach)`,
        });
      }
      const fixed = find(round, name, 'rate');
      if (fixed && baselineRate) {
        const limit = READ_P99_OF_BASELINE * baselineRate.stats.p99Ms;
        out.push({
          met: fixed.stats.p99Ms <= limit && fixed.stats.non2xx === 0 && fixed.stats.errors === 0,
          target: `${name} (${rm}) p99 <= ${READ_P99_OF_BASELINE}× the bare route's p99 at ${rate(fixedRate)} req/s`,
          figure:
            `p99 ${fmtMs(fixed.stats.p99Ms)} ms vs the bare route's ${fmtMs(baselineRate.stats.p99Ms)} ms = ${(fixed.stats.p99Ms / baselineRate.stats.p99Ms).toFixed(2)}× ` +
            `(${ratio(fixed.stats.p99Ms, limit, 'lower')}; p50 ${fmtMs(fixed.stats.p50Ms)} ms) at ${rate(fixed.stats.perSecond)} req/s`,
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
          figure: `${rate(write.stats.perSecond)} req/s, ${ratio(write.stats.perSecond, WRITES_PER_SECOND, 'higher')} (p99 ${fmtMs(write.stats.p99Ms)} ms)`,
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
      figure: `${rate(memoryEps)} events/s over ${size}, ${ratio(memoryEps, REPLAY_MEMORY_EPS, 'higher')}`,
    });
    const scale = largest.events >= TARGET_EVENTS ? '1M events' : `${size} (a short run: the target is over 1M)`;
    for (const [how, start] of [['without a snapshot (the whole log replayed)', largest.startEmbedded], ['from the snapshot', largest.startEmbeddedSnapshot]] as const) {
      const seconds = start.ms / 1000;
      out.push({
        met: seconds <= START_EMBEDDED_S && largest.events >= TARGET_EVENTS,
        target: `embedded start-up over 1M events <= ${START_EMBEDDED_S} s, ${how}`,
        figure: `${seconds.toFixed(2)} s over ${scale}, ${ratio(seconds, START_EMBEDDED_S, 'lower')}; RSS ${Math.round(start.rssBytes / MB)} MB`,
      });
    }
    const auditS = largest.audit.ms / 1000;
    out.push({
      met: auditS <= AUDIT_S && largest.events >= TARGET_EVENTS,
      target: `impersonation audit over 1M events (10k of them impersonation sessions) <= ${AUDIT_S} s, replayed from the log`,
      figure:
        `${auditS.toFixed(2)} s over ${scale}, ${ratio(auditS, AUDIT_S, 'lower')} (walking every position: ${((largest.audit.audit?.walkMs ?? Number.NaN) / 1000).toFixed(2)} s); ` +
        `RSS ${Math.round(largest.audit.rssBytes / MB)} MB`,
    });
    if (largest.redis) {
      const redisEps = eventsPerSecond(largest.events, largest.redis);
      out.push({
        met: redisEps >= REPLAY_REDIS_EPS,
        target: `replay into Redis >= ${rate(REPLAY_REDIS_EPS)} events/s`,
        figure: `${rate(redisEps)} events/s over ${size}, ${ratio(redisEps, REPLAY_REDIS_EPS, 'higher')}`,
      });
      const rssMb = Math.max(largest.redis.rssBytes, largest.startRedis?.rssBytes ?? 0) / MB;
      out.push({
        met: rssMb <= RSS_REDIS_MB,
        target: `RSS <= ${RSS_REDIS_MB} MB after ${largest.events >= 1_000_000 ? '1M' : `${rate(largest.events)} (quick run)`} events with the Redis read model`,
        figure:
          `${Math.round(rssMb)} MB, ${ratio(rssMb, RSS_REDIS_MB, 'lower')} (replay process ${Math.round(largest.redis.rssBytes / MB)} MB` +
          (largest.startRedis ? `, service started on it ${Math.round(largest.startRedis.rssBytes / MB)} MB)` : ')'),
      });
    }
  }
  return out;
}

export const verdictLine = (v: TargetVerdict): string => `${v.met ? 'MET  ' : 'SHORT'}  ${v.target}: ${v.figure}`;
