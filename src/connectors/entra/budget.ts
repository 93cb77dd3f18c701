/**
 * Graph's write budget is the hard limit of an apply: 3,000 writes per 150 s per app and tenant
 * (graph-facts §7). A token bucket paces writes to it instead of running into 429s and waiting out
 * Retry-After. It starts full (Graph's bucket does too when the app has been idle).
 */
import { realClock, type Clock } from '../../model/clock.js';
import type { WriteBudget } from '../../model/apply.js';

export type { WriteBudget } from '../../model/apply.js';

export const GRAPH_WRITE_BUDGET: WriteBudget = { writes: 3000, perSeconds: 150 };

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly capacity: number;
  private readonly perMs: number;
  private queue: Promise<void> = Promise.resolve();

  /** `startEmpty`: for a bucket switched on after Graph said the budget is spent. */
  constructor(
    budget: WriteBudget,
    private readonly clock: Clock = realClock,
    startEmpty = false,
  ) {
    this.capacity = budget.writes;
    this.tokens = startEmpty ? 0 : budget.writes;
    this.perMs = budget.writes / (budget.perSeconds * 1000);
    this.last = clock.now();
  }

  /** Resolves once `n` tokens are taken; callers are served in order. */
  take(n: number): Promise<void> {
    const want = Math.min(n, this.capacity);
    const p = this.queue.then(async () => {
      this.refill();
      if (this.tokens < want) {
        const waitMs = Math.ceil((want - this.tokens) / this.perMs);
        await this.clock.sleep(waitMs);
        this.refill();
      }
      this.tokens -= want;
    });
    this.queue = p;
    return p;
  }

  /** Tokens available now (for tests and progress). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const t = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + (t - this.last) * this.perMs);
    this.last = t;
  }
}
