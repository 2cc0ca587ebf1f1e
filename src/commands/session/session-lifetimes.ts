// How long sessions live, as upstream: 365 days by default, at most 367.
export const DEFAULT_SESSION_MS = 31_536_000_000;
export const MAX_SESSION_MS = 31_708_800_000;
