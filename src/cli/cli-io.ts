// Where a command writes: results to stdout, messages and progress to stderr.
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Whether stderr is a terminal (progress bars) or a file or pipe (plain lines). */
  isTty: boolean;
}
