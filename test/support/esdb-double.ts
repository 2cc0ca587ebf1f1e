// An in-process double of EventStoreDB's gRPC protocol, so that the EventStoreDB adapter can be
// proven with the real `@eventstore/db-client` on a machine where no server can run. It is built
// from the client's OWN generated message classes and service definitions, so what goes over the
// wire is exactly what the client sends and expects.
//
// What it implements (only what the adapter uses):
// - ServerFeatures.GetSupportedMethods: how the client decides between Append and BatchAppend.
// - Streams.Append (client streaming) and Streams.BatchAppend (bidirectional; what the client uses
//   against every server since 21.10): expected revision (any / no stream / stream exists / n),
//   the wrong-expected-version answers, and idempotent retries recognised by event id (answered
//   with `no_position`, the answer the server gives when it has no commit position for a write;
//   whether a real server does that for a retry is an assumption the adapter copes with either way).
// - Streams.Read: stream reads (forwards/backwards, count, `stream_not_found`), `$all` reads
//   forwards (from a position, inclusive, as the server does) and backwards (before a position),
//   and `$all` subscriptions: confirmation, catch-up, live events, stream-name / event-type filters
//   (prefixes or regex), checkpoints, and `caught_up` when it plays a 23.10+ server.
// - A fresh log holds a few system events (`$`-typed, in `$`-streams) as a real node does, and
//   positions are byte-offset-like (commit = prepare, growing by more than 1), so an adapter that
//   forgets to exclude system events or assumes dense positions fails here too.
// - `silent`: a plain TCP server that accepts connections and never answers.
//
// What it does not: TLS, authentication, gossip/cluster (a single-host connection string skips
// gossip), stream subscriptions, resolving links, deletes/tombstones/stream metadata, persistent
// subscriptions, projections, the per-append deadline, maximum append size, explicit transactions
// (commit != prepare), fell-behind notifications, and real durability (the log lives in memory;
// `restart()` keeps it).
import * as net from 'node:net';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import streamsGrpc from '@eventstore/db-client/generated/streams_grpc_pb.js';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
import sharedPb from '@eventstore/db-client/generated/shared_pb.js';
import statusPb from '@eventstore/db-client/generated/status_pb.js';
import featuresGrpc from '@eventstore/db-client/generated/serverfeatures_grpc_pb.js';
import featuresPb from '@eventstore/db-client/generated/serverfeatures_pb.js';
import anyPb from 'google-protobuf/google/protobuf/any_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';
import type {
  AppendReq,
  AppendResp,
  BatchAppendReq,
  BatchAppendResp,
  ReadReq,
  ReadResp,
} from '@eventstore/db-client/generated/streams_pb.js';
import type { Empty, UUID } from '@eventstore/db-client/generated/shared_pb.js';
import type { SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb.js';

export interface EsdbDoubleOptions {
  /** Accept TCP connections but never answer (a hung server). */
  silent?: boolean;
  /** Listen on this port (0 or omitted: any free port). */
  port?: number;
  /**
   * The server version GetSupportedMethods reports. From 23.10 on, subscriptions also send
   * `caught_up`, as real servers do. Default 22.10.0 (no `caught_up`).
   */
  serverVersion?: string;
  /** Advertise BatchAppend (default true, like every server since 21.10); false makes the client use Append. */
  batchAppend?: boolean;
}

export interface EsdbDouble {
  /** `esdb://127.0.0.1:PORT?tls=false` */
  url: string;
  port: number;
  /** Stops listening and drops every connection and call (as a crashed server would). */
  stop(): Promise<void>;
  /** Stops, then listens again on the same port with the same log (a server restart). */
  restart(): Promise<void>;
  /** Number of subscriptions currently open on the double. */
  openSubscriptions(): number;
  /** How often each gRPC method was called (e.g. `BatchAppend`, `Append`, `Read`), to check which path the client took. */
  calls(): Readonly<Record<string, number>>;
}

// ---------------------------------------------------------------------------------------------
// The log

interface StoredEvent {
  streamName: string;
  revision: bigint;
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
  /** Commit = prepare position (every event commits itself, as gRPC appends do). */
  position: bigint;
  /** .NET ticks (100 ns) since the Unix epoch, as the server's `created` metadata. */
  created: string;
}

interface ProposedEvent {
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
}

type Expected = { kind: 'any' } | { kind: 'no_stream' } | { kind: 'stream_exists' } | { kind: 'revision'; revision: bigint };

type Decision =
  | { ok: true; current: bigint; position: bigint | undefined }
  | { ok: false; current: bigint /* -1n: no stream */ };

class Log {
  readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly listeners = new Set<() => void>();
  // Real positions are byte offsets into the transaction file; a fresh node starts past its headers.
  private nextPosition = 1_024n;

  constructor() {
    // A fresh node writes a few events of its own before anyone appends.
    const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    this.write('$users', [{ id: randomUUID(), type: '$UserCreated', contentType: 'application/json', data: json({ loginName: 'admin' }), customMetadata: new Uint8Array() }]);
    this.write('$settings', [{ id: randomUUID(), type: '$settings', contentType: 'application/json', data: json({}), customMetadata: new Uint8Array() }]);
  }

  stream(name: string): readonly StoredEvent[] | undefined {
    return this.streams.get(name);
  }

  lastRevision(name: string): bigint {
    const events = this.streams.get(name);
    return events ? BigInt(events.length - 1) : -1n;
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Checks the expected revision and appends, or recognises a retry of an append that already happened. */
  append(streamName: string, expected: Expected, proposed: readonly ProposedEvent[]): Decision {
    const current = this.lastRevision(streamName);
    const first = proposed[0];
    const existing = this.streams.get(streamName) ?? [];
    if (first) {
      const at = existing.findIndex((e) => e.id === first.id);
      if (at >= 0) {
        // The server answers a retry of an append that did commit with the original revision
        // and no position, instead of writing the events twice.
        const same = proposed.every((p, i) => existing[at + i]?.id === p.id);
        if (same && expectedMatches(expected, BigInt(at) - 1n)) {
          return { ok: true, current: BigInt(at + proposed.length - 1), position: undefined };
        }
      }
    }
    if (!expectedMatches(expected, current)) return { ok: false, current };
    if (!first) return { ok: true, current, position: existing.at(-1)?.position };
    const written = this.write(streamName, proposed);
    return { ok: true, current: written.at(-1)?.revision ?? current, position: written.at(-1)?.position };
  }

  private write(streamName: string, proposed: readonly ProposedEvent[]): StoredEvent[] {
    let events = this.streams.get(streamName);
    if (!events) {
      events = [];
      this.streams.set(streamName, events);
    }
    const written: StoredEvent[] = [];
    for (const p of proposed) {
      const event: StoredEvent = {
        streamName,
        revision: BigInt(events.length),
        id: p.id,
        type: p.type,
        contentType: p.contentType,
        data: p.data,
        customMetadata: p.customMetadata,
        position: this.nextPosition,
        created: (BigInt(Date.now()) * 10_000n).toString(),
      };
      // Roughly the size of the prepare record: header + names + payload.
      this.nextPosition += 90n + BigInt(streamName.length + p.type.length + p.data.length + p.customMetadata.length);
      events.push(event);
      this.all.push(event);
      written.push(event);
    }
    for (const listener of [...this.listeners]) listener();
    return written;
  }
}

function expectedMatches(expected: Expected, current: bigint): boolean {
  switch (expected.kind) {
    case 'any':
      return true;
    case 'no_stream':
      return current === -1n;
    case 'stream_exists':
      return current >= 0n;
    case 'revision':
      return current === expected.revision;
  }
}

// ---------------------------------------------------------------------------------------------
// Message helpers

function uuidString(uuid: UUID | undefined): string {
  if (!uuid) throw new Error('event without id');
  if (uuid.hasStructured()) {
    const s = uuid.getStructured();
    const hex = (BigInt.asUintN(64, BigInt(s?.getMostSignificantBits() ?? '0')).toString(16).padStart(16, '0') +
      BigInt.asUintN(64, BigInt(s?.getLeastSignificantBits() ?? '0')).toString(16).padStart(16, '0'));
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return uuid.getString();
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function bytes(value: Uint8Array | string): Uint8Array {
  // jspb hands bytes fields back as base64 strings when they were set that way.
  return typeof value === 'string' ? new Uint8Array(Buffer.from(value, 'base64')) : value;
}

interface ProposedMessageLike {
  getId(): UUID | undefined;
  getMetadataMap(): { get(key: string): string | undefined };
  getData(): Uint8Array | string;
  getCustomMetadata(): Uint8Array | string;
}

function toProposed(message: ProposedMessageLike): ProposedEvent {
  const id = uuidString(message.getId());
  const type = message.getMetadataMap().get('type');
  const contentType = message.getMetadataMap().get('content-type');
  // The server refuses events without these (RequiredMetadataPropertyMissing) and ids that are not uuids.
  if (!UUID_PATTERN.test(id)) throw grpcError(grpc.status.INVALID_ARGUMENT, `event id ${id} is not a uuid`);
  if (!type || !contentType) throw grpcError(grpc.status.INVALID_ARGUMENT, 'required metadata property missing: type, content-type');
  return { id, type, contentType, data: bytes(message.getData()), customMetadata: bytes(message.getCustomMetadata()) };
}

function grpcError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

function streamName(identifier: { getStreamName(): Uint8Array | string } | undefined): string {
  if (!identifier) throw grpcError(grpc.status.INVALID_ARGUMENT, 'missing stream identifier');
  return Buffer.from(bytes(identifier.getStreamName())).toString('utf8');
}

function streamIdentifier(name: string) {
  return new sharedPb.StreamIdentifier().setStreamName(new Uint8Array(Buffer.from(name, 'utf8')));
}

function recordedEvent(event: StoredEvent) {
  const recorded = new streamsPb.ReadResp.ReadEvent.RecordedEvent()
    .setId(new sharedPb.UUID().setString(event.id))
    .setStreamIdentifier(streamIdentifier(event.streamName))
    .setStreamRevision(event.revision.toString())
    .setCommitPosition(event.position.toString())
    .setPreparePosition(event.position.toString())
    .setData(event.data)
    .setCustomMetadata(event.customMetadata);
  recorded.getMetadataMap().set('type', event.type).set('content-type', event.contentType).set('created', event.created);
  return recorded;
}

function readEventResp(event: StoredEvent): ReadResp {
  const readEvent = new streamsPb.ReadResp.ReadEvent().setEvent(recordedEvent(event)).setCommitPosition(event.position.toString());
  return new streamsPb.ReadResp().setEvent(readEvent);
}

type EventFilter = (event: StoredEvent) => boolean;

function eventFilter(options: ReadReq.Options): EventFilter {
  if (!options.hasFilter()) return () => true;
  const filter = options.getFilter();
  const onStream = filter?.hasStreamIdentifier() ?? false;
  const expression = onStream ? filter?.getStreamIdentifier() : filter?.getEventType();
  if (!expression) return () => true;
  const prefixes = expression.getPrefixList();
  const regex = expression.getRegex() ? new RegExp(expression.getRegex()) : undefined;
  return (event) => {
    const subject = onStream ? event.streamName : event.type;
    if (prefixes.length > 0) return prefixes.some((p) => subject.startsWith(p));
    return regex ? regex.test(subject) : true;
  };
}

// ---------------------------------------------------------------------------------------------
// The services

interface ServerState {
  log: Log;
  serverVersion: string;
  batchAppend: boolean;
  subscriptions: Set<grpc.ServerWritableStream<ReadReq, ReadResp>>;
  calls: Record<string, number>;
}

function countCall(state: ServerState, method: string): void {
  state.calls[method] = (state.calls[method] ?? 0) + 1;
}

function majorMinorAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map((n) => Number.parseInt(n, 10));
  return a > major || (a === major && b >= minor);
}

function toExpected(options: AppendReq.Options): Expected {
  if (options.hasRevision()) return { kind: 'revision', revision: BigInt(options.getRevision()) };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  return { kind: 'any' };
}

function toBatchExpected(options: BatchAppendReq.Options): Expected {
  if (options.hasStreamPosition()) return { kind: 'revision', revision: BigInt(options.getStreamPosition()) };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  return { kind: 'any' };
}

function appendHandler(state: ServerState): grpc.handleClientStreamingCall<AppendReq, AppendResp> {
  return (call, callback) => {
    countCall(state, 'Append');
    let name: string | undefined;
    let expected: Expected = { kind: 'any' };
    const proposed: ProposedEvent[] = [];
    let failed = false;
    call.on('data', (req: AppendReq) => {
      if (failed) return;
      try {
        const options = req.getOptions();
        if (options) {
          name = streamName(options.getStreamIdentifier());
          expected = toExpected(options);
        }
        const message = req.getProposedMessage();
        if (message) proposed.push(toProposed(message));
      } catch (error) {
        failed = true;
        callback(error as grpc.ServiceError); // toProposed/streamName throw ServiceErrors only
      }
    });
    call.on('end', () => {
      if (failed) return;
      if (name === undefined) return callback(grpcError(grpc.status.INVALID_ARGUMENT, 'append without options'));
      const decision = state.log.append(name, expected, proposed);
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
      callback(null, resp);
    });
  };
}

function batchAppendHandler(state: ServerState): grpc.handleBidiStreamingCall<BatchAppendReq, BatchAppendResp> {
  return (call) => {
    countCall(state, 'BatchAppend');
    // One bidirectional call carries every append of a client; requests are matched by correlation id.
    const pending = new Map<string, { name: string; options: BatchAppendReq.Options; proposed: ProposedEvent[] }>();
    call.on('data', (req: BatchAppendReq) => {
      const correlation = req.getCorrelationId();
      const options = req.getOptions();
      if (!correlation) return call.destroy(grpcError(grpc.status.INVALID_ARGUMENT, 'batch append without correlation id'));
      const key = uuidString(correlation);
      let entry = pending.get(key);
      if (!entry) {
        if (!options?.hasStreamIdentifier()) return; // a continuation for a request we already answered
        entry = { name: streamName(options.getStreamIdentifier()), options, proposed: [] };
        pending.set(key, entry);
      }
      const resp = new streamsPb.BatchAppendResp().setCorrelationId(correlation).setStreamIdentifier(streamIdentifier(entry.name));
      const expected = toBatchExpected(entry.options);
      if (expected.kind === 'revision') resp.setStreamPosition(expected.revision.toString());
      else if (expected.kind === 'no_stream') resp.setNoStream(new emptyPb.Empty());
      else if (expected.kind === 'stream_exists') resp.setStreamExists(new emptyPb.Empty());
      else resp.setAny(new emptyPb.Empty());
      try {
        for (const message of req.getProposedMessagesList()) entry.proposed.push(toProposed(message));
      } catch (error) {
        pending.delete(key);
        const status = new statusPb.Status().setCode(3 /* INVALID_ARGUMENT */).setMessage((error as Error).message);
        call.write(resp.setError(status));
        return;
      }
      if (!req.getIsFinal()) return;
      pending.delete(key);
      const decision = state.log.append(entry.name, expected, entry.proposed);
      if (decision.ok) {
        const success = new streamsPb.BatchAppendResp.Success();
        if (decision.current < 0n) success.setNoStream(new emptyPb.Empty());
        else success.setCurrentRevision(decision.current.toString());
        if (decision.position === undefined) success.setNoPosition(new emptyPb.Empty());
        else success.setPosition(new sharedPb.AllStreamPosition().setCommitPosition(decision.position.toString()).setPreparePosition(decision.position.toString()));
        call.write(resp.setSuccess(success));
      } else {
        // Errors travel as a google.rpc.Status whose details pack the shared WrongExpectedVersion.
        const wrong = new sharedPb.WrongExpectedVersion();
        if (decision.current < 0n) wrong.setCurrentNoStream(new emptyPb.Empty());
        else wrong.setCurrentStreamRevision(decision.current.toString());
        if (expected.kind === 'revision') wrong.setExpectedStreamPosition(expected.revision.toString());
        else if (expected.kind === 'no_stream') wrong.setExpectedNoStream(new emptyPb.Empty());
        else if (expected.kind === 'stream_exists') wrong.setExpectedStreamExists(new emptyPb.Empty());
        else wrong.setExpectedAny(new emptyPb.Empty());
        const details = new anyPb.Any();
        details.pack(wrong.serializeBinary(), 'event_store.client.WrongExpectedVersion');
        const status = new statusPb.Status().setCode(9 /* FAILED_PRECONDITION */).setMessage('WrongExpectedVersion').setDetails(details);
        call.write(resp.setError(status));
      }
    });
    call.on('end', () => call.end());
    call.on('error', () => {});
  };
}

function readHandler(state: ServerState): grpc.handleServerStreamingCall<ReadReq, ReadResp> {
  return (call) => {
    countCall(state, 'Read');
    const options = call.request.getOptions();
    if (!options) return call.destroy(grpcError(grpc.status.INVALID_ARGUMENT, 'read without options'));
    if (options.hasSubscription()) {
      if (!options.hasAll()) return call.destroy(grpcError(grpc.status.UNIMPLEMENTED, 'the double only subscribes to $all'));
      return subscribeAll(state, call, options);
    }
    const count = options.hasCount() ? BigInt(options.getCount()) : 0n;
    const backwards = options.getReadDirection() === streamsPb.ReadReq.Options.ReadDirection.BACKWARDS;
    let selected: StoredEvent[];
    if (options.hasStream()) {
      const stream = options.getStream();
      const name = streamName(stream?.getStreamIdentifier());
      const events = state.log.stream(name);
      if (!events) {
        const notFound = new streamsPb.ReadResp.StreamNotFound().setStreamIdentifier(streamIdentifier(name));
        call.write(new streamsPb.ReadResp().setStreamNotFound(notFound));
        return call.end();
      }
      const from = stream?.hasRevision() ? BigInt(stream.getRevision()) : undefined;
      if (backwards) {
        const start = stream?.hasStart() ? 0n : (from ?? BigInt(events.length - 1));
        selected = events.filter((e) => e.revision <= start).reverse();
      } else {
        const start = stream?.hasEnd() ? BigInt(events.length) : (from ?? 0n);
        selected = events.filter((e) => e.revision >= start);
      }
    } else {
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
    }
    const limit = count > 0n && count < BigInt(selected.length) ? Number(count) : selected.length;
    void writeAll(call, selected.slice(0, limit)).then((open) => open && call.end());
  };
}

/** Writes with backpressure; false when the call went away meanwhile. */
async function writeAll(call: grpc.ServerWritableStream<ReadReq, ReadResp>, events: readonly StoredEvent[]): Promise<boolean> {
  for (const event of events) {
    if (call.cancelled || call.destroyed) return false;
    if (!call.write(readEventResp(event))) await drained(call);
  }
  return !(call.cancelled || call.destroyed);
}

/** Resolves when the client has taken what was written, or the call has gone away. */
function drained(call: grpc.ServerWritableStream<ReadReq, ReadResp>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('close', done);
      resolve();
    };
    call.on('drain', done);
    call.on('close', done);
  });
}

function subscribeAll(state: ServerState, call: grpc.ServerWritableStream<ReadReq, ReadResp>, options: ReadReq.Options): void {
  const all = options.getAll();
  const accept = eventFilter(options);
  const filtered = options.hasFilter();
  // The server checkpoints a filtered subscription every `multiplier × window` considered events.
  const window = options.getFilter()?.hasMax() ? (options.getFilter()?.getMax() ?? 32) : 32;
  const checkpointEvery = Math.max(1, (options.getFilter()?.getCheckpointintervalmultiplier() ?? 1) * window);
  const sendsCaughtUp = majorMinorAtLeast(state.serverVersion, 23, 10);

  // Subscriptions start AFTER the given position (exclusive); from the end = only what comes next.
  let cursor = 0;
  if (all?.hasEnd()) cursor = state.log.all.length;
  else if (all?.hasPosition()) {
    const after = BigInt(all.getPosition()?.getCommitPosition() ?? '0');
    cursor = state.log.all.findIndex((e) => e.position > after);
    if (cursor < 0) cursor = state.log.all.length;
  }

  state.subscriptions.add(call);
  call.write(new streamsPb.ReadResp().setConfirmation(new streamsPb.ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID())));

  let considered = 0;
  let caughtUpSent = false;
  let pumping = false;
  let again = false;
  const pump = async (): Promise<void> => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        while (cursor < state.log.all.length) {
          if (call.cancelled || call.destroyed) return;
          const event = state.log.all[cursor++] as StoredEvent;
          considered++;
          let resp: ReadResp | undefined;
          if (accept(event)) resp = readEventResp(event);
          else if (filtered && considered % checkpointEvery === 0) {
            resp = new streamsPb.ReadResp().setCheckpoint(
              new streamsPb.ReadResp.Checkpoint().setCommitPosition(event.position.toString()).setPreparePosition(event.position.toString()),
            );
          }
          if (resp && !call.write(resp)) await drained(call);
        }
        if (!caughtUpSent && sendsCaughtUp && !(call.cancelled || call.destroyed)) {
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

function supportedMethodsHandler(state: ServerState): grpc.handleUnaryCall<Empty, SupportedMethods> {
  return (_call, callback) => {
    countCall(state, 'GetSupportedMethods');
    const methods = ['Read', 'Append', 'Delete', 'Tombstone', ...(state.batchAppend ? ['BatchAppend'] : [])].map((method) =>
      new featuresPb.SupportedMethod().setServiceName('event_store.client.streams.Streams').setMethodName(method),
    );
    callback(null, new featuresPb.SupportedMethods().setMethodsList(methods).setEventStoreServerVersion(state.serverVersion));
  };
}

// ---------------------------------------------------------------------------------------------
// Start / stop

async function listenGrpc(state: ServerState, port: number): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  const unimplemented = (_call: unknown, callback: (error: grpc.ServiceError) => void) =>
    callback(grpcError(grpc.status.UNIMPLEMENTED, 'not implemented by the double'));
  server.addService(streamsGrpc.StreamsService, {
    read: readHandler(state),
    append: appendHandler(state),
    batchAppend: batchAppendHandler(state),
    delete: unimplemented,
    tombstone: unimplemented,
  });
  server.addService(featuresGrpc.ServerFeaturesService, { getSupportedMethods: supportedMethodsHandler(state) });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  return { server, port: bound };
}

async function startSilent(port: number): Promise<EsdbDouble> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    // Read and discard: the connection stays open and nothing is ever answered.
    socket.resume();
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
  const stop = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `esdb://127.0.0.1:${bound}?tls=false`,
    port: bound,
    stop,
    restart: async () => {
      throw new Error('a silent double cannot restart');
    },
    openSubscriptions: () => 0,
    calls: () => ({}),
  };
}

export async function startEsdbDouble(options: EsdbDoubleOptions = {}): Promise<EsdbDouble> {
  if (options.silent) return startSilent(options.port ?? 0);
  const state: ServerState = {
    log: new Log(),
    serverVersion: options.serverVersion ?? '22.10.0',
    batchAppend: options.batchAppend ?? true,
    subscriptions: new Set(),
    calls: {},
  };
  let { server, port } = await listenGrpc(state, options.port ?? 0);
  let running = true;
  const stop = async () => {
    if (!running) return;
    running = false;
    // forceShutdown ends every call and connection at once, like a server that went away;
    // subscriptions are dropped with it.
    server.forceShutdown();
    state.subscriptions.clear();
  };
  return {
    url: `esdb://127.0.0.1:${port}?tls=false`,
    port,
    stop,
    restart: async () => {
      await stop();
      ({ server } = await listenGrpc(state, port));
      running = true;
    },
    openSubscriptions: () => state.subscriptions.size,
    calls: () => ({ ...state.calls }),
  };
}
