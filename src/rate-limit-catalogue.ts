// Every rate limit the service applies, with its default. A project may override any of them
// (`authlog project set-rate-limit`); what is not overridden keeps the default.
export const RATE_LIMIT_DEFAULTS = {
  'login-code-guesses-per-address': { limit: 10, windowMs: 60 * 60_000, what: 'failed login-code guesses per client address' },
  // Strangers can spend this one: it only ever refuses codes already found wrong (rate-limit.ts countFailure).
  'login-code-guesses-per-project': { limit: 300, windowMs: 10 * 60_000, what: 'failed login-code guesses per project (refuses wrong codes only)' },
  'cli-initiations-per-address': { limit: 30, windowMs: 10 * 60_000, what: 'CLI logins started per client address' },
  'cli-initiations-per-project': { limit: 1000, windowMs: 10 * 60_000, what: 'CLI logins started per project' },
  'cli-polls-per-code': { limit: 15, windowMs: 10_000, what: 'CLI polls per polling code' },
  'sign-in-sends-per-email': { limit: 5, windowMs: 15 * 60_000, what: 'sign-in codes sent per email address' },
  'sign-in-sends-per-address': { limit: 30, windowMs: 15 * 60_000, what: 'sign-in codes sent per client address' },
  'sign-in-sends-per-project': { limit: 1000, windowMs: 15 * 60_000, what: 'sign-in codes sent per project' },
  'sign-in-guesses-per-address': { limit: 30, windowMs: 10 * 60_000, what: 'failed sign-in guesses per client address' },
  'sign-in-guesses-per-email-address': { limit: 10, windowMs: 60 * 60_000, what: 'failed sign-in guesses per email and client address' },
  // Each anonymous sign-up appends a user and a session for free: bounded like CLI initiations.
  'anonymous-sign-ups-per-address': { limit: 30, windowMs: 10 * 60_000, what: 'anonymous sign-ups per client address' },
  'anonymous-sign-ups-per-project': { limit: 1000, windowMs: 10 * 60_000, what: 'anonymous sign-ups per project' },
} as const satisfies Record<string, { limit: number; windowMs: number; what: string }>;

export type RateLimitName = keyof typeof RATE_LIMIT_DEFAULTS;
export const RATE_LIMIT_NAMES = Object.keys(RATE_LIMIT_DEFAULTS) as RateLimitName[];

export interface RateLimitSetting {
  limit: number;
  windowMs: number;
}

/** A project's overrides, as its events record them. */
export type RateLimitOverrides = Partial<Record<RateLimitName, RateLimitSetting>>;

export function effectiveRateLimit(overrides: RateLimitOverrides | undefined, name: RateLimitName): RateLimitSetting {
  const { limit, windowMs } = overrides?.[name] ?? RATE_LIMIT_DEFAULTS[name];
  return { limit, windowMs };
}
