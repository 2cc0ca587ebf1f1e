// The write paths alone (initiate, create session, CLI login on the memory read model), for A/B
// runs of one change: `node --import tsx bench/writes.ts` prints one JSON line with req/s,
// p50/p99, CPU of the server, and how many appends shared how many SQLite commits when the
// store reports it. BENCH_DURATION_S (default 5) and BENCH_CONNECTIONS (default 10) apply.
import { LoadGenerator } from './load.ts';
import { startBenchService } from './service.ts';
import { browserUsers } from './fixtures.ts';
import type { HttpLoadJob, LoadJob, LoadStats } from './load-types.ts';

const durationS = Number(process.env.BENCH_DURATION_S ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);

interface Committed {
  commits: number;
  appends: number;
}

const service = await startBenchService('memory');
const load = new LoadGenerator();
const committed = (): Committed | undefined => {
  const stats = (service.app.store as { groupCommitStats?: Committed }).groupCommitStats;
  return stats && { commits: stats.commits, appends: stats.appends };
};
const out: Record<string, unknown> = {};
try {
  const users = await browserUsers(service, 50);
  const jsonClient = { ...service.clientHeaders, 'content-type': 'application/json' };
  const jsonServer = { ...service.serverHeaders, 'content-type': 'application/json' };
  const http = (path: string, headers: Record<string, string>, extra: Partial<HttpLoadJob>): HttpLoadJob => ({
    kind: 'http',
    url: service.url,
    method: 'POST',
    path,
    headers,
    connections,
    durationS,
    ...extra,
  });
  const passes: [string, LoadJob][] = [
    ['initiate', http('/api/v1/auth/cli', jsonClient, { body: '{}' })],
    ['create session', http('/api/v1/auth/sessions', jsonServer, { bodies: users.map((u) => JSON.stringify({ user_id: u.userId })) })],
    [
      'CLI login',
      { kind: 'cli-login', url: service.url, clientHeaders: service.clientHeaders, approverRefreshTokens: users.map((u) => u.refreshToken), concurrency: 4, durationS },
    ],
  ];
  for (const [name, job] of passes) {
    await load.run({ ...job, durationS: 1 });
    const before = committed();
    const cpu = process.cpuUsage();
    const stats: LoadStats = await load.run(job);
    const used = process.cpuUsage(cpu);
    const after = committed();
    out[name] = {
      perSecond: Math.round(stats.perSecond),
      p50Ms: stats.p50Ms,
      p99Ms: stats.p99Ms,
      non2xx: stats.non2xx,
      errors: stats.errors,
      serverCpuPct: Math.round((used.user + used.system) / 1e4 / stats.durationS),
      ...(before && after ? { appendsPerCommit: Number(((after.appends - before.appends) / Math.max(1, after.commits - before.commits)).toFixed(2)) } : {}),
    };
  }
} finally {
  await load.close();
  await service.remove();
}
console.log(JSON.stringify(out));
