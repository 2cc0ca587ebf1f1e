// The generic command handler (Emmett's shape): load one stream, fold it with evolve, decide on
// the new events, append them with the revision that was read. A concurrent writer makes the
// append fail with WrongExpectedVersionError; the handler then reloads and decides again, so
// single-use things (a code used once, a token claimed once) hold under any concurrency without
// locks. A decision that changes nothing appends nothing.
import { randomUUID } from 'node:crypto';
import { asDomainEvent, validateEvent, type DomainEvent } from '../events/catalogue.ts';
import {
  NO_STREAM,
  WrongExpectedVersionError,
  type EventMetadata,
  type EventStore,
  type RecordedEvent,
} from '../store/event-store.ts';
import { knownError } from '../errors.ts';

/** Pure functions that own one aggregate's rules. */
export interface Decider<State, Command, Event extends DomainEvent = DomainEvent> {
  initialState(): State;
  evolve(state: State, event: DomainEvent): State;
  /** Returns the new events, or throws a KnownError when the command is refused. */
  decide(command: Command, state: State): Event[];
}

export interface CommandResult<State> {
  /** State after the new events. */
  state: State;
  /** The events appended (empty when the decision changed nothing). */
  appended: DomainEvent[];
  /** Global position of the last event appended, for read-your-writes; undefined if none. */
  position: bigint | undefined;
}

export interface HandleOptions {
  /** How many times to reload and retry after a concurrent append. */
  maxAttempts?: number;
}

/**
 * Wait before the next try after losing a race: random in [0, 2^attempt ms], capped, so that
 * a burst of writers on one stream (e.g. concurrent guesses on one code) spreads out instead of
 * colliding again in lockstep ("full jitter").
 */
const backoffMs = (attempt: number): number => Math.random() * Math.min(100, 2 ** attempt);
const DEFAULT_MAX_ATTEMPTS = 12;

export function foldStream<State>(decider: Pick<Decider<State, unknown>, 'initialState' | 'evolve'>, events: readonly RecordedEvent[]): State {
  let state = decider.initialState();
  for (const recorded of events) {
    const event = asDomainEvent(recorded);
    if (event) state = decider.evolve(state, event);
  }
  return state;
}

export async function handleCommand<State, Command>(
  store: EventStore,
  streamId: string,
  decider: Decider<State, Command>,
  command: Command,
  metadata: EventMetadata,
  options: HandleOptions = {},
): Promise<CommandResult<State>> {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    const history = await store.readStream(streamId);
    const state = foldStream(decider, history);
    const decided = decider.decide(command, state);
    if (decided.length === 0) return { state, appended: [], position: undefined };
    const last = history.at(-1);
    const expected = last ? last.revision : NO_STREAM;
    const newEvents = decided.map((event) => ({
      id: randomUUID(),
      type: validateEvent(event).type,
      data: event.data,
      metadata,
    }));
    try {
      const result = await store.append(streamId, newEvents, expected, last ? { lastEvent: last } : {});
      const after = decided.reduce((s, e) => decider.evolve(s, e), state);
      return { state: after, appended: decided, position: result.position };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      if (attempt >= maxAttempts) throw knownError('CONCURRENT_MODIFICATION');
      await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
    }
  }
}
