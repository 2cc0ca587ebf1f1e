// What the parent asks the load generator (bench/load-client.ts) to do, and what it answers.

/** One autocannon pass against one endpoint. */
export interface HttpLoadJob {
  kind: 'http';
  url: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  /** Sent with every request... */
  body?: string;
  /** ...or one of these per request, in turn (e.g. a different polling code each time). */
  bodies?: string[];
  /** Extra headers per request, in turn (e.g. a different refresh token each time). */
  headerSets?: Record<string, string>[];
  connections: number;
  durationS: number;
  /** Fixed rate (requests per second over all connections); absent: as fast as it goes. */
  overallRate?: number;
}

/** CLI logins in a loop: initiate -> complete with a browser session's refresh token -> poll. */
export interface CliLoginJob {
  kind: 'cli-login';
  url: string;
  clientHeaders: Record<string, string>;
  /** Refresh tokens of browser sessions that approve, used in turn. */
  approverRefreshTokens: string[];
  concurrency: number;
  durationS: number;
}

export type LoadJob = HttpLoadJob | CliLoginJob;

export interface LoadStats {
  /** Responses (HTTP passes) or completed logins (login loop). */
  count: number;
  durationS: number;
  /** count / durationS. */
  perSecond: number;
  /** Latency of every response (or whole login), in ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  non2xx: number;
  /** Connection errors and timeouts (HTTP) or failed logins (login loop). */
  errors: number;
  /** Share of responses that were 429, 0..1. */
  share429: number;
  /** CPU the load generator used, in % of one core (near 100: it may be what limits the pass). */
  clientCpuPct: number;
  /** The first unexpected answer, to say what went wrong. */
  firstFailure?: string;
}

export type LoadReply = { id: number; ok: true; result: LoadStats } | { id: number; ok: false; error: string };
