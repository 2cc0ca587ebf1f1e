// The load generator: a child process (so it does not share the server's event loop, heap or
// RSS) that runs autocannon passes and the CLI-login loop the parent sends over IPC, one at a
// time, against loopback only.
import autocannon from 'autocannon';
import type { CliLoginJob, HttpLoadJob, LoadJob, LoadReply, LoadStats } from './load-types.ts';
import { Latencies, percentile } from './stats.ts';
import { post } from './post.ts';

function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') throw new Error(`the bench only loads loopback, not ${host}`);
}

const cpuPctSince = (start: NodeJS.CpuUsage, durationS: number): number => {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e4 / durationS;
};

function statsOf(
  latencies: Latencies,
  statuses: Record<string, number>,
  errors: number,
  durationS: number,
  clientCpuPct: number,
  firstFailure?: string,
): LoadStats {
  const sorted = latencies.sorted();
  const count = Object.values(statuses).reduce((a, b) => a + b, 0) || sorted.length;
  const non2xx = Object.entries(statuses)
    .filter(([code]) => !code.startsWith('2'))
    .reduce((a, [, n]) => a + n, 0);
  return {
    count,
    durationS,
    perSecond: count / durationS,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    statuses,
    non2xx,
    errors,
    share429: count ? (statuses['429'] ?? 0) / count : 0,
    clientCpuPct,
    ...(firstFailure ? { firstFailure } : {}),
  };
}

async function runHttp(job: HttpLoadJob): Promise<LoadStats> {
  assertLoopback(job.url);
  let turn = 0;
  const rotates = (job.bodies?.length ?? 0) > 0 || (job.headerSets?.length ?? 0) > 0;
  const request: autocannon.Request = { method: job.method, path: job.path, headers: job.headers };
  if (job.body !== undefined) request.body = job.body;
  if (rotates) {
    request.setupRequest = (req) => {
      const i = turn++;
      const next: autocannon.Request = { ...req };
      if (job.bodies?.length) next.body = job.bodies[i % job.bodies.length]!;
      if (job.headerSets?.length) next.headers = { ...job.headers, ...job.headerSets[i % job.headerSets.length]! };
      return next;
    };
  }
  const latencies = new Latencies();
  const statuses: Record<string, number> = {};
  const started = performance.now();
  const cpu = process.cpuUsage();
  let instance: autocannon.Instance | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: job.url,
        connections: job.connections,
        duration: job.durationS,
        requests: [request],
        ...(job.overallRate ? { overallRate: job.overallRate } : {}),
        timeout: 10,
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      latencies.push(responseTime);
      const key = String(statusCode);
      statuses[key] = (statuses[key] ?? 0) + 1;
    });
  });
  instance?.removeAllListeners();
  const durationS = (performance.now() - started) / 1000;
  return statsOf(latencies, statuses, result.errors + result.timeouts, durationS, cpuPctSince(cpu, durationS));
}

async function runCliLogin(job: CliLoginJob): Promise<LoadStats> {
  assertLoopback(job.url);
  const base = `${job.url}/api/v1/auth/cli`;
  const latencies = new Latencies();
  const statuses: Record<string, number> = {};
  let failures = 0;
  let firstFailure: string | undefined;
  let turn = 0;
  const fail = (step: string, answer: { status: number; json: unknown }) => {
    failures++;
    firstFailure ??= `${step}: ${answer.status} ${JSON.stringify(answer.json).slice(0, 200)}`;
  };
  const started = performance.now();
  const cpu = process.cpuUsage();
  const deadline = started + job.durationS * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const initiated = await post(base, '', job.clientHeaders, {});
      if (initiated.status !== 200) {
        fail('initiate', initiated);
        continue;
      }
      const token = job.approverRefreshTokens[turn++ % job.approverRefreshTokens.length]!;
      const completed = await post(base, '/complete', job.clientHeaders, { login_code: initiated.json.login_code, refresh_token: token });
      if (completed.status !== 200) {
        fail('complete', completed);
        continue;
      }
      const polled = await post(base, '/poll', job.clientHeaders, { polling_code: initiated.json.polling_code });
      if (polled.status !== 200 || polled.json?.status !== 'completed' || typeof polled.json?.refresh_token !== 'string') {
        fail('poll', polled);
        continue;
      }
      latencies.push(performance.now() - t0);
      statuses['200'] = (statuses['200'] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, loop));
  const durationS = (performance.now() - started) / 1000;
  return statsOf(latencies, statuses, failures, durationS, cpuPctSince(cpu, durationS), firstFailure);
}

process.on('message', (message: { id: number; job: LoadJob }) => {
  const { id, job } = message;
  const run = job.kind === 'http' ? runHttp(job) : runCliLogin(job);
  run.then(
    (result) => process.send?.({ id, ok: true, result } satisfies LoadReply),
    (error: Error) => process.send?.({ id, ok: false, error: error.stack ?? String(error) } satisfies LoadReply),
  );
});
process.on('disconnect', () => process.exit(0));
