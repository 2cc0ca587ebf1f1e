// Runs the `authlog` command as a user would (node bin/authlog.mjs …), in its own process.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The environment an `authlog` process of a test gets: this process's, less the service's own
 * configuration (a developer's EVENTSTORE_URL or REDIS_URL must not redirect a test's server),
 * plus what the test sets.
 */
export function childEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = { ...process.env };
  for (const name of ['PORT', 'HOST', 'AUTHLOG_DATA_DIR', 'AUTHLOG_SECRET', 'EVENTSTORE_URL', 'REDIS_URL', 'REDIS_PREFIX', 'SMTP_URL', 'PUBLIC_URL', 'LOG_LEVEL']) {
    delete inherited[name];
  }
  return { ...inherited, ...env };
}
const bin = fileURLToPath(new URL('../../bin/authlog.mjs', import.meta.url));

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `authlog <args>` to the end. `env` is added to this process's environment. */
export function runAuthlog(args: string[], env: Record<string, string> = {}, cwd = repoRoot): Promise<Finished> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the server printed so far. */
  output(): string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The url of the start-up line `{"msg":"authlog listening","url":…}` (fields in any order), once printed. */
function listeningUrl(output: string): string | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"authlog listening"')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: unknown; url?: unknown };
      if (entry.msg === 'authlog listening' && typeof entry.url === 'string') return entry.url;
    } catch {
      // a line still being written
    }
  }
  return undefined;
}

/** Starts `authlog serve` and resolves once it logs the address it listens on. */
export function startAuthlogServer(env: Record<string, string>, cwd = repoRoot, timeoutMs = 20_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [bin, 'serve'], { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`authlog serve did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      output += d.toString();
      const url = listeningUrl(output);
      if (url) {
        clearTimeout(timer);
        resolve({
          child,
          url,
          output: () => output,
          stop: async (signal = 'SIGTERM') => {
            child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`authlog serve exited with ${code} before listening:\n${output}`));
    });
  });
}
