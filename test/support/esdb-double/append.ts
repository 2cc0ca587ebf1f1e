// Streams.Append (client streaming, one append per call) and Streams.BatchAppend (bidirectional,
// every append of a client on one call, matched by correlation id): expected revision, retries,
// tombstoned streams, the maximum append size, and BatchAppend's own deadline.
import * as grpc from '@grpc/grpc-js';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
import sharedPb from '@eventstore/db-client/generated/shared_pb.js';
import statusPb from '@eventstore/db-client/generated/status_pb.js';
import codePb from '@eventstore/db-client/generated/code_pb.js';
import anyPb from 'google-protobuf/google/protobuf/any_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';
import type { AppendReq, AppendResp, BatchAppendReq, BatchAppendResp } from '@eventstore/db-client/generated/streams_pb.js';
import type { UUID } from '@eventstore/db-client/generated/shared_pb.js';
import type { Expected, ProposedEvent } from './log.ts';
import { countCall, type ServerState } from './state.ts';
import { fail } from './write.ts';
import { grpcError, maxAppendSizeError, streamDeletedError, streamIdentifier, streamName, toExpected, toProposed, uuidString } from './wire.ts';

/** What the server counts against the maximum append size: each event's data and metadata. */
function weight(event: ProposedEvent): number {
  return event.data.length + event.customMetadata.length;
}

export function appendHandler(state: ServerState): grpc.handleClientStreamingCall<AppendReq, AppendResp> {
  return (call, callback) => {
    countCall(state, 'Append');
    let name: string | undefined;
    let expected: Expected = { kind: 'any' };
    const proposed: ProposedEvent[] = [];
    let size = 0;
    let answered = false;
    const answer = (error: grpc.ServiceError | null, resp?: AppendResp) => {
      if (answered) return;
      answered = true;
      state.openAppends.delete(goneAway);
      callback(error, resp);
    };
    // A real node that goes away mid-append leaves the client with UNAVAILABLE on this path.
    const goneAway = () => answer(grpcError(grpc.status.UNAVAILABLE, 'Connection dropped'));
    state.openAppends.add(goneAway);
    call.on('cancelled', () => answer(grpcError(grpc.status.CANCELLED, 'cancelled')));
    call.on('error', () => {});
    call.on('data', (req: AppendReq) => {
      if (answered) return;
      try {
        const options = req.getOptions();
        if (options) {
          name = streamName(options.getStreamIdentifier());
          expected = toExpected(options);
        }
        const message = req.getProposedMessage();
        if (!message) return;
        const event = toProposed(message);
        size += weight(event);
        if (size > state.maxAppendSize) return answer(maxAppendSizeError(state.maxAppendSize));
        proposed.push(event);
      } catch (error) {
        answer(error as grpc.ServiceError); // toProposed/streamName throw ServiceErrors only
      }
    });
    // Committed a turn after the client's half-close: a client that gives up (its deadline) may
    // half-close and cancel in one go (seen on Node 26), and a server never commits a cancelled
    // append — not even the events that had arrived.
    call.on('end', () => setImmediate(commit));
    const commit = () => {
      if (answered || call.cancelled) return;
      // A deadline the write cannot meet: the server does not write. Writing takes a server time
      // (charged here at 1 ms per 10,000 events), which an in-memory double would otherwise not
      // spend, so on a fast loopback a 1 ms deadline could still see 30,000 events land.
      const deadline = call.getDeadline();
      const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
      if (Number.isFinite(deadlineMs) && deadlineMs < Date.now() + proposed.length / 10_000) return answer(grpcError(grpc.status.DEADLINE_EXCEEDED, 'Deadline Exceeded'));
      if (name === undefined) return answer(grpcError(grpc.status.INVALID_ARGUMENT, 'append without options'));
      const decision = state.log.append(name, expected, proposed);
      if (!decision.ok && decision.reason === 'stream_deleted') return answer(streamDeletedError(name));
      const resp = new streamsPb.AppendResp();
      if (decision.ok) {
        const success = new streamsPb.AppendResp.Success();
        if (decision.current < 0n) success.setNoStream(new sharedPb.Empty());
        else success.setCurrentRevision(decision.current.toString());
        if (decision.position === undefined) success.setNoPosition(new sharedPb.Empty());
        else success.setPosition(new streamsPb.AppendResp.Position().setCommitPosition(decision.position.toString()).setPreparePosition(decision.position.toString()));
        resp.setSuccess(success);
      } else {
        const wrong = new streamsPb.AppendResp.WrongExpectedVersion();
        if (decision.current < 0n) wrong.setCurrentNoStream(new sharedPb.Empty());
        else wrong.setCurrentRevision(decision.current.toString());
        if (expected.kind === 'revision') wrong.setExpectedRevision(expected.revision.toString());
        else if (expected.kind === 'no_stream') wrong.setExpectedNoStream(new sharedPb.Empty());
        else if (expected.kind === 'stream_exists') wrong.setExpectedStreamExists(new sharedPb.Empty());
        else wrong.setExpectedAny(new sharedPb.Empty());
        resp.setWrongExpectedVersion(wrong);
      }
      answer(null, resp);
    };
  };
}

/** A BatchAppend failure: a google.rpc.Status whose details pack one of the shared error messages. */
function failure(code: codePb.Code, message: string, typeName: string, packed: { serializeBinary(): Uint8Array }) {
  const details = new anyPb.Any();
  details.pack(packed.serializeBinary(), typeName);
  return new statusPb.Status().setCode(code).setMessage(message).setDetails(details);
}

interface PendingBatch {
  name: string;
  expected: Expected;
  proposed: ProposedEvent[];
  size: number;
  timer: NodeJS.Timeout | undefined;
}

export function batchAppendHandler(state: ServerState): grpc.handleBidiStreamingCall<BatchAppendReq, BatchAppendResp> {
  return (call) => {
    countCall(state, 'BatchAppend');
    const pending = new Map<string, PendingBatch>();
    const open = () => !(call.cancelled || call.destroyed || call.writableEnded);
    const respond = (correlation: UUID, entry: PendingBatch) => {
      const resp = new streamsPb.BatchAppendResp().setCorrelationId(correlation).setStreamIdentifier(streamIdentifier(entry.name));
      const expected = entry.expected;
      if (expected.kind === 'revision') resp.setStreamPosition(expected.revision.toString());
      else if (expected.kind === 'no_stream') resp.setNoStream(new emptyPb.Empty());
      else if (expected.kind === 'stream_exists') resp.setStreamExists(new emptyPb.Empty());
      else resp.setAny(new emptyPb.Empty());
      return resp;
    };
    const finish = (key: string, entry: PendingBatch, resp: BatchAppendResp) => {
      clearTimeout(entry.timer);
      pending.delete(key);
      if (open()) call.write(resp);
    };
    call.on('data', (req: BatchAppendReq) => {
      const correlation = req.getCorrelationId();
      if (!correlation) return fail(call, grpcError(grpc.status.INVALID_ARGUMENT, 'batch append without correlation id'));
      const key = uuidString(correlation);
      let entry = pending.get(key);
      if (!entry) {
        const options = req.getOptions();
        if (!options?.hasStreamIdentifier()) return; // a continuation of a request already answered (refused or timed out)
        const created: PendingBatch = { name: streamName(options.getStreamIdentifier()), expected: toExpected(options), proposed: [], size: 0, timer: undefined };
        entry = created;
        pending.set(key, created);
        // The server gives up on a write whose deadline passes before its last chunk is in.
        const deadline = options.hasDeadline() ? options.getDeadline()?.toDate().getTime() : undefined;
        if (deadline !== undefined) {
          created.timer = setTimeout(() => {
            if (pending.get(key) !== created) return;
            finish(key, created, respond(correlation, created).setError(failure(codePb.Code.DEADLINE_EXCEEDED, 'Timeout', 'event_store.client.Timeout', new sharedPb.Timeout())));
          }, Math.max(0, deadline - Date.now()));
        }
      }
      try {
        for (const message of req.getProposedMessagesList()) {
          const event = toProposed(message);
          entry.size += weight(event);
          entry.proposed.push(event);
        }
      } catch (error) {
        return finish(key, entry, respond(correlation, entry).setError(new statusPb.Status().setCode(codePb.Code.INVALID_ARGUMENT).setMessage((error as Error).message)));
      }
      if (entry.size > state.maxAppendSize) {
        const exceeded = new sharedPb.MaximumAppendSizeExceeded().setMaxappendsize(state.maxAppendSize);
        return finish(key, entry, respond(correlation, entry).setError(failure(codePb.Code.INVALID_ARGUMENT, 'MaximumAppendSizeExceeded', 'event_store.client.MaximumAppendSizeExceeded', exceeded)));
      }
      if (!req.getIsFinal()) return;
      const resp = respond(correlation, entry);
      const decision = state.log.append(entry.name, entry.expected, entry.proposed);
      if (decision.ok) {
        const success = new streamsPb.BatchAppendResp.Success();
        if (decision.current < 0n) success.setNoStream(new emptyPb.Empty());
        else success.setCurrentRevision(decision.current.toString());
        if (decision.position === undefined) success.setNoPosition(new emptyPb.Empty());
        else success.setPosition(new sharedPb.AllStreamPosition().setCommitPosition(decision.position.toString()).setPreparePosition(decision.position.toString()));
        resp.setSuccess(success);
      } else if (decision.reason === 'stream_deleted') {
        const deleted = new sharedPb.StreamDeleted().setStreamIdentifier(streamIdentifier(entry.name));
        resp.setError(failure(codePb.Code.FAILED_PRECONDITION, 'StreamDeleted', 'event_store.client.StreamDeleted', deleted));
      } else {
        const wrong = new sharedPb.WrongExpectedVersion();
        if (decision.current < 0n) wrong.setCurrentNoStream(new emptyPb.Empty());
        else wrong.setCurrentStreamRevision(decision.current.toString());
        const expected = entry.expected;
        if (expected.kind === 'revision') wrong.setExpectedStreamPosition(expected.revision.toString());
        else if (expected.kind === 'no_stream') wrong.setExpectedNoStream(new emptyPb.Empty());
        else if (expected.kind === 'stream_exists') wrong.setExpectedStreamExists(new emptyPb.Empty());
        else wrong.setExpectedAny(new emptyPb.Empty());
        resp.setError(failure(codePb.Code.FAILED_PRECONDITION, 'WrongExpectedVersion', 'event_store.client.WrongExpectedVersion', wrong));
      }
      finish(key, entry, resp);
    });
    const drop = () => {
      for (const entry of pending.values()) clearTimeout(entry.timer);
      pending.clear();
    };
    call.on('end', () => {
      drop();
      call.end();
    });
    call.on('cancelled', drop);
    call.on('error', drop);
  };
}
