/**
 * A manual clock for the apply pipeline (src/apply/clock.ts): time stands still until the test advances it,
 * and `sleeping` shows what is waiting, so a test can assert that something waits, and for how long, without
 * waiting itself.
 */
import type { Clock } from '../../src/model/clock.js';

interface Sleeper {
  at: number;
  resolve: () => void;
}

/** Lets queued promise callbacks and setImmediate work (the batch queue cuts batches on setImmediate) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

export class ManualClock implements Clock {
  private t: number;
  private sleepers: Sleeper[] = [];

  constructor(start = 1_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.sleepers.push({ at: this.t + Math.max(0, ms), resolve }));
  }

  /** How long each pending sleep still has to go, shortest first. */
  get sleeping(): number[] {
    return this.sleepers.map((s) => s.at - this.t).sort((a, b) => a - b);
  }

  /** Moves time on by `ms`, waking (in time order) every sleep that is due, and lets what they start run. */
  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    for (;;) {
      const next = Math.min(...this.sleepers.map((s) => s.at));
      if (!(next <= until)) break;
      // Sleeps due at the same moment wake together, as timers due in the same tick do.
      this.t = Math.max(this.t, next);
      const due = this.sleepers.filter((s) => s.at === next);
      this.sleepers = this.sleepers.filter((s) => s.at !== next);
      for (const s of due) s.resolve();
      await settle();
    }
    this.t = until;
    await settle();
  }
}
