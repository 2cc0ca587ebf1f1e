// The parent's handle on the load generator child (bench/load-client.ts): one job at a time.
import type { ChildProcess } from 'node:child_process';
import { forkBenchModule } from './child.ts';
import type { LoadJob, LoadReply, LoadStats } from './load-types.ts';

export class LoadGenerator {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (s: LoadStats) => void; reject: (e: Error) => void }>();

  constructor() {
    this.child = forkBenchModule('./load-client.ts');
    this.child.on('message', (message) => {
      const reply = message as LoadReply;
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (!waiter) return;
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(`load generator: ${reply.error}`));
    });
    this.child.on('exit', (code, signal) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`load generator exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  run(job: LoadJob): Promise<LoadStats> {
    const id = this.nextId++;
    return new Promise<LoadStats>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, job });
    });
  }

  close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.disconnect();
    });
  }
}
