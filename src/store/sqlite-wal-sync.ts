// Making the event store's commits durable off the event loop. With synchronous = FULL, SQLite
// fsyncs the WAL inside COMMIT, and better-sqlite3 runs COMMIT on the event loop: every write
// request's commit stopped the whole server for one fsync (a fifth to a quarter of a write's
// time, BENCHMARKS.md). The store's own connection therefore commits with synchronous = NORMAL
// (the WAL is written, not synced) and this fdatasyncs the WAL file on libuv's thread pool; an
// append is answered, and its events shown to anyone (subscriptions, stream reads), only once
// that sync has returned. That is the same promise FULL made: what a 2xx reported survives an
// OS crash or a power loss, not only a crash of the process.
//
// One sync covers every commit written before it started: a sync asked for while one is running
// waits for it and then starts one more, which all the commits made meanwhile share.
import { closeSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export interface DurabilitySync {
  /** Resolves once every commit made before the call is on disk. */
  sync(): Promise<void>;
  /** The same, now, blocking (the last commit at close). */
  syncNow(): void;
  close(): void;
}

export class WalFileSync implements DurabilitySync {
  private fd: number | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly databasePath: string) {}

  sync(): Promise<void> {
    if (!this.running) {
      const started = this.syncOnce();
      this.running = started;
      const clear = () => {
        if (this.running === started) this.running = undefined;
      };
      started.then(clear, clear);
      return started;
    }
    // The running sync may have started before the caller's commit: one more, after it.
    this.queued ??= this.running.then(
      () => this.afterRunning(),
      () => this.afterRunning(),
    );
    return this.queued;
  }

  syncNow(): void {
    fdatasyncSync(this.walFile());
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private afterRunning(): Promise<void> {
    this.queued = undefined;
    return this.sync();
  }

  private syncOnce(): Promise<void> {
    let fd: number;
    try {
      fd = this.walFile();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
  }

  /**
   * The WAL file SQLite writes to. SQLite removes it when its last connection closes and makes a
   * new one at the next open, so the file is looked up again whenever it is another than the one
   * held; a new file's name is made durable too (its directory synced), or a power loss could
   * lose the whole file with every commit in it.
   */
  private walFile(): number {
    const path = `${this.databasePath}-wal`;
    if (this.fd !== undefined && fstatSync(this.fd).ino === statSync(path).ino) return this.fd;
    this.close();
    this.fd = openSync(path, 'r');
    const directory = openSync(dirname(path), 'r');
    try {
      fsyncSync(directory);
    } finally {
      closeSync(directory);
    }
    return this.fd;
  }
}
