// The generic command handler (Emmett's shape): load one stream, fold it with evolve, decide on
// the new events, append them with the revision that was read. A concurrent writer makes the
// append fail with WrongExpectedVersionError; the handler then reloads and decides again, so
// single-use things (a code used once, a token claimed once) hold under any concurrency without
// locks. A decision that changes nothing appends nothing.
//
// Commands do not call it directly: each aggregate binds it once (`aggregate`, listed in
// aggregates.ts) with its stream category, so a command reads "decide this on that stream" and
// the ritual around it (the clock read once, who asked, waiting until queries see the write) is
// written here alone.
import { randomUUID } from 'node:crypto';
import { metadataFor, type Origin } from '../app-context.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { WriteVisibility } from '../projection-ports.ts';
import { streamName, type StreamCategory } from '../events/streams.ts';
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

/** What a bound command needs. Without the projections (the CLI, offline) no write is waited for. */
export interface CommandContext {
  store: EventStore;
  clock: Clock;
  projections?: WriteVisibility;
  config?: Pick<Config, 'PROJECTION_WAIT_MS'>;
}

export interface CommandCall {
  /** Who asked; recorded on the events with `projectId`, when given. */
  origin: Origin;
  projectId?: string;
  /** The instant of a flow that decides several commands as one; the clock's otherwise. */
  nowMs?: number;
  /**
   * false: nothing reads this write right away, or the flow waits once after its last write.
   * Otherwise the command returns only once queries see the write (complete -> poll).
   */
  settle?: boolean;
}

/** One aggregate's decider bound to its streams: the command ritual, written once. */
export interface Aggregate<State, Command> {
  streamOf(id: string): string;
  /** The state of one instance, folded from its stream (the write side). */
  load(ctx: Pick<CommandContext, 'store'>, id: string): Promise<State>;
  /** Decides `command` (given the command's instant) on the instance's stream and appends what it decided. */
  handle(ctx: CommandContext, id: string, command: (nowMs: number) => Command, call: CommandCall): Promise<CommandResult<State> & { nowMs: number }>;
}

export function aggregate<State, Command>(category: StreamCategory, decider: Decider<State, Command>): Aggregate<State, Command> {
  const streamOf = (id: string): string => streamName(category, id);
  return {
    streamOf,
    load: async (ctx, id) => foldStream(decider, await ctx.store.readStream(streamOf(id))),
    async handle(ctx, id, command, call) {
      const nowMs = call.nowMs ?? ctx.clock();
      const origin = call.projectId === undefined ? call.origin : { ...call.origin, projectId: call.projectId };
      const result = await handleCommand(ctx.store, streamOf(id), decider, command(nowMs), metadataFor(origin, nowMs));
      if (call.settle ?? true) await settle(ctx, result.position);
      return { ...result, nowMs };
    },
  };
}

/**
 * Waits until a write is visible to queries, so that the caller's next request reads it. The
 * write is durable before this is called; a slow projection only delays visibility, and is
 * logged by the runner.
 */
export async function settle(ctx: Pick<CommandContext, 'projections' | 'config'>, position: bigint | undefined): Promise<void> {
  if (position === undefined || !ctx.projections || !ctx.config) return;
  await ctx.projections.waitFor(position, ctx.config.PROJECTION_WAIT_MS);
}
