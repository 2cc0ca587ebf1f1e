// Which streams are ephemeral, and when one stops mattering. A CLI attempt, a login code's
// reservation and a sign-in code each carry their expiry in every event they hold (the
// attempt's, the reservation's, the code's), and nothing reads them once that has passed long
// enough: the session a login made keeps its own record (its cliAuthId, its signInCodeStream are
// just ids), and the audit reads only session streams. So whole streams of these three
// categories can be dropped after their expiry plus a grace (SQLite prune, EventStoreDB
// `$maxAge`). Every other category (projects, users, email reservations, sessions, and the
// per-email guess budgets of signInEmail, which span codes) is kept for ever.
import type { StreamCategory } from './streams.ts';

export const EPHEMERAL_CATEGORIES = ['cliAuth', 'cliLoginCode', 'signInCode'] as const satisfies readonly StreamCategory[];

/** Stream-name prefixes of the ephemeral categories. */
export const EPHEMERAL_STREAM_PREFIXES: readonly string[] = EPHEMERAL_CATEGORIES.map((c) => `${c}-`);

/** The event fields that name the instant a stream of these categories expires. */
export const EXPIRY_FIELDS = ['expiresAtMillis', 'attemptExpiresAtMillis', 'codeExpiresAtMillis'] as const;

/**
 * How long past its expiry an ephemeral stream is kept: two days, so that yesterday's failed
 * login can still be looked at in the events API, and far past every lifetime (an attempt's 15
 * minutes, a code's hour) and every rate-limit window that could still count it.
 */
export const DEFAULT_EPHEMERAL_GRACE_MS = 2 * 24 * 3600_000;

export const isEphemeralStream = (streamId: string): boolean => EPHEMERAL_STREAM_PREFIXES.some((p) => streamId.startsWith(p));

/** The expiry an event's data names, if any. */
export function expiryOf(data: unknown): number | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const record = data as Record<string, unknown>;
  for (const field of EXPIRY_FIELDS) {
    const value = record[field];
    if (typeof value === 'number' && Number.isFinite(value)) return value;
  }
  return undefined;
}
