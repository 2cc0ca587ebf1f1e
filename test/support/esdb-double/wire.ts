// Translations between the double's log and the client's generated protobuf messages, and the
// errors the server sends (as trailers the client's convertToCommandError reads).
import * as grpc from '@grpc/grpc-js';
import streamsPb from '@eventstore/db-client/generated/streams_pb.js';
import sharedPb from '@eventstore/db-client/generated/shared_pb.js';
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb.js';
import type { UUID } from '@eventstore/db-client/generated/shared_pb.js';
import type { Expected, ProposedEvent, StoredEvent } from './log.ts';

export function uuidString(uuid: UUID | undefined): string {
  if (!uuid) throw grpcError(grpc.status.INVALID_ARGUMENT, 'event without id');
  if (uuid.hasStructured()) {
    const s = uuid.getStructured();
    const hex = (BigInt.asUintN(64, BigInt(s?.getMostSignificantBits() ?? '0')).toString(16).padStart(16, '0') +
      BigInt.asUintN(64, BigInt(s?.getLeastSignificantBits() ?? '0')).toString(16).padStart(16, '0'));
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return uuid.getString();
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function bytes(value: Uint8Array | string): Uint8Array {
  // jspb hands bytes fields back as base64 strings when they were set that way.
  return typeof value === 'string' ? new Uint8Array(Buffer.from(value, 'base64')) : value;
}

interface ProposedMessageLike {
  getId(): UUID | undefined;
  getMetadataMap(): { get(key: string): string | undefined };
  getData(): Uint8Array | string;
  getCustomMetadata(): Uint8Array | string;
}

export function toProposed(message: ProposedMessageLike): ProposedEvent {
  const id = uuidString(message.getId());
  const type = message.getMetadataMap().get('type');
  const contentType = message.getMetadataMap().get('content-type');
  // The server refuses events without these (RequiredMetadataPropertyMissing) and ids that are not uuids.
  if (!UUID_PATTERN.test(id)) throw grpcError(grpc.status.INVALID_ARGUMENT, `event id ${id} is not a uuid`);
  if (!type || !contentType) {
    throw grpcError(grpc.status.INVALID_ARGUMENT, 'required metadata property missing: type, content-type', {
      exception: 'missing-required-metadata-property',
      'required-metadata-properties': 'type,content-type',
    });
  }
  return { id, type, contentType, data: bytes(message.getData()), customMetadata: bytes(message.getCustomMetadata()) };
}

/** A gRPC error as the server sends it: status, details, and the `exception` trailers the client maps to its error classes. */
export function grpcError(code: grpc.status, details: string, trailers: Record<string, string> = {}): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return Object.assign(new Error(details), { code, details, metadata });
}

export function streamDeletedError(name: string): grpc.ServiceError {
  return grpcError(grpc.status.FAILED_PRECONDITION, `Event stream '${name}' is deleted.`, { exception: 'stream-deleted', 'stream-name': name });
}

export function maxAppendSizeError(max: number): grpc.ServiceError {
  return grpcError(grpc.status.INVALID_ARGUMENT, `Maximum Append Size of ${max} Exceeded.`, {
    exception: 'maximum-append-size-exceeded',
    'maximum-append-size': String(max),
  });
}

/** The unary answer to a wrong expected revision in Delete/Tombstone (Append answers it in its response). */
export function wrongExpectedVersionError(name: string, expected: Expected, current: bigint): grpc.ServiceError {
  const trailers: Record<string, string> = { exception: 'wrong-expected-version', 'stream-name': name, 'expected-version': expectedAsNumber(expected).toString() };
  if (current >= 0n) trailers['actual-version'] = current.toString();
  return grpcError(grpc.status.FAILED_PRECONDITION, `Append failed due to WrongExpectedVersion. Stream: ${name}`, trailers);
}

function expectedAsNumber(expected: Expected): bigint {
  // The server's ExpectedVersion constants: Any -2, NoStream -1, StreamExists -4.
  if (expected.kind === 'revision') return expected.revision;
  return expected.kind === 'no_stream' ? -1n : expected.kind === 'stream_exists' ? -4n : -2n;
}

export function streamName(identifier: { getStreamName(): Uint8Array | string } | undefined): string {
  if (!identifier) throw grpcError(grpc.status.INVALID_ARGUMENT, 'missing stream identifier');
  return Buffer.from(bytes(identifier.getStreamName())).toString('utf8');
}

export function streamIdentifier(name: string) {
  return new sharedPb.StreamIdentifier().setStreamName(new Uint8Array(Buffer.from(name, 'utf8')));
}

interface ExpectedOptionsLike {
  hasNoStream(): boolean;
  hasStreamExists(): boolean;
}

/** Append/Delete/Tombstone options name an exact revision `revision`; BatchAppend names it `stream_position`. */
export function toExpected(options: ExpectedOptionsLike & ({ hasRevision(): boolean; getRevision(): string } | { hasStreamPosition(): boolean; getStreamPosition(): string })): Expected {
  if ('hasRevision' in options && options.hasRevision()) return { kind: 'revision', revision: BigInt(options.getRevision()) };
  if ('hasStreamPosition' in options && options.hasStreamPosition()) return { kind: 'revision', revision: BigInt(options.getStreamPosition()) };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  return { kind: 'any' };
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

/**
 * One event as the server sends it. A link read with resolveLinkTos carries the event it points
 * to as `event` and itself as `link`; a link whose target is gone carries only `link`.
 */
export function readEventResp(event: StoredEvent, resolved?: { target: StoredEvent | undefined }): ReadResp {
  const readEvent = new streamsPb.ReadResp.ReadEvent().setCommitPosition(event.position.toString());
  if (resolved) {
    readEvent.setLink(recordedEvent(event));
    if (resolved.target) readEvent.setEvent(recordedEvent(resolved.target));
  } else {
    readEvent.setEvent(recordedEvent(event));
  }
  return new streamsPb.ReadResp().setEvent(readEvent);
}

export type EventFilter = (event: StoredEvent) => boolean;

export function eventFilter(options: ReadReq.Options): EventFilter {
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
