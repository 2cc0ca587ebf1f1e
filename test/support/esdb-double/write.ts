// Writing events to a server-streaming Read call: with backpressure, and with links resolved
// when the reader asked for it.
import type * as grpc from '@grpc/grpc-js';
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb.js';
import type { Log, StoredEvent } from './log.ts';
import { readEventResp } from './wire.ts';

type Call = grpc.ServerWritableStream<ReadReq, ReadResp>;

/** The message for one event; a link carries the event it points to when the reader asked for it. */
export function eventResp(log: Log, event: StoredEvent, resolveLinks: boolean): ReadResp {
  return resolveLinks && log.isLink(event) ? readEventResp(event, { target: log.resolve(event) }) : readEventResp(event);
}

/** Writes with backpressure; false when the call went away meanwhile. */
export async function writeAll(call: Call, log: Log, events: readonly StoredEvent[], resolveLinks: boolean): Promise<boolean> {
  for (const event of events) {
    if (call.cancelled || call.destroyed || call.writableEnded) return false;
    if (!call.write(eventResp(log, event, resolveLinks))) await drained(call);
  }
  return !(call.cancelled || call.destroyed || call.writableEnded);
}

/** Resolves when the client has taken what was written, or the call has gone away. */
export function drained(call: Call): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('close', done);
      call.off('cancelled', done);
      resolve();
    };
    call.on('drain', done);
    call.on('close', done);
    call.on('cancelled', done);
  });
}

/**
 * Ends the call with this error as its status. (destroy(error) would not: a destroyed grpc-js
 * stream never sends its status, and the client waits for it forever.)
 */
export function fail(call: { emit(event: 'error', error: Error): boolean }, error: Error): void {
  call.emit('error', error);
}
