// The read-model port. Projections describe their writes as a list of absolute operations
// (set / delete / hash-field set / set-member add or remove): applying the same operations
// twice leaves the same state, so a batch replayed after a crash, or by a second instance,
// changes nothing. The adapter applies each event's operations and the new checkpoint as one
// atomic step, skipping events at or below the checkpoint.

import type { RateDecision } from './gcra.ts';
import type { RateTake, ReadStep, TakeAndReadResult, ThenTake } from './take-and-read.ts';
import { BackendUnavailableError } from '../backend-unavailable.ts';

export type ReadModelOp =
  /** Replace a string value. `expireAtMs` is an absolute epoch-ms expiry (PXAT), never relative. */
  | { op: 'set'; key: string; value: string; expireAtMs?: number }
  | { op: 'del'; key: string }
  /** Set some fields of a hash, leaving the others. `expireAtMs` (re)sets the whole key's expiry. */
  | { op: 'hset'; key: string; fields: Readonly<Record<string, string>>; expireAtMs?: number }
  | { op: 'sadd'; key: string; member: string }
  | { op: 'srem'; key: string; member: string };

/** Which event of the log a projected event is, so that a read model can be checked against a log. */
export interface EventRef {
  id: string;
  streamId: string;
  revision: bigint;
}

/** The operations one event produced, tagged with that event's global position. */
export interface ProjectedEvent {
  position: bigint;
  ops: readonly ReadModelOp[];
  /** The event itself; the generation keeps the one at its checkpoint (see ReadModelProvenance). */
  event?: EventRef;
}

/**
 * Where a generation comes from, read in one atomic step with its checkpoint: the log it was
 * built from and the event at its checkpoint. A read model is only used for a log it belongs to
 * (projections/read-model-verdict.ts).
 */
export interface ReadModelProvenance {
  /** The generation these describe (the live one, for ReadModel.provenance()). */
  generation: string;
  checkpoint: bigint;
  /** Absent when nothing was applied with a log identity yet (empty, or written before identities). */
  logId?: string;
  /** The event applied last, with its position; absent when unknown (written before identities). */
  checkpointEvent?: EventRef & { position: bigint };
}

/** Reads of one generation of the read model. Expired entries read as absent. */
export interface ReadModelQueries {
  get(key: string): Promise<string | undefined>;
  /** All fields of a hash; undefined when the key does not exist. */
  hgetall(key: string): Promise<Record<string, string> | undefined>;
  smembers(key: string): Promise<string[]>;
}

export interface ApplyOptions {
  /**
   * The checkpoint the caller last saw. A read model never moves back by itself, so one below it
   * lost data (Redis flushed or replaced): nothing is applied and ReadModelBehindError is thrown,
   * for the caller to project again from where the read model now stands. Without this check,
   * the next batch would land on the emptied model and move its checkpoint past everything lost.
   */
  expectAtLeast?: bigint;
  /**
   * The identity of the log the events come from. A generation records the first it is given
   * (atomically with the events) and refuses the events of any other log with
   * ReadModelOfAnotherLogError, nothing applied: an instance on another log never writes into it.
   */
  logId?: string;
}

/** Writes into one generation. */
export interface ReadModelWriter {
  /**
   * Applies, in order, every event whose position is above this generation's checkpoint,
   * together with the checkpoint moving to that event's position, atomically per event
   * (adapters may group several events into one atomic step). Returns the checkpoint after.
   */
  applyBatch(events: readonly ProjectedEvent[], options?: ApplyOptions): Promise<bigint>;
  /** This generation's checkpoint: the position of the last applied event, or -1n. */
  checkpoint(): Promise<bigint>;
  provenance(): Promise<ReadModelProvenance>;
}

/** A generation being rebuilt next to the live one; queries keep reading the live one. */
export interface NextGeneration extends ReadModelWriter {
  readonly id: string;
  /**
   * Atomically makes this generation the live one and drops the old one. With `ifLiveIs`, only
   * while that generation is still live: false, nothing switched, when another instance
   * switched first (the caller then judges the generation now live, and may discard this one).
   */
  activate(options?: { ifLiveIs?: string }): Promise<boolean>;
  /** Drops this generation without touching the live one. */
  discard(): Promise<void>;
}

export type { RateDecision } from './gcra.ts';
export type { RateTake, ReadStep, ReadStepValue, TakeAndReadResult, ThenTake } from './take-and-read.ts';

export interface ReadModel extends ReadModelQueries, ReadModelWriter {
  /** 'memory' or 'redis', for /ready and logs. */
  readonly kind: string;
  /**
   * A rate limit of `limit` per `windowMs` on `key` (a token bucket, gcra.ts), atomically: `add`
   * > 0 takes units or refuses, 0 only looks, < 0 gives units back. Not part of any generation.
   */
  rateTake(key: string, limit: number, windowMs: number, nowMs: number, add: number): Promise<RateDecision>;
  /**
   * One rate take (optional) and a chain of reads of the live generation, in one step (one round
   * trip to Redis): what a read request needs before its answer (take-and-read.ts). The reads are
   * made whether or not the take is allowed; the caller decides what a refusal means. `then`: a
   * second take after the reads, on a key that may be made of a value read (ThenTake).
   */
  takeAndRead(take: RateTake | undefined, reads: readonly ReadStep[], then?: ThenTake): Promise<TakeAndReadResult>;
  /** Starts an empty generation for a rebuild. */
  openNextGeneration(): Promise<NextGeneration>;
  /**
   * sha256 over every entry of the live generation (keys, values, hash fields, set members,
   * sorted; the checkpoint and expiries excluded), to compare a read model with a fresh replay.
   */
  digest(): Promise<string>;
  /** Throws ReadModelUnavailableError when the backend does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The read model's backend could not be reached or did not answer in time. */
export class ReadModelUnavailableError extends BackendUnavailableError {
  override readonly name = 'ReadModelUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('read_model', message, options);
  }
}

/** The read model is behind what the caller applied: it lost data. Nothing was applied. */
export class ReadModelBehindError extends Error {
  override readonly name = 'ReadModelBehindError';
  constructor(
    readonly checkpoint: bigint,
    readonly expectedAtLeast: bigint,
  ) {
    super(`read model checkpoint ${checkpoint} is behind ${expectedAtLeast}, which was applied before: it lost data`);
  }
}

/** The generation was built from another log than the events offered to it. Nothing was applied. */
export class ReadModelOfAnotherLogError extends Error {
  override readonly name = 'ReadModelOfAnotherLogError';
  constructor(
    readonly readModelLogId: string,
    readonly logId: string,
  ) {
    super(`read model was built from log ${readModelLogId}, not from log ${logId}: nothing applied`);
  }
}
