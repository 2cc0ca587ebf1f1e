// Child processes of the bench: TypeScript modules under bench/ run through tsx, talking over IPC.
// The load generator runs in one (so that it does not share the server's event loop or heap),
// and each replay measurement runs in a fresh one (so that its RSS is its own).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** BENCH_CPU_PROF=dir writes a V8 CPU profile of every child into dir (open in Chrome DevTools). */
function execArgv(): string[] {
  const args = ['--import', 'tsx', '--expose-gc'];
  const profDir = process.env.BENCH_CPU_PROF;
  if (profDir) args.push('--cpu-prof', `--cpu-prof-dir=${profDir}`);
  return args;
}

export function forkBenchModule(module: string, args: string[] = []): ChildProcess {
  const path = fileURLToPath(new URL(module, import.meta.url));
  return fork(path, args, { execArgv: execArgv(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

type JobReply<T> = { ok: true; result: T } | { ok: false; error: string };

/** Runs a one-shot child (argv[2] = the job as JSON) and resolves with the result it sends. */
export function runChildJob<T>(module: string, job: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const child = forkBenchModule(module, [JSON.stringify(job)]);
    let reply: JobReply<T> | undefined;
    child.on('message', (message) => (reply = message as JobReply<T>));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (reply?.ok) resolve(reply.result);
      else if (reply) reject(new Error(`${module} failed: ${reply.error}`));
      else reject(new Error(`${module} exited (${signal ?? code}) without a result`));
    });
  });
}
