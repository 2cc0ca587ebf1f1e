// Streams.Delete (soft delete) and Streams.Tombstone (hard delete), unary, with an expected
// revision; errors travel as the trailers the client maps (wrong-expected-version, stream-deleted).
import * as grpc from '@grpc/grpc-js';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
import sharedPb from '@eventstore/db-client/generated/shared_pb.js';
import type { DeleteReq, DeleteResp, TombstoneReq, TombstoneResp } from '@eventstore/db-client/generated/streams_pb.js';
import type { Decision } from './log.ts';
import { countCall, type ServerState } from './state.ts';
import { grpcError, streamDeletedError, streamName, toExpected, wrongExpectedVersionError } from './wire.ts';

type Outcome = { error: grpc.ServiceError } | { position: bigint | undefined };

function run(state: ServerState, method: 'Delete' | 'Tombstone', options: DeleteReq.Options | TombstoneReq.Options | undefined): Outcome {
  countCall(state, method);
  if (!options) return { error: grpcError(grpc.status.INVALID_ARGUMENT, `${method} without options`) };
  const name = streamName(options.getStreamIdentifier());
  const expected = toExpected(options);
  const decision: Decision = method === 'Delete' ? state.log.softDelete(name, expected) : state.log.tombstone(name, expected);
  if (decision.ok) return { position: decision.position };
  if (decision.reason === 'stream_deleted') return { error: streamDeletedError(name) };
  return { error: wrongExpectedVersionError(name, expected, decision.current) };
}

export function deleteHandler(state: ServerState): grpc.handleUnaryCall<DeleteReq, DeleteResp> {
  return (call, callback) => {
    const outcome = run(state, 'Delete', call.request.getOptions());
    if ('error' in outcome) return callback(outcome.error);
    const resp = new streamsPb.DeleteResp();
    if (outcome.position === undefined) resp.setNoPosition(new sharedPb.Empty());
    else resp.setPosition(new streamsPb.DeleteResp.Position().setCommitPosition(outcome.position.toString()).setPreparePosition(outcome.position.toString()));
    callback(null, resp);
  };
}

export function tombstoneHandler(state: ServerState): grpc.handleUnaryCall<TombstoneReq, TombstoneResp> {
  return (call, callback) => {
    const outcome = run(state, 'Tombstone', call.request.getOptions());
    if ('error' in outcome) return callback(outcome.error);
    const resp = new streamsPb.TombstoneResp();
    if (outcome.position === undefined) resp.setNoPosition(new sharedPb.Empty());
    else resp.setPosition(new streamsPb.TombstoneResp.Position().setCommitPosition(outcome.position.toString()).setPreparePosition(outcome.position.toString()));
    callback(null, resp);
  };
}
