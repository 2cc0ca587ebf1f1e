// BENCH_PROFILE=dir: a V8 CPU profile of the server process for each scenario pass, written
// as dir/<read model>-<scenario>.cpuprofile (open in Chrome DevTools, or summarise with
// `node --import tsx bench/profile-summary.ts FILE`). Profiling slows the server down: the
// figures of a profiled run are not the bench's figures.
import { Session } from 'node:inspector/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return fn();
  mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `${name.replace(/[^a-z0-9.-]+/gi, '_')}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}
