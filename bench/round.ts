// One round of HTTP scenarios against one read model (memory, or Redis): start the service,
// make the fixtures, run the bare-Koa baseline and every scenario through the load generator,
// measure the projection lag, and clean up.
import type { LoadGenerator } from './load.ts';
import type { HttpLoadJob, LoadJob, LoadStats } from './load-types.ts';
import { startBaseline, type Baseline } from './baseline.ts';
import { browserUsers, pendingCliAttempts, sendSignInCodes } from './fixtures.ts';
import { measureProjectionLag, type LagStats } from './lag.ts';
import { availableParallelism } from 'node:os';
import { profiled } from './profile.ts';
import { machineCpu, type MachineCpu } from './machine.ts';
import { instrumentAppends, instrumentReadModelQueries, type AppendTally } from './instrument.ts';
import { Redis } from 'ioredis';
import { redisCpuSeconds, rssMb, startBenchService, type BenchService, type ReadModelKind } from './service.ts';
import { post } from './post.ts';

export interface RoundOptions {
  durationS: number;
  /** An unmeasured pass of this many seconds before each measured one. */
  warmupS: number;
  connections: number;
  /** The fixed rate of the latency pass on the read paths. */
  fixedRate: number;
  pendingAttempts: number;
  signInCodes: number;
  users: number;
  lagWrites: number;
  redisUrl?: string;
  log: (line: string) => void;
}

export type ScenarioName =
  | 'baseline'
  | 'poll'
  | 'check-code'
  | 'refresh'
  | 'initiate'
  | 'create session'
  | 'CLI login';

export interface ScenarioResult {
  name: ScenarioName;
  /** 'max': as fast as it goes; 'rate': the fixed-rate latency pass. */
  pass: 'max' | 'rate';
  stats: LoadStats;
  /** The server process's RSS right after the pass (MB). */
  rssMb: number;
  /** CPU the server process used during the pass, in % of one core. */
  serverCpuPct: number;
  /** CPU Redis used during the pass, in % of one core (Redis round only). */
  redisCpuPct?: number;
  /** Event-store appends during the pass, and the time spent in them (the event loop is blocked meanwhile). */
  appends: AppendTally;
  /** Read-model queries (get, hgetall, smembers, rate counters) per request; with Redis each is a round trip. */
  queriesPerRequest: number;
  /** The whole machine's CPU over the pass (what is not ours was something else). */
  machine?: MachineCpu;
}

export interface RoundResult {
  readModel: ReadModelKind;
  scenarios: ScenarioResult[];
  lag: LagStats[];
  fixturesMs: number;
  ms: number;
}

const POLL_WINDOW_MS = 10_000;
/** Polls per polling code per window (README "Limits"). */
const POLLS_PER_WINDOW = 15;

export async function runRound(readModel: ReadModelKind, load: LoadGenerator, options: RoundOptions): Promise<RoundResult> {
  const started = performance.now();
  const { log } = options;
  const service = await startBenchService(readModel, options.redisUrl);
  const scenarios: ScenarioResult[] = [];
  const lag: LagStats[] = [];
  const baselineAnswer = JSON.stringify({ status: 'pending' });
  let baseline: Baseline;
  try {
    baseline = await startBaseline(readModel, baselineAnswer, options.redisUrl);
  } catch (error) {
    await service.remove();
    throw error;
  }
  const appendTally = instrumentAppends(service.app.store);
  const queryCount = instrumentReadModelQueries(service.app.readModel);
  const redisInfo = readModel === 'redis' && options.redisUrl ? new Redis(options.redisUrl, { maxRetriesPerRequest: 1 }) : undefined;
  let fixturesMs = 0;
  try {
    const t0 = performance.now();
    const codes = await sendSignInCodes(service, options.signInCodes);
    const pollingCodes = await pendingCliAttempts(service, options.pendingAttempts);
    const users = await browserUsers(service, options.users);
    fixturesMs = performance.now() - t0;
    log(
      `  fixtures: ${codes.length} sign-in codes, ${pollingCodes.length} pending CLI attempts, ${users.length} users with sessions (${(fixturesMs / 1000).toFixed(1)} s)`,
    );

    const pollBodies = pollingCodes.map((polling_code) => JSON.stringify({ polling_code }));
    const checkBodies = codes.map((code) => JSON.stringify({ code }));
    const jsonClient = { ...service.clientHeaders, 'content-type': 'application/json' };
    const jsonServer = { ...service.serverHeaders, 'content-type': 'application/json' };
    const base = (pass: 'max' | 'rate'): Pick<HttpLoadJob, 'kind' | 'url' | 'connections' | 'durationS' | 'overallRate'> => ({
      kind: 'http',
      url: service.url,
      connections: options.connections,
      durationS: options.durationS,
      ...(pass === 'rate' ? { overallRate: options.fixedRate } : {}),
    });
    // Each pass is preceded by a short unmeasured one (JIT, connection set-up, caches);
    // `beforeMeasuring` runs between the two.
    const record = async (name: ScenarioName, pass: 'max' | 'rate', job: LoadJob, beforeMeasuring?: () => void) => {
      if (options.warmupS > 0) await load.run({ ...job, durationS: options.warmupS });
      beforeMeasuring?.();
      const appendsBefore = appendTally();
      const queriesBefore = queryCount();
      const cpu = process.cpuUsage();
      const endMachine = machineCpu(availableParallelism());
      const redisCpu = redisInfo ? await redisCpuSeconds(redisInfo) : 0;
      const stats = await profiled(`${readModel}-${name}-${pass}`, () => load.run(job));
      const serverCpu = process.cpuUsage(cpu);
      const machine = endMachine();
      const appendsAfter = appendTally();
      const queries = queryCount() - queriesBefore;
      const result: ScenarioResult = {
        name,
        pass,
        stats,
        rssMb: rssMb(),
        appends: { count: appendsAfter.count - appendsBefore.count, ms: appendsAfter.ms - appendsBefore.ms },
        queriesPerRequest: name === 'baseline' ? 0 : queries / Math.max(1, stats.count),
        ...(machine ? { machine } : {}),
        serverCpuPct: (serverCpu.user + serverCpu.system) / 1e4 / stats.durationS,
        ...(redisInfo ? { redisCpuPct: ((await redisCpuSeconds(redisInfo)) - redisCpu) * 100 / stats.durationS } : {}),
      };
      scenarios.push(result);
      log(`  ${describe(result)}`);
      return result;
    };
    const baselineJob = (pass: 'max' | 'rate'): HttpLoadJob => ({
      ...base(pass),
      url: baseline.url,
      method: 'POST',
      path: baseline.path,
      headers: jsonClient,
      bodies: pollBodies,
    });
    const pollJob = (pass: 'max' | 'rate'): HttpLoadJob => ({ ...base(pass), method: 'POST', path: '/api/v1/auth/cli/poll', headers: jsonClient, bodies: pollBodies });
    const checkJob = (pass: 'max' | 'rate'): HttpLoadJob => ({
      ...base(pass),
      method: 'POST',
      path: '/api/v1/auth/otp/sign-in/check-code',
      headers: jsonClient,
      bodies: checkBodies,
    });
    // Polls are limited per polling code per fixed 10 s window of the service's clock: moving
    // the clock one window on before each poll pass gives every code a fresh budget.
    const freshPollWindow = () => service.clock.advance(POLL_WINDOW_MS + 1);

    // Read paths, as fast as they go, then at the fixed rate.
    await record('baseline', 'max', baselineJob('max'));
    const poll = await record('poll', 'max', pollJob('max'), freshPollWindow);
    const pollBudget = pollingCodes.length * POLLS_PER_WINDOW;
    if (poll.stats.count > pollBudget) log(`  note: ${poll.stats.count} polls over ${pollingCodes.length} codes exceed one window's budget (${pollBudget}); raise BENCH_POLL_CODES`);
    await record('check-code', 'max', checkJob('max'));
    await record('baseline', 'rate', baselineJob('rate'));
    await record('poll', 'rate', pollJob('rate'), freshPollWindow);
    await record('check-code', 'rate', checkJob('rate'));

    // Refresh: reads plus an ES256 signature; its activity was recorded during the fixtures.
    const refreshJob = (pass: 'max' | 'rate'): HttpLoadJob => ({
      ...base(pass),
      method: 'POST',
      path: '/api/v1/auth/sessions/current/refresh',
      headers: jsonClient,
      body: '{}',
      headerSets: users.map((u) => ({ 'x-stack-refresh-token': u.refreshToken })),
    });
    await record('refresh', 'max', refreshJob('max'));
    await record('refresh', 'rate', refreshJob('rate'));

    // Write paths.
    await record('initiate', 'max', { ...base('max'), method: 'POST', path: '/api/v1/auth/cli', headers: jsonClient, body: '{}' });
    await record('create session', 'max', {
        ...base('max'),
        method: 'POST',
        path: '/api/v1/auth/sessions',
        headers: jsonServer,
        bodies: users.map((u) => JSON.stringify({ user_id: u.userId })),
    });
    await record('CLI login', 'max', {
        kind: 'cli-login',
        url: service.url,
        clientHeaders: service.clientHeaders,
        approverRefreshTokens: users.map((u) => u.refreshToken),
        concurrency: 4,
        durationS: options.durationS,
    });

    // The read paths still answer as they should after all that (valid checks never use a code).
    await assertStillAnswering(service, codes[0]!, pollingCodes[0]!);

    for (const writers of [1, 8]) {
      const stats = await measureProjectionLag(service, options.lagWrites, writers);
      lag.push(stats);
      log(
        `  projection lag, ${stats.writes} appends by ${writers} writer${writers > 1 ? 's' : ''}: p50 ${fmtMs(stats.p50Ms)} ms, p99 ${fmtMs(stats.p99Ms)} ms, max ${fmtMs(stats.maxMs)} ms${stats.late ? `, ${stats.late} late` : ''}`,
      );
    }
  } finally {
    redisInfo?.disconnect();
    await baseline.close();
    await service.remove();
  }
  return { readModel, scenarios, lag, fixturesMs, ms: performance.now() - started };
}

async function assertStillAnswering(service: BenchService, code: string, pollingCode: string): Promise<void> {
  service.clock.advance(POLL_WINDOW_MS + 1);
  const check = await post(service.url, '/api/v1/auth/otp/sign-in/check-code', service.clientHeaders, { code });
  if (check.json?.is_code_valid !== true) throw new Error(`after the passes a sign-in code no longer checks as valid: ${JSON.stringify(check.json)}`);
  const poll = await post(service.url, '/api/v1/auth/cli/poll', service.clientHeaders, { polling_code: pollingCode });
  if (poll.status !== 201 || poll.json?.status !== 'pending') throw new Error(`after the passes an attempt no longer polls as pending: ${poll.status} ${JSON.stringify(poll.json)}`);
}

export const fmtMs = (ms: number): string => (Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1));

/** Machine CPU not used by the server, the load generator or Redis (kernel work for them included), % of one core. */
export function otherCpuPct(result: ScenarioResult): number {
  if (!result.machine) return Number.NaN;
  return result.machine.busyPct - result.serverCpuPct - result.stats.clientCpuPct - (result.redisCpuPct ?? 0);
}

/** Appends per request (or login), their mean duration, and the share of the pass the loop spent in them. */
export function appendsLine(result: ScenarioResult): string {
  const { count, ms } = result.appends;
  if (count === 0) return '';
  return (
    `appends ${(count / Math.max(1, result.stats.count)).toFixed(1)}/${result.name === 'CLI login' ? 'login' : 'req'}, ` +
    `${(ms / count).toFixed(2)} ms each, loop blocked in them ${((100 * ms) / (result.stats.durationS * 1000)).toFixed(0)} %`
  );
}

/**
 * Server CPU per request (µs): what a request costs whatever else the machine is doing, so the
 * ratio to the baseline holds on a shared machine where throughput figures move with the load.
 */
export const cpuMicrosPerRequest = (result: ScenarioResult): number => (result.serverCpuPct * 1e4) / Math.max(1, result.stats.perSecond);

export function describe(result: ScenarioResult): string {
  const s = result.stats;
  const unit = result.name === 'CLI login' ? 'logins/s' : 'req/s';
  const pass = result.pass === 'rate' ? ' @fixed rate' : '';
  const statuses = Object.entries(s.statuses)
    .map(([code, n]) => `${code}:${n}`)
    .join(' ');
  return (
    `${(result.name + pass).padEnd(26)} ${Math.round(s.perSecond).toString().padStart(6)} ${unit}  p50 ${fmtMs(s.p50Ms)} ms  p99 ${fmtMs(s.p99Ms)} ms  ` +
    `non-2xx ${s.non2xx}  errors ${s.errors}  429 ${(100 * s.share429).toFixed(2)} %  RSS ${Math.round(result.rssMb)} MB  ` +
    `CPU server ${Math.round(result.serverCpuPct)} % (${Math.round(cpuMicrosPerRequest(result))} µs/${result.name === 'CLI login' ? 'login' : 'req'}) load ${Math.round(s.clientCpuPct)} %${result.redisCpuPct !== undefined ? ` redis ${Math.round(result.redisCpuPct)} %` : ''}` +
    (result.machine ? ` other ${Math.max(0, Math.round(otherCpuPct(result)))} % steal ${Math.round(result.machine.stealPct)} %` : '') +
    `  [${statuses}]` +
    (result.queriesPerRequest > 0 ? `  read-model queries ${result.queriesPerRequest.toFixed(1)}/${result.name === 'CLI login' ? 'login' : 'req'}` : '') +
    (result.appends.count > 0 ? `  ${appendsLine(result)}` : '') +
    (s.firstFailure ? `  first failure: ${s.firstFailure}` : '')
  );
}
