// Expiry is computed from an injected clock, never from timers: tests move the clock.
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/** A clock that follows the system clock plus an offset the test can move forward. */
export interface AdjustableClock {
  now: Clock;
  advance(ms: number): void;
}

export function createAdjustableClock(base: Clock = systemClock): AdjustableClock {
  let offset = 0;
  return {
    now: () => base() + offset,
    advance: (ms) => {
      offset += ms;
    },
  };
}
