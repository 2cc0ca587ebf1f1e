// `npm test`: runs every uvu test file (src/**/*.test.ts next to what they prove, test/**/*.test.ts
// end to end) in its own process, two at a time, and closes with the line `N passed, N failed`.
// Each file is its own process so that servers, ports and Redis prefixes never leak between files.
// The HTTP suites (test/http-*.test.ts) run on every backend pair: SQLite + memory (the
// embedded default), SQLite + Redis [redis], the EventStoreDB adapter against the gRPC double of
// EventStoreDB + Redis [esdb-double+redis], and, when EVENTSTORE_URL is set, a real EventStoreDB
// + Redis [eventstoredb+redis] (run last, one at a time: the suites count what a shared server holds).
//
//   npm test                 all files
//   npm test -- cli poll     only files whose path contains "cli" or "poll"
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { cpus } from 'node:os';
import { checkRedisOrExplain } from '../test/support/redis-check.ts';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const concurrency = Number(process.env.TEST_CONCURRENCY ?? Math.max(1, Math.min(2, cpus().length)));
const fileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 10 * 60_000);

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

interface Job {
  file: string;
  /** Extra environment, and how the job is named in the output. */
  env: Record<string, string>;
  label: string;
  /** Runs after the others, alone. */
  serial?: boolean;
}

const HTTP_SUITE = /[\\/]test[\\/]http-[^\\/]+\.test\.ts$/;

function jobsFor(file: string): Job[] {
  const plain: Job = { file, env: {}, label: relative(root, file) };
  if (!HTTP_SUITE.test(file)) return [plain];
  const jobs: Job[] = [
    plain,
    { file, env: { AUTHLOG_TEST_READ_MODEL: 'redis' }, label: `${relative(root, file)} [redis]` },
    { file, env: { AUTHLOG_TEST_READ_MODEL: 'redis', AUTHLOG_TEST_EVENT_STORE: 'esdb-double' }, label: `${relative(root, file)} [esdb-double+redis]` },
  ];
  if (process.env.EVENTSTORE_URL) {
    jobs.push({ file, env: { AUTHLOG_TEST_READ_MODEL: 'redis', AUTHLOG_TEST_EVENT_STORE: 'eventstoredb' }, label: `${relative(root, file)} [eventstoredb+redis]`, serial: true });
  }
  return jobs;
}

interface FileResult {
  label: string;
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  ms: number;
  output: string;
}

function runFile({ file, env, label }: Job): Promise<FileResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n[test runner] ${label} exceeded ${fileTimeoutMs} ms; killed\n`;
      child.kill('SIGKILL');
    }, fileTimeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? NaN);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0);
      let failed: number;
      if (Number.isNaN(total) || Number.isNaN(passed)) failed = 1; // crashed before uvu reported
      else failed = total - passed - skipped;
      if (code !== 0 && failed === 0) failed = 1; // exit code says something went wrong anyway
      resolve({
        label,
        file,
        passed: Number.isNaN(passed) ? 0 : passed,
        failed,
        skipped,
        ms: Date.now() - started,
        output,
      });
    });
  });
}

async function main(): Promise<void> {
  const redisProblem = await checkRedisOrExplain();
  if (redisProblem) {
    console.error(redisProblem);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  let files = [...findTests(join(root, 'src')), ...findTests(join(root, 'test'))].sort();
  if (filters.length) files = files.filter((f) => filters.some((p) => relative(root, f).includes(p)));
  // Longest first (the process-spawning CLI suites), so two workers finish together.
  const jobs = files.flatMap(jobsFor).sort((a, b) => Number(/cli-|crash/.test(b.file)) - Number(/cli-|crash/.test(a.file)));
  const results: FileResult[] = [];
  const runAll = (queue: Job[], workerCount: number) =>
    Promise.all(Array.from({ length: workerCount }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const r = await runFile(job);
      results.push(r);
      const mark = r.failed ? 'FAIL' : 'ok  ';
      console.log(`${mark} ${r.label}  ${r.passed} passed, ${r.failed} failed (${(r.ms / 1000).toFixed(1)} s)`);
      // Figures a test prints on purpose (lines starting with "  # ") stay visible in the CI log.
      // uvu's progress dots may precede one on the same line.
      for (const line of r.output.split('\n')) {
        const at = line.indexOf('  # ');
        if (at >= 0 && /^[•✘\s]*$/.test(line.slice(0, at))) console.log(line.slice(at));
      }
      if (r.failed) console.log(r.output.replace(/^/gm, '    | '));
    }
  }));
  await runAll(jobs.filter((j) => !j.serial), concurrency);
  await runAll(jobs.filter((j) => j.serial), 1);
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const skipped = results.reduce((n, r) => n + r.skipped, 0);
  if (files.length === 0) {
    console.log('no test files matched');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  console.log(`\n${files.length} files, ${jobs.length} runs` + (skipped ? `, ${skipped} skipped tests` : ''));
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

await main();
