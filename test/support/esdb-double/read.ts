// Streams.Read without a subscription: one stream (metadata applied, deleted streams answered as
// the server does) or `$all` (forwards from a position inclusive, backwards before it), with
// links resolved when asked. Subscriptions are in subscribe.ts.
import * as grpc from '@grpc/grpc-js';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb.js';
import type { StoredEvent } from './log.ts';
import { countCall, type ServerState } from './state.ts';
import { subscribe } from './subscribe.ts';
import { eventFilter, grpcError, streamDeletedError, streamIdentifier, streamName } from './wire.ts';
import { fail, writeAll } from './write.ts';

type Call = grpc.ServerWritableStream<ReadReq, ReadResp>;

export function readHandler(state: ServerState): grpc.handleServerStreamingCall<ReadReq, ReadResp> {
  return (call) => {
    countCall(state, 'Read');
    call.on('error', () => {});
    const options = call.request.getOptions();
    if (!options) return fail(call, grpcError(grpc.status.INVALID_ARGUMENT, 'read without options'));
    if (options.hasSubscription()) return subscribe(state, call, options);
    const count = options.hasCount() ? BigInt(options.getCount()) : 0n;
    const backwards = options.getReadDirection() === streamsPb.ReadReq.Options.ReadDirection.BACKWARDS;
    let selected: StoredEvent[];
    if (options.hasStream()) {
      const stream = options.getStream();
      const name = streamName(stream?.getStreamIdentifier());
      const read = state.log.read(name);
      if (read.kind === 'deleted') return fail(call, streamDeletedError(name));
      if (read.kind === 'not_found') {
        const notFound = new streamsPb.ReadResp.StreamNotFound().setStreamIdentifier(streamIdentifier(name));
        call.write(new streamsPb.ReadResp().setStreamNotFound(notFound));
        return call.end();
      }
      const events = read.events;
      const from = stream?.hasRevision() ? BigInt(stream.getRevision()) : undefined;
      if (backwards) {
        const start = stream?.hasStart() ? -1n : (from ?? (events.at(-1)?.revision ?? -1n));
        selected = events.filter((e) => e.revision <= start).reverse();
      } else {
        const start = stream?.hasEnd() ? (events.at(-1)?.revision ?? -1n) + 1n : (from ?? 0n);
        selected = events.filter((e) => e.revision >= start);
      }
    } else if (options.hasAll()) {
      // `$all` reads ignore per-stream metadata, as the server does until a scavenge.
      const all = options.getAll();
      const position = all?.hasPosition() ? BigInt(all.getPosition()?.getCommitPosition() ?? '0') : undefined;
      const accept = eventFilter(options);
      if (backwards) {
        // Backwards from a position returns what lies before it; from the end, everything.
        const before = all?.hasStart() ? 0n : (position ?? (1n << 64n));
        selected = state.log.all.filter((e) => e.position < before && accept(e)).reverse();
      } else {
        // Forwards from a position includes the event at that position, as the server does.
        const from = all?.hasEnd() ? (1n << 64n) : (position ?? 0n);
        selected = state.log.all.filter((e) => e.position >= from && accept(e));
      }
    } else {
      return fail(call, grpcError(grpc.status.UNIMPLEMENTED, 'the double reads streams and $all only'));
    }
    const limit = count > 0n && count < BigInt(selected.length) ? Number(count) : selected.length;
    const resolveLinks = options.getResolveLinks();
    void writeAll(call, state.log, selected.slice(0, limit), resolveLinks).then((open) => open && call.end());
  };
}
