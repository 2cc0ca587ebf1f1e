// An in-process double of EventStoreDB's gRPC protocol, so that the EventStoreDB adapter can be
// proven with the real `@eventstore/db-client` on a machine where no server can run. It is built
// from the client's OWN generated message classes and service definitions, so what goes over the
// wire is exactly what the client sends and expects. Its behaviour is held to the client's own
// stream tests (test/esdb-double-client.test.ts). One job per file under esdb-double/:
// - log.ts: `$all` in memory; expected revisions and idempotent retries; stream metadata
//   (`$maxCount`, `$maxAge`, `$tb`) applied on stream reads; soft delete (reads "not found", the
//   next append brings the stream back with its revisions going on) and tombstone (StreamDeleted
//   on every read, append and delete after it); links (`$>`) and what they point to.
// - append.ts: Append and BatchAppend, the maximum append size (the server's default 1,048,576
//   bytes of event data and metadata unless `maxAppendSize` says otherwise), BatchAppend's deadline.
// - read.ts, subscribe.ts, write.ts: reads of a stream or `$all`, subscriptions to `$all` (filters,
//   checkpoints every interval × window events looked at) and to a stream, links resolved when asked.
// - delete.ts: Delete and Tombstone.
// - Here: ServerFeatures.GetSupportedMethods (how the client chooses BatchAppend), start, stop
//   (every call dropped as when the node goes away: UNAVAILABLE on a unary Append, CANCELLED on
//   BatchAppend, as the client's own tests see from a killed server), restart, and `silent`: a
//   plain TCP server that accepts connections and never answers.
// A fresh log holds a few system events (`$`-typed, in `$`-streams) as a real node does, and
// positions are byte-offset-like (commit = prepare, growing by more than 1).
//
// What it does not do: TLS, authentication and ACLs, gossip/cluster (a single-host connection
// string skips gossip), persistent subscriptions, projections (so no `$ce-`/`$et-` streams; links
// exist only when a test writes `$>` events itself), operations, users, explicit transactions
// (commit != prepare), fell-behind notifications, scavenging (`$all` keeps truncated and deleted
// events, as a server does until it scavenges), and real durability (the log lives in memory;
// `restart()` keeps it). Every service and method it does not implement answers UNIMPLEMENTED at once.
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import streamsGrpc from '@eventstore/db-client/generated/streams_grpc_pb.js';
import featuresGrpc from '@eventstore/db-client/generated/serverfeatures_grpc_pb.js';
import featuresPb from '@eventstore/db-client/generated/serverfeatures_pb.js';
import type { Empty } from '@eventstore/db-client/generated/shared_pb.js';
import type { SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb.js';
import { appendHandler, batchAppendHandler } from './esdb-double/append.ts';
import { deleteHandler, tombstoneHandler } from './esdb-double/delete.ts';
import { DEFAULT_MAX_APPEND_SIZE, Log } from './esdb-double/log.ts';
import { readHandler } from './esdb-double/read.ts';
import { countCall, type ServerState } from './esdb-double/state.ts';

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
  /** The server's MaxAppendSize in bytes of event data and metadata (default 1,048,576, the server's default). */
  maxAppendSize?: number;
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
  // Every other service (persistent subscriptions, projections, operations, users, gossip, ...)
  // is left unregistered: grpc-js answers its calls UNIMPLEMENTED at once.
  server.addService(streamsGrpc.StreamsService, {
    read: readHandler(state),
    append: appendHandler(state),
    batchAppend: batchAppendHandler(state),
    delete: deleteHandler(state),
    tombstone: tombstoneHandler(state),
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
    maxAppendSize: options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE,
    subscriptions: new Set(),
    openAppends: new Set(),
    calls: {},
  };
  let { server, port } = await listenGrpc(state, options.port ?? 0);
  let running = true;
  const stop = async () => {
    if (!running) return;
    running = false;
    // What a client sees from a node that goes away: a unary Append still sending fails
    // UNAVAILABLE; forceShutdown then ends every other call and connection at once (BatchAppend
    // and subscriptions see CANCELLED, as from a killed server).
    for (const goneAway of [...state.openAppends]) goneAway();
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
