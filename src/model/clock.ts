/**
 * Time as the apply pipeline sees it: pacing (the write budget), Retry-After pauses and backoff read the time
 * and wait through a Clock, so tests can drive them with a manual clock instead of waiting. Production uses
 * the real one.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
