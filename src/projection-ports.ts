// What the rest of the service may ask of the projections, as ports the ProjectionRunner fits:
// a command waits until its write is visible to queries; the readiness check reads the lag and
// whether the read model is being rebuilt. Declared below both, so that commands stand beside
// the projections instead of above them (the composition root, main.ts, plugs the runner in).

/** The one thing a command asks of the projections. */
export interface WriteVisibility {
  /** Resolves true once every event up to `position` is applied to the read model, false after `timeoutMs`. */
  waitFor(position: bigint, timeoutMs: number): Promise<boolean>;
}

/** Whether a read model answers for this log (projections/read-model-verdict.ts judges it). */
export type Verdict =
  /** Built from this log, and its checkpoint event is this log's (or it is empty). */
  | 'same log'
  | 'another log'
  /** Its checkpoint is past the newest event of the log: the log was replaced by an older copy. */
  | 'ahead of its log'
  /** The log holds another event (or none) where its checkpoint event was: a copy written since. */
  | 'other history'
  /** From before log identities, and not at the log's head: nothing proves it is this history. */
  | 'unverifiable';

/** What the readiness check reads. */
export interface ProjectionStatus {
  lag(): Promise<{ events: bigint; checkpoint: bigint; head: bigint; ms: number }>;
  /** Set while the read model is rebuilt because it did not answer for this log. */
  readonly rebuildingBecause: Verdict | undefined;
}
