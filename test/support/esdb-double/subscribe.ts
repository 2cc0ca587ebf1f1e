// Subscriptions (Streams.Read with subscription options): to `$all`, with filters and the
// checkpoints a filtered subscription sends, and to one stream; catch-up then live, `caught_up`
// when playing a 23.10+ server, StreamDeleted when the stream is tombstoned.
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb.js';
import type { StoredEvent } from './log.ts';
import { majorMinorAtLeast, type ServerState } from './state.ts';
import { eventFilter, grpcError, streamDeletedError, streamName } from './wire.ts';
import { drained, eventResp, fail } from './write.ts';

type Call = grpc.ServerWritableStream<ReadReq, ReadResp>;

/** The server's search window when the client asks for its default (`count`). */
const DEFAULT_WINDOW = 32;

/** What a subscription sends for its next event (possibly nothing), an error that ends it, or undefined: nothing more for now. */
type Step = { messages: ReadResp[] } | { error: grpc.ServiceError } | undefined;

export function subscribe(state: ServerState, call: Call, options: ReadReq.Options): void {
  const next = options.hasAll() ? allSource(state, options) : options.hasStream() ? streamSource(state, options) : undefined;
  if (!next) {
    fail(call, grpcError(grpc.status.UNIMPLEMENTED, 'the double subscribes to $all and to streams only'));
    return;
  }
  const sendsCaughtUp = majorMinorAtLeast(state.serverVersion, 23, 10);
  state.subscriptions.add(call);
  call.write(new streamsPb.ReadResp().setConfirmation(new streamsPb.ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID())));

  let caughtUpSent = false;
  let pumping = false;
  let again = false;
  const gone = () => call.cancelled || call.destroyed || call.writableEnded;
  const pump = async (): Promise<void> => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        for (let step = next(); step; step = next()) {
          if (gone()) return;
          if ('error' in step) {
            fail(call, step.error);
            return;
          }
          for (const message of step.messages) if (!call.write(message)) await drained(call);
        }
        if (!caughtUpSent && sendsCaughtUp && !gone()) {
          caughtUpSent = true;
          call.write(new streamsPb.ReadResp().setCaughtUp(new streamsPb.ReadResp.CaughtUp()));
        }
      } while (again);
    } finally {
      pumping = false;
    }
  };
  const stopListening = state.log.onAppend(() => void pump());
  const done = () => {
    stopListening();
    state.subscriptions.delete(call);
  };
  call.on('cancelled', done);
  call.on('close', done);
  call.on('error', done);
  void pump();
}

/**
 * `$all` from after a position (exclusive). A filtered subscription sends a checkpoint every
 * `checkpointIntervalMultiplier × window` events it looks at, matching or not, just before the
 * event that completes the count, carrying the position of the event before it: everything up
 * to there has been looked at and sent.
 */
function allSource(state: ServerState, options: ReadReq.Options): () => Step {
  const all = options.getAll();
  const accept = eventFilter(options);
  const filter = options.hasFilter() ? options.getFilter() : undefined;
  const window = filter?.hasMax() ? filter.getMax() : DEFAULT_WINDOW;
  const checkpointEvery = filter ? Math.max(1, filter.getCheckpointintervalmultiplier() * window) : 0;
  const resolveLinks = options.getResolveLinks();
  const log = state.log;
  let cursor = 0;
  let lastPosition = 0n;
  if (all?.hasEnd()) cursor = log.all.length;
  else if (all?.hasPosition()) {
    const after = BigInt(all.getPosition()?.getCommitPosition() ?? '0');
    lastPosition = after;
    cursor = log.all.findIndex((e) => e.position > after);
    if (cursor < 0) cursor = log.all.length;
  }
  if (cursor > 0) lastPosition = log.all[cursor - 1]?.position ?? lastPosition;
  let considered = 0;
  return () => {
    const event = log.all[cursor];
    if (!event) return undefined;
    cursor += 1;
    considered += 1;
    const messages: ReadResp[] = [];
    if (checkpointEvery > 0 && considered % checkpointEvery === 0) {
      const position = lastPosition.toString();
      messages.push(new streamsPb.ReadResp().setCheckpoint(new streamsPb.ReadResp.Checkpoint().setCommitPosition(position).setPreparePosition(position)));
    }
    if (accept(event)) messages.push(eventResp(log, event, resolveLinks));
    lastPosition = event.position;
    return { messages };
  };
}

/** One stream from after a revision (exclusive), metadata applied to what it catches up on. */
function streamSource(state: ServerState, options: ReadReq.Options): () => Step {
  const stream = options.getStream();
  const name = streamName(stream?.getStreamIdentifier());
  const resolveLinks = options.getResolveLinks();
  const log = state.log;
  let after = -1n;
  if (stream?.hasEnd()) after = log.lastRevision(name);
  else if (stream?.hasRevision()) after = BigInt(stream.getRevision());
  return () => {
    const read = log.read(name);
    if (read.kind === 'deleted') return { error: streamDeletedError(name) };
    if (read.kind === 'not_found') return undefined;
    const event: StoredEvent | undefined = read.events.find((e) => e.revision > after);
    if (!event) return undefined;
    after = event.revision;
    return { messages: [eventResp(log, event, resolveLinks)] };
  };
}
