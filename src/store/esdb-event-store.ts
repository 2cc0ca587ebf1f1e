// The EventStore port on EventStoreDB / KurrentDB, through `@eventstore/db-client` 6.x.
//
// Most of it is a thin translation. What is not, and why:
// - Every call gets our own timeout: the client runs reads and subscriptions with no deadline and
//   an append to a silent server never settles, so without one a hung server hangs the service.
//   A timed-out read is cancelled; a timed-out append cannot be (the client multiplexes appends on
//   one BatchAppend call), so the append also carries the timeout as its server-side deadline.
// - Client 6.x cannot filter `readAll` on the server (only subscriptions take a filter), so reads
//   of `$all` filter here; a read by type is a filtered subscription (esdb-type-read.ts). System
//   events (types starting with `$`) are always left out.
// - Subscriptions resubscribe from the last handled position after the server drops them, and
//   decide "caught up" themselves: servers before 23.10 never say so (esdb-subscription.ts).
// The translations of types and errors are in esdb-mapping.ts. The rest is one idea, the port's
// calls on one client, each under our deadline, and stays together (a little over 300 lines).
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  START,
  StreamDeletedError as EsdbStreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
  type StreamingRead,
} from '@eventstore/db-client';
import {
  ANY,
  NO_STREAM,
  StoreUnavailableError,
  StreamDeletedError,
  WrongExpectedVersionError,
  revisionMatches,
  type AllFilter,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type RecordedEvent,
  type Subscription,
  type SubscriptionHandler,
} from './event-store.ts';
import { toEsdbExpected, toEventData, toRecorded, knownPosition, accepts, toStoreError } from './esdb-mapping.ts';
import { EsdbSubscription } from './esdb-subscription.ts';
import { readByTypeOnServer } from './esdb-type-read.ts';
import { logIdentityInStream } from './log-identity.ts';
import type { DeleteExpectedRevision, StreamRetention, StreamRetentionMetadata } from './stream-retention.ts';

export interface EsdbEventStoreOptions {
  /** How long any single call may wait for the server before failing with StoreUnavailableError. Default 5000. */
  callTimeoutMs?: number;
  logger?: (msg: string, fields?: Record<string, unknown>) => void;
}

const DEFAULT_CALL_TIMEOUT_MS = 5000;

export function openEsdbEventStore(url: string, options: EsdbEventStoreOptions = {}): EventStore & StreamRetention {
  return new EsdbEventStore(url, options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, options.logger ?? (() => {}));
}


class EsdbEventStore implements EventStore, StreamRetention {
  private readonly client: EventStoreDBClient;
  private readonly subscriptions = new Set<EsdbSubscription>();
  /** Calls still waiting for the server: close() fails them now rather than at their timeout. */
  private readonly waiting = new Set<() => void>();
  private closed = false;

  constructor(
    url: string,
    private readonly timeoutMs: number,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {
    this.client = EventStoreDBClient.connectionString(url);
  }

  async append(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    this.ensureOpen();
    if (events.length === 0) return this.checkOnly(streamId, expected);
    const what = `append to ${streamId}`;
    let result;
    try {
      result = await this.withTimeout(
        what,
        this.client.appendToStream(streamId, events.map(toEventData), {
          expectedRevision: toEsdbExpected(expected),
          // Also the server-side deadline of a BatchAppend: the server gives up on the write
          // about when we do, which narrows the window for "timed out here, written there".
          deadline: this.timeoutMs,
        }),
      );
    } catch (error) {
      throw appendError(error, streamId, expected, what);
    }
    // An append the server recognised as a retry (same event ids) comes back without a position.
    const position = knownPosition(result.position?.commit) ?? (await this.positionOfRevision(streamId, result.nextExpectedRevision));
    return { nextExpectedRevision: result.nextExpectedRevision, position };
  }

  async readStream(streamId: string): Promise<RecordedEvent[]> {
    this.ensureOpen();
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of this.guardedRead(`read of ${streamId}`, () =>
        this.client.readStream(streamId, { fromRevision: START, direction: FORWARDS }),
      )) {
        if (resolved.event) events.push(toRecorded(resolved.event));
      }
    } catch (error) {
      // The client reports a missing stream as an error while iterating, not as an empty read;
      // a tombstoned stream reads as missing too (appends to it fail with StreamDeletedError).
      if (error instanceof StreamNotFoundError || error instanceof EsdbStreamDeletedError) return [];
      throw error;
    }
    return events;
  }

  async deleteStream(streamId: string, expected: DeleteExpectedRevision = ANY): Promise<void> {
    await this.administer(`delete of ${streamId}`, streamId, expected, () =>
      this.client.deleteStream(streamId, { expectedRevision: expected, deadline: this.timeoutMs }),
    );
  }

  async tombstoneStream(streamId: string, expected: DeleteExpectedRevision = ANY): Promise<void> {
    await this.administer(`tombstone of ${streamId}`, streamId, expected, () =>
      this.client.tombstoneStream(streamId, { expectedRevision: expected, deadline: this.timeoutMs }),
    );
  }

  async setStreamMetadata(streamId: string, metadata: StreamRetentionMetadata): Promise<void> {
    await this.administer(`metadata of ${streamId}`, streamId, ANY, () => this.client.setStreamMetadata(streamId, { ...metadata }, { deadline: this.timeoutMs }));
  }

  private async administer(what: string, streamId: string, expected: ExpectedRevision, call: () => Promise<unknown>): Promise<void> {
    this.ensureOpen();
    try {
      await this.withTimeout(what, call());
    } catch (error) {
      throw appendError(error, streamId, expected, what);
    }
  }

  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.ensureOpen();
    return { [Symbol.asyncIterator]: () => this.readAllFrom(options) };
  }

  private async *readAllFrom({ fromPosition, filter, maxCount, byType }: ReadAllOptions): AsyncGenerator<RecordedEvent> {
    if (maxCount !== undefined && maxCount <= 0) return;
    const after = fromPosition !== undefined && fromPosition >= 0n ? fromPosition : undefined;
    let delivered = 0;
    if (byType && filter?.eventTypes && filter.eventTypes.length > 0) {
      const last = await this.headPosition(filter);
      const step = <T>(what: string, next: Promise<T>) => this.withTimeout(what, next);
      for await (const event of readByTypeOnServer({ client: this.client, filter, after, last, step })) {
        yield event;
        if (maxCount !== undefined && ++delivered >= maxCount) return;
      }
      return;
    }
    // No maxCount to the server: it would count the events we filter out here.
    const reads = this.guardedRead('read of $all', () =>
      this.client.readAll({
        fromPosition: after === undefined ? START : { commit: after, prepare: after },
        direction: FORWARDS,
        resolveLinkTos: false,
      }),
    );
    for await (const resolved of reads) {
      const event = resolved.event;
      if (!event) continue;
      // The server reads forwards from a position inclusively; the port's fromPosition is exclusive.
      if (after !== undefined && event.position.commit <= after) continue;
      if (!accepts(event, filter)) continue;
      yield toRecorded(event);
      delivered += 1;
      if (maxCount !== undefined && delivered >= maxCount) return;
    }
  }

  async headPosition(filter?: AllFilter): Promise<bigint> {
    this.ensureOpen();
    // Newest first, stopping at the first match; the read is cancelled when we stop.
    for await (const resolved of this.guardedRead('read of $all backwards', () =>
      this.client.readAll({ fromPosition: END, direction: BACKWARDS, resolveLinkTos: false }),
    )) {
      const event = resolved.event;
      if (event && accepts(event, filter)) return event.position.commit;
    }
    return -1n;
  }

  subscribeToAll(options: { fromPosition?: bigint; filter?: AllFilter }, handler: SubscriptionHandler): Subscription {
    this.ensureOpen();
    const subscription: EsdbSubscription = new EsdbSubscription(
      {
        client: this.client,
        timeoutMs: this.timeoutMs,
        log: this.log,
        headPosition: (filter) => this.headPosition(filter),
        forget: () => this.subscriptions.delete(subscription),
      },
      options.fromPosition,
      options.filter,
      handler,
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Read from the server each time, not cached: a server replaced under the same URL is noticed. */
  logIdentity(): Promise<string> {
    this.ensureOpen();
    return logIdentityInStream(this);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const fail of [...this.waiting]) fail();
    await Promise.allSettled([...this.subscriptions].map((s) => s.close()));
    await this.client.dispose();
  }

  private ensureOpen(): void {
    if (this.closed) throw new StoreUnavailableError('EventStoreDB event store is closed');
  }

  /** An append of nothing: EventStoreDB checks the expected revision and reports the stream's state. */
  private async checkOnly(streamId: string, expected: ExpectedRevision): Promise<AppendResult> {
    const last = await this.lastOfStream(streamId);
    const current = last?.revision ?? -1n;
    if (!revisionMatches(expected, current)) {
      throw new WrongExpectedVersionError(streamId, expected, current < 0n ? NO_STREAM : current);
    }
    return { nextExpectedRevision: current, position: last?.position ?? -1n };
  }

  private async lastOfStream(streamId: string): Promise<RecordedEvent | undefined> {
    try {
      for await (const resolved of this.guardedRead(`read of ${streamId}`, () =>
        this.client.readStream(streamId, { fromRevision: END, direction: BACKWARDS, maxCount: 1 }),
      )) {
        if (resolved.event) return toRecorded(resolved.event);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError || error instanceof EsdbStreamDeletedError) return undefined;
      throw error;
    }
    return undefined;
  }

  private async positionOfRevision(streamId: string, revision: bigint): Promise<bigint> {
    for await (const resolved of this.guardedRead(`read of ${streamId}@${revision}`, () =>
      this.client.readStream(streamId, { fromRevision: revision, direction: FORWARDS, maxCount: 1 }),
    )) {
      if (resolved.event) return toRecorded(resolved.event).position;
    }
    return -1n;
  }

  /**
   * Iterates a client read, failing with StoreUnavailableError when the server leaves us waiting
   * longer than the call timeout for the next message, and cancelling the gRPC call whenever the
   * iteration ends early (timeout, error, or the consumer stopped).
   */
  private async *guardedRead<E>(what: string, open: () => StreamingRead<E>): AsyncGenerator<E> {
    const read = open();
    const iterator = read[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        const next = await this.withTimeout(what, iterator.next());
        if (next.done) {
          finished = true;
          return;
        }
        yield next.value;
      }
    } catch (error) {
      throw toStoreError(error, what);
    } finally {
      if (!finished) await read.cancel().catch(() => {});
      read.destroy();
    }
  }

  private withTimeout<T>(what: string, promise: Promise<T>): Promise<T> {
    // If we give up first, the call may still fail later: that must not be an unhandled rejection.
    promise.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    let onClose: (() => void) | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`EventStoreDB did not answer the ${what} within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      onClose = () => reject(new StoreUnavailableError(`EventStoreDB event store closed during the ${what}`));
      this.waiting.add(onClose);
    });
    return Promise.race([promise, timeout]).finally(() => {
      clearTimeout(timer);
      if (onClose) this.waiting.delete(onClose);
    });
  }
}

/** A failed append in the port's terms: a conflict, a deleted stream, or the store unavailable. */
function appendError(error: unknown, streamId: string, expected: ExpectedRevision, what: string): unknown {
  if (error instanceof EsdbWrongExpectedVersionError) {
    const actual = error.actualVersion;
    return new WrongExpectedVersionError(streamId, expected, typeof actual === 'bigint' ? actual : NO_STREAM);
  }
  if (error instanceof EsdbStreamDeletedError) return new StreamDeletedError(streamId);
  return toStoreError(error, what);
}
