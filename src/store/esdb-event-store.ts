// The EventStore port on EventStoreDB / KurrentDB, through `@eventstore/db-client` 6.x.
//
// Most of it is a thin translation. What is not, and why:
// - Every call gets our own timeout: the client runs reads and subscriptions with no deadline and
//   an append to a silent server never settles, so without one a hung server hangs the service.
//   A timed-out read is cancelled; a timed-out append cannot be (the client multiplexes appends on
//   one BatchAppend call), so the append also carries the timeout as its server-side deadline.
// - Client 6.x cannot filter `readAll` on the server (only subscriptions take a filter), so reads
//   of `$all` filter here. System events (types starting with `$`) are always left out.
// - Subscriptions resubscribe from the last handled position after the server drops them, and
//   decide "caught up" themselves: servers before 23.10 never say so.
import {
  ANY as ESDB_ANY,
  BACKWARDS,
  CancelledError,
  DeadlineExceededError,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM as ESDB_NO_STREAM,
  NotLeaderError,
  START,
  STREAM_EXISTS as ESDB_STREAM_EXISTS,
  StreamNotFoundError,
  TimeoutError,
  UnavailableError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
  convertToCommandError,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AllStreamSubscription,
  type AppendExpectedRevision,
  type Filter,
  type JSONType,
  type Position,
  type RecordedEvent as EsdbRecordedEvent,
  type StreamingRead,
} from '@eventstore/db-client';
import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  StoreUnavailableError,
  WrongExpectedVersionError,
  matchesFilter,
  revisionMatches,
  type AllFilter,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type RecordedEvent,
  type Subscription,
  type SubscriptionHandler,
} from './event-store.ts';

export interface EsdbEventStoreOptions {
  /** How long any single call may wait for the server before failing with StoreUnavailableError. Default 5000. */
  callTimeoutMs?: number;
  logger?: (msg: string, fields?: Record<string, unknown>) => void;
}

const DEFAULT_CALL_TIMEOUT_MS = 5000;
const RESUBSCRIBE_INITIAL_MS = 100;
const RESUBSCRIBE_MAX_MS = 5000;
/** Positions are u64 on the wire; the server sends u64::MAX (-1 as a long) for "unknown". */
const MAX_KNOWN_POSITION = (1n << 63n) - 1n;

export function openEsdbEventStore(url: string, options: EsdbEventStoreOptions = {}): EventStore {
  return new EsdbEventStore(url, options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, options.logger ?? (() => {}));
}

/** Thrown out of a subscription's loop when the handler failed: that stops it, a server drop does not. */
class HandlerFailure extends Error {
  constructor(readonly error: unknown) {
    super('subscription handler failed');
  }
}

class EsdbEventStore implements EventStore {
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
      if (error instanceof EsdbWrongExpectedVersionError) {
        const actual = error.actualVersion;
        throw new WrongExpectedVersionError(streamId, expected, typeof actual === 'bigint' ? actual : NO_STREAM);
      }
      throw toStoreError(error, what);
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
      // The client reports a missing stream as an error while iterating, not as an empty read.
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.ensureOpen();
    return { [Symbol.asyncIterator]: () => this.readAllFrom(options) };
  }

  private async *readAllFrom({ fromPosition, filter, maxCount }: ReadAllOptions): AsyncGenerator<RecordedEvent> {
    if (maxCount !== undefined && maxCount <= 0) return;
    const after = fromPosition !== undefined && fromPosition >= 0n ? fromPosition : undefined;
    let delivered = 0;
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
      if (error instanceof StreamNotFoundError) return undefined;
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

interface SubscriptionDeps {
  client: EventStoreDBClient;
  timeoutMs: number;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  headPosition: (filter?: AllFilter) => Promise<bigint>;
  forget: () => void;
}

/**
 * Catch-up then live over `$all`. Delivers each event once, in order, awaiting the handler.
 * When the server drops the subscription (or does not confirm it in time) it resubscribes from the
 * last event it processed, with capped exponential backoff, and says so through the logger; the
 * subscription only stops on close() or when the handler throws (reported through onError).
 */
class EsdbSubscription implements Subscription {
  private closed = false;
  private current: AllStreamSubscription | undefined;
  private wakeUp: (() => void) | undefined;
  private inFlight: Promise<void> | undefined;
  /** The last event taken off the server, handled or filtered out: where a resubscription starts. */
  private resumeAfter: Position | undefined;
  private resumeCommit: bigint;
  /** The filtered head when the subscription started: reaching it means caught up. */
  private target: bigint | undefined;
  private caughtUp = false;

  constructor(
    private readonly deps: SubscriptionDeps,
    fromPosition: bigint | undefined,
    private readonly filter: AllFilter | undefined,
    private readonly handler: SubscriptionHandler,
  ) {
    const from = fromPosition !== undefined && fromPosition >= 0n ? fromPosition : undefined;
    this.resumeAfter = from === undefined ? undefined : { commit: from, prepare: from };
    this.resumeCommit = from ?? -1n;
    // run() handles its own failures; only a throwing logger or onError could get here.
    this.run().catch((error: unknown) => deps.log('EventStoreDB subscription loop failed', { error: describe(error) }));
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.wakeUp?.();
      const current = this.current;
      if (current) {
        await current.unsubscribe().catch(() => {});
        current.destroy();
      }
    }
    // A handler already running finishes; none starts after this.
    await this.inFlight?.catch(() => {});
    this.deps.forget();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      try {
        await this.subscribeOnce(() => {
          if (attempt > 0) this.deps.log('EventStoreDB subscription resumed', { after: this.resumeCommit.toString(), attempts: attempt });
          attempt = 0;
        });
        if (this.closed) break;
        throw new StoreUnavailableError('EventStoreDB ended the subscription');
      } catch (error) {
        if (this.closed) break;
        if (error instanceof HandlerFailure) {
          this.closed = true;
          this.deps.forget();
          this.deps.log('EventStoreDB subscription stopped: the handler failed', { error: describe(error.error) });
          this.handler.onError?.(error.error instanceof Error ? error.error : new Error(String(error.error)));
          break;
        }
        const delayMs = Math.min(RESUBSCRIBE_MAX_MS, RESUBSCRIBE_INITIAL_MS * 2 ** attempt);
        attempt += 1;
        this.deps.log('EventStoreDB subscription interrupted; resubscribing', {
          error: describe(toStoreError(error, 'subscription')),
          attempt,
          retryInMs: delayMs,
          after: this.resumeCommit.toString(),
        });
        await this.sleep(delayMs);
      }
    }
  }

  private async subscribeOnce(onConfirmed: () => void): Promise<void> {
    // Decided once, before the first subscription: what exists now is what "caught up" means.
    if (this.target === undefined) this.target = await this.deps.headPosition(this.filter);
    let processed = 0;
    let serverCaughtUpAt: number | undefined;
    this.checkCaughtUp(processed, serverCaughtUpAt);
    if (this.closed) return;

    const subscription = this.deps.client.subscribeToAll({
      fromPosition: this.resumeAfter ?? START,
      filter: serverFilter(this.filter),
      resolveLinkTos: false,
    });
    this.current = subscription;
    let taken = 0;
    // A hung server never confirms: treat that like a drop, so the backoff loop takes over.
    const confirmTimer = setTimeout(
      () => subscription.destroy(new StoreUnavailableError(`EventStoreDB did not confirm the subscription within ${this.deps.timeoutMs} ms`)),
      this.deps.timeoutMs,
    );
    subscription.once('confirmation', () => {
      clearTimeout(confirmTimer);
      onConfirmed();
    });
    // 23.10+ servers say when they switch to live. The client emits that as soon as it parses the
    // message, while events before it may still sit unhandled in the stream's buffer, so it only
    // counts once everything taken or buffered at that moment has been processed.
    subscription.on('caughtUp', () => {
      serverCaughtUpAt = taken + subscription.readableLength;
      this.checkCaughtUp(processed, serverCaughtUpAt);
    });
    try {
      for await (const resolved of subscription) {
        taken += 1;
        const event = resolved.event;
        if (event && isAfter(event.position, this.resumeAfter)) {
          if (accepts(event, this.filter)) {
            if (this.closed) return;
            const recorded = toRecorded(event);
            const handling = Promise.resolve().then(() => this.handler.onEvent(recorded));
            this.inFlight = handling;
            try {
              await handling;
            } catch (error) {
              throw new HandlerFailure(error);
            } finally {
              this.inFlight = undefined;
            }
          }
          this.resumeAfter = event.position;
          this.resumeCommit = event.position.commit;
        }
        processed += 1;
        if (this.closed) return;
        this.checkCaughtUp(processed, serverCaughtUpAt);
      }
    } finally {
      clearTimeout(confirmTimer);
      this.current = undefined;
      await subscription.unsubscribe().catch(() => {});
      subscription.destroy();
    }
  }

  private checkCaughtUp(processed: number, serverCaughtUpAt: number | undefined): void {
    if (this.caughtUp || this.closed) return;
    const reachedHead = this.target !== undefined && this.resumeCommit >= this.target;
    const serverSaysSo = serverCaughtUpAt !== undefined && processed >= serverCaughtUpAt;
    if (!reachedHead && !serverSaysSo) return;
    this.caughtUp = true;
    try {
      this.handler.onCaughtUp?.();
    } catch (error) {
      this.deps.log('onCaughtUp threw', { error: describe(error) });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakeUp = wake;
    });
  }
}

// ---------------------------------------------------------------------------------------------

function toEsdbExpected(expected: ExpectedRevision): AppendExpectedRevision {
  if (expected === NO_STREAM) return ESDB_NO_STREAM;
  if (expected === STREAM_EXISTS) return ESDB_STREAM_EXISTS;
  if (expected === ANY) return ESDB_ANY;
  return expected;
}

function toEventData(event: NewEvent) {
  return jsonEvent({
    id: event.id,
    type: event.type,
    // The client only JSON.stringifies data; JSONType is narrower than what JSON can hold.
    data: (event.data ?? null) as JSONType,
    metadata: { ...event.metadata },
  });
}

function toRecorded(event: EsdbRecordedEvent): RecordedEvent {
  return {
    id: event.id,
    type: event.type,
    data: event.data,
    metadata: toMetadata(event.metadata, event.created),
    streamId: event.streamId,
    revision: event.revision,
    // Servers before 22.x may leave stream reads without a position; -1n says "unknown".
    position: knownPosition(event.position?.commit) ?? -1n,
  };
}

/** Metadata this adapter wrote comes back as written; anything else gets at least `occurredAt`. */
function toMetadata(raw: unknown, created: Date): EventMetadata {
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !(raw instanceof Uint8Array)) {
    const metadata = raw as Partial<EventMetadata>; // a JSON object; written from EventMetadata by append()
    return typeof metadata.occurredAt === 'string' ? (metadata as EventMetadata) : { ...metadata, occurredAt: created.toISOString() };
  }
  return { occurredAt: created.toISOString() };
}

function knownPosition(commit: bigint | undefined): bigint | undefined {
  return commit === undefined || commit < 0n || commit > MAX_KNOWN_POSITION ? undefined : commit;
}

function accepts(event: { streamId: string; type: string }, filter: AllFilter | undefined): boolean {
  return !event.type.startsWith('$') && matchesFilter(event.streamId, event.type, filter);
}

/** The part of the filter the server can apply (one dimension); `accepts` applies the whole of it again. */
function serverFilter(filter: AllFilter | undefined): Filter {
  if (filter?.streamPrefixes && filter.streamPrefixes.length > 0) return streamNameFilter({ prefixes: [...filter.streamPrefixes] });
  if (filter?.eventTypes && filter.eventTypes.length > 0) return eventTypeFilter({ prefixes: [...filter.eventTypes] });
  return excludeSystemEvents();
}

function isAfter(position: Position, after: Position | undefined): boolean {
  if (!after) return true;
  return position.commit > after.commit || (position.commit === after.commit && position.prepare > after.prepare);
}

function toStoreError(error: unknown, what: string): unknown {
  if (error instanceof StoreUnavailableError || error instanceof WrongExpectedVersionError) return error;
  if (!(error instanceof Error)) return error;
  // An HTTP/2 stream or session torn down under a call (gRPC INTERNAL with RST_STREAM or a closed
  // session) is the connection failing, not the request: unavailable, to be retried.
  if ((error as { code?: unknown }).code === 13 && /RST_STREAM|Session closed|Stream removed|Connection dropped/i.test(error.message)) {
    return new StoreUnavailableError(`EventStoreDB ${what} failed: the connection broke (${error.message})`, { cause: error });
  }
  // Classifies raw gRPC errors too (a first call to a refused port fails with a bare code 14).
  const converted = convertToCommandError(error);
  if (
    converted instanceof UnavailableError ||
    converted instanceof DeadlineExceededError ||
    converted instanceof TimeoutError ||
    converted instanceof CancelledError ||
    converted instanceof NotLeaderError
  ) {
    return new StoreUnavailableError(`EventStoreDB ${what} failed: ${converted.message}`, { cause: error });
  }
  return converted;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
