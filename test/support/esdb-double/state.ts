// What every handler of the double shares: the log, the server's settings, and what is open.
import type * as grpc from '@grpc/grpc-js';
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb.js';
import type { Log } from './log.ts';

export interface ServerState {
  log: Log;
  serverVersion: string;
  batchAppend: boolean;
  maxAppendSize: number;
  subscriptions: Set<grpc.ServerWritableStream<ReadReq, ReadResp>>;
  /** Unary appends still receiving events: a node that goes away fails them as UNAVAILABLE. */
  openAppends: Set<() => void>;
  calls: Record<string, number>;
}

export function countCall(state: ServerState, method: string): void {
  state.calls[method] = (state.calls[method] ?? 0) + 1;
}

export function majorMinorAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map((n) => Number.parseInt(n, 10));
  return a > major || (a === major && b >= minor);
}
