/**
 * `--lock-timeout`: a second apply while the lock is held waits for it, polling, up to a bound, instead of
 * failing at once. Time goes through a Clock (src/apply/clock.ts), so tests drive the wait without waiting.
 */
import type { Clock } from '../apply/clock.js';
import { AdsyncError } from '../errors.js';

/** The lock errors worth waiting on: the apply lock file (apply_locked) and the state lock/lease (state_locked). */
export function isLockedError(err: unknown): err is AdsyncError {
  return err instanceof AdsyncError && (err.code === 'apply_locked' || err.code === 'state_locked');
}

export interface WaitOptions {
  /** How long to keep trying, in ms; 0: one attempt. */
  timeoutMs: number;
  clock: Clock;
  /** Between attempts (default 5 s; never past the deadline). */
  pollMs?: number;
  /** Called once, when the first attempt finds the lock held. */
  onWait?: (err: AdsyncError) => void;
}

export async function waitForLock<T>(take: () => Promise<T> | T, options: WaitOptions): Promise<T> {
  const start = options.clock.now();
  const deadline = start + Math.max(0, options.timeoutMs);
  const poll = Math.max(1, options.pollMs ?? 5_000);
  let waiting = false;
  for (;;) {
    try {
      return await take();
    } catch (err) {
      if (!isLockedError(err)) throw err;
      const now = options.clock.now();
      if (now >= deadline) {
        if (!waiting) throw err;
        throw new AdsyncError(err.code, `${err.message}; gave up after waiting ${formatMs(now - start)}`, {
          ...(err.hint ? { hint: err.hint } : {}),
        });
      }
      if (!waiting) options.onWait?.(err);
      waiting = true;
      await options.clock.sleep(Math.min(poll, deadline - now));
    }
  }
}

export function formatMs(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

/** `--lock-timeout` values: `90`, `90s`, `5m`, `1h`. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}
