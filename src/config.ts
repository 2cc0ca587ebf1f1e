// Environment -> typed configuration. Every variable has a default for the embedded mode except
// the production ones; a bad value stops the start with one line naming the variable.
import { z } from 'zod';
import { parseTrustProxy } from './trust-proxy.ts';

const wholeNumber = (max: number) => {
  const message = `must be a whole number from 0 to ${max}`;
  return z.string().regex(/^\d{1,9}$/, message).transform(Number).pipe(z.number().max(max, message));
};
const port = wholeNumber(65535);
const url = (schemes: readonly string[]) =>
  z.string().refine((v) => {
    try {
      return schemes.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `must be a URL starting with ${schemes.map((s) => s + '//').join(' or ')}`);

const configSchema = z.object({
  PORT: port.default(8102),
  HOST: z.string().min(1).default('127.0.0.1'),
  AUTHLOG_DATA_DIR: z.string().min(1).default('./.authlog'),
  EVENTSTORE_URL: url(['esdb:', 'esdb+discover:', 'kurrentdb:', 'kurrent:']).optional(),
  /** The most any one EventStoreDB call may take before it fails as unavailable (503). */
  EVENTSTORE_TIMEOUT_MS: wholeNumber(60_000).default(2500),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'must be letters, digits and _ . : -').default('authlog'),
  AUTHLOG_SECRET: z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -base64 48`)').optional(),
  /** The secret AUTHLOG_SECRET replaced: its digests are still found and its access tokens still verify. */
  AUTHLOG_SECRET_PREVIOUS: z.string().min(32, 'must be at least 32 characters (the secret AUTHLOG_SECRET replaced)').optional(),
  SMTP_URL: url(['smtp:', 'smtps:']).optional(),
  SMTP_FROM: z.string().min(3).default('authlog <noreply@localhost>'),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent'], 'must be one of debug, info, warn, error, silent').default('info'),
  /** Bearer token that GET /metrics requires. Metrics are served only when this or METRICS_PORT is set. */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Serve GET /metrics on this port (on HOST) instead of the API's port; 0 picks a free one. */
  METRICS_PORT: port.optional(),
  /** How long in-flight requests get to finish on SIGTERM/SIGINT before their connections are cut (ms). */
  SHUTDOWN_DRAIN_MS: wholeNumber(60_000).default(5000),
  /**
   * Days a client's address and user agent stay readable in the log (they are sealed under a key
   * per day, deleted after this); 0 records neither.
   */
  ORIGIN_RETENTION_DAYS: wholeNumber(3650).default(90),
  /**
   * Hours past their expiry that CLI attempts, login-code reservations and sign-in codes are kept
   * (SQLite: then pruned; EventStoreDB: their streams' `$maxAge`, then scavenged).
   */
  EPHEMERAL_RETENTION_HOURS: wholeNumber(87_600).default(48),
  /**
   * How often the in-process read model (no REDIS_URL) writes its snapshot to AUTHLOG_DATA_DIR
   * while the log grows (seconds), so a start replays only the log's tail; 0 = never (and a start
   * replays the whole log).
   */
  SNAPSHOT_INTERVAL_SECONDS: wholeNumber(86_400).default(300),
  /** How often `serve` prunes an embedded (SQLite) log of expired ephemeral streams (minutes); 0 = never. */
  PRUNE_INTERVAL_MINUTES: wholeNumber(525_600).default(60),
  /** Which proxies' X-Forwarded-For to believe: unset = none (the TCP peer is the client), a hop count, or CIDRs. */
  TRUST_PROXY: z
    .string()
    .superRefine((v, ctx) => {
      const parsed = parseTrustProxy(v);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
    })
    .optional(),
  /** How often `serve` writes a signed checkpoint of the log when it has grown (seconds); 0 = not by time. */
  CHECKPOINT_INTERVAL_SECONDS: wholeNumber(86_400).default(300),
  /** `serve` also writes one after this many appended events; 0 = not by count. */
  CHECKPOINT_EVERY_EVENTS: wholeNumber(100_000_000).default(10_000),
  /** How long a write waits for its projection before answering anyway (ms). */
  PROJECTION_WAIT_MS: wholeNumber(60_000).default(5000),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment; throws a ConfigError whose message is one line naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset": `FOO= npm start` should not be a validation error.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = configSchema.safeParse(present);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = String(issue?.path[0] ?? 'environment');
  const shown = name.includes('SECRET') || name.includes('TOKEN') || name.includes('URL') ? '' : ` (got ${JSON.stringify(present[name])})`;
  throw new ConfigError(`Invalid configuration: ${name} ${issue?.message ?? 'is invalid'}${shown}`);
}
