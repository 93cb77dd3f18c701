/**
 * Sends single Graph requests through `POST /$batch`: callers submit one request and await its own
 * response; the queue packs up to 20 into a batch, keeps a few batches in flight, correlates responses by
 * id (Graph may reorder them), and retries per request:
 *  - 429 (also inside a batch) waits Retry-After and pauses the whole queue, since the limit is per app+tenant;
 *  - 503/504 wait Retry-After or back off with jitter;
 *  - 404 right after a create (replication lag) backs off, when the caller says the request may hit lag.
 * Every retry is bounded. HTTP failures are returned as responses (never thrown), so callers decide what a
 * status means for their change.
 */
import type { WriteBudget } from './budget.js';
import { GRAPH_WRITE_BUDGET, TokenBucket } from './budget.js';
import { realClock, type Clock } from '../../model/clock.js';
import { backoffMs, retryAfterMs } from './retry.js';

export { headerValue } from './retry.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface BatchRequest {
  id: string;
  method: HttpMethod;
  /** Relative to the version root, e.g. `/users` or `/groups/{id}/members/{mid}/$ref`. */
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface SubResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface BatchResponseItem extends SubResponse {
  id: string;
}

/** Sends one `$batch`; throws when the batch as a whole fails (its error should carry `status` and `headers`). */
export interface BatchTransport {
  postBatch(requests: BatchRequest[]): Promise<BatchResponseItem[]>;
}

export interface SubmitOptions {
  /** Retry a 404 with backoff: the request touches an object created moments ago (replication lag). */
  mayLag?: boolean;
  /** Retry when this says so (e.g. a just-registered extension property not yet known everywhere). */
  retryIf?: (response: SubResponse) => boolean;
}

export interface QueueOptions {
  /** Batches in flight (default 4). */
  concurrency?: number;
  /** Requests per batch (Graph's maximum, 20, by default). */
  batchSize?: number;
  /** Pace writes (POST/PATCH/PUT/DELETE) to this budget; null = unpaced. */
  writeBudget?: WriteBudget | null;
  /**
   * When writes are unpaced and Graph answers a write with 429, start pacing to this budget (from empty):
   * retrying into a spent write budget only earns more 429s. Default: Graph's 3,000 writes / 150 s.
   */
  adaptiveWriteBudget?: WriteBudget | null;
  /** Attempts per request on 503/504 and failed batches (default 12). */
  maxTransientAttempts?: number;
  /** Attempts per request on 429 (default 40): each waits the Retry-After Graph asked for. */
  maxThrottleAttempts?: number;
  /** Attempts per request on replication-lag 404s (default 9: about 45 s of backoff in all). */
  maxLagAttempts?: number;
  /** Base of the exponential backoff in ms (default 500). */
  backoffBaseMs?: number;
  /** Upper bound of one backoff in ms (default 15,000; Retry-After is honoured up to 180 s as the SDK does). */
  backoffCapMs?: number;
  onRetry?: (event: { url: string; method: string; status: number; attempt: number; delayMs: number }) => void;
  /** Called when writes start being paced after a 429. */
  onPacing?: (budget: WriteBudget) => void;
  /** What pacing, Retry-After pauses and backoff wait on (default: the real clock; tests pass a manual one). */
  clock?: Clock;
}

interface Item {
  req: Omit<BatchRequest, 'id'>;
  opts: SubmitOptions;
  throttleAttempts: number;
  transientAttempts: number;
  lagAttempts: number;
  resolve: (r: SubResponse) => void;
}

const isWrite = (m: HttpMethod): boolean => m !== 'GET';

export class BatchQueue {
  /** HTTP requests sent (one per batch). */
  requests = 0;
  /** Sub-requests that were writes, each time they were sent (Graph's budget counts retries too). */
  writes = 0;
  /** Sub-requests sent, retries included. */
  subRequests = 0;
  retries = 0;
  throttled = 0;

  private readonly pending: Item[] = [];
  private inFlight = 0;
  private pausedUntil = 0;
  private pumpScheduled = false;
  private pauseTimer = false;
  private bucket: TokenBucket | undefined;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private nextId = 0;
  private readonly clock: Clock;

  constructor(
    private readonly transport: BatchTransport,
    private readonly options: QueueOptions = {},
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.batchSize = Math.min(20, Math.max(1, options.batchSize ?? 20));
    this.clock = options.clock ?? realClock;
    this.bucket = options.writeBudget ? new TokenBucket(options.writeBudget, this.clock) : undefined;
  }

  submit(req: Omit<BatchRequest, 'id'>, opts: SubmitOptions = {}): Promise<SubResponse> {
    return new Promise((resolve) => {
      this.pending.push({ req, opts, throttleAttempts: 0, transientAttempts: 0, lagAttempts: 0, resolve });
      this.schedulePump();
    });
  }

  /** Let callers in the same tick add their requests before a batch is cut. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const now = this.clock.now();
    if (this.pausedUntil > now) {
      if (!this.pauseTimer) {
        this.pauseTimer = true;
        void this.clock.sleep(this.pausedUntil - now).then(() => {
          this.pauseTimer = false;
          this.pump();
        });
      }
      return;
    }
    while (this.inFlight < this.concurrency && this.pending.length > 0) {
      const items = this.pending.splice(0, this.batchSize);
      this.inFlight++;
      void this.dispatch(items).finally(() => {
        this.inFlight--;
        if (this.pending.length > 0) this.schedulePump();
      });
    }
  }

  private async dispatch(items: Item[]): Promise<void> {
    const writes = items.filter((i) => isWrite(i.req.method)).length;
    if (this.bucket !== undefined && writes > 0) await this.bucket.take(writes);
    const requests: BatchRequest[] = items.map((i) => {
      const id = String(++this.nextId);
      const r: BatchRequest = { id, method: i.req.method, url: i.req.url };
      if (i.req.body !== undefined) {
        r.body = i.req.body;
        r.headers = { 'Content-Type': 'application/json', ...i.req.headers };
      } else if (i.req.headers !== undefined) {
        r.headers = i.req.headers;
      }
      return r;
    });
    this.requests++;
    this.subRequests += items.length;
    this.writes += writes;
    let responses: BatchResponseItem[];
    try {
      responses = await this.transport.postBatch(requests);
    } catch (err) {
      // The batch as a whole failed (throttled, 5xx, network): every request in it is retried, bounded.
      const e = err as { status?: number; headers?: Record<string, string>; code?: string; message?: string };
      const status = typeof e.status === 'number' ? e.status : -1;
      const synthetic: SubResponse = {
        status,
        headers: e.headers ?? {},
        body: { error: { code: e.code ?? 'BatchFailed', message: e.message ?? String(err) } },
      };
      const retriable = status === -1 || status === 429 || status >= 500;
      for (const item of items)
        this.settle(item, retriable ? synthetic : { ...synthetic, status: status === -1 ? 599 : status }, retriable);
      return;
    }
    const byId = new Map(responses.map((r) => [String(r.id), r]));
    items.forEach((item, i) => {
      const r = byId.get(requests[i]!.id);
      if (r === undefined) {
        this.settle(
          item,
          {
            status: 599,
            headers: {},
            body: {
              error: { code: 'MissingBatchResponse', message: 'no response for this request in the $batch reply' },
            },
          },
          true,
        );
      } else {
        this.settle(item, { status: r.status, headers: r.headers ?? {}, body: r.body }, false);
      }
    });
  }

  /** Resolve an item, or put it back after a delay. `wholeBatchFailed`: retry as transient whatever the status. */
  private settle(item: Item, res: SubResponse, wholeBatchFailed: boolean): void {
    const maxTransient = this.options.maxTransientAttempts ?? 12;
    const maxLag = this.options.maxLagAttempts ?? 9;
    const base = this.options.backoffBaseMs ?? 500;
    const cap = this.options.backoffCapMs ?? 15_000;
    let delayMs: number | undefined;
    if (res.status === 429) {
      item.throttleAttempts++;
      this.throttled++;
      if (item.throttleAttempts < (this.options.maxThrottleAttempts ?? 40)) {
        delayMs = retryAfterMs(res.headers, this.clock.now()) ?? jitter(base * 2, item.throttleAttempts, cap);
        // Throttling is per app and tenant: everything else would be throttled too; pause the queue.
        this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + delayMs);
        const adaptive =
          this.options.adaptiveWriteBudget === undefined ? GRAPH_WRITE_BUDGET : this.options.adaptiveWriteBudget;
        if (this.bucket === undefined && adaptive !== null && isWrite(item.req.method)) {
          this.bucket = new TokenBucket(adaptive, this.clock, true);
          this.options.onPacing?.(adaptive);
        }
      }
    } else if (wholeBatchFailed || res.status === 503 || res.status === 504 || res.status === 599) {
      item.transientAttempts++;
      if (item.transientAttempts < maxTransient)
        delayMs = retryAfterMs(res.headers, this.clock.now()) ?? jitter(base, item.transientAttempts, cap);
    } else if ((res.status === 404 && item.opts.mayLag === true) || (item.opts.retryIf?.(res) ?? false)) {
      item.lagAttempts++;
      if (item.lagAttempts < maxLag) delayMs = jitter(base, item.lagAttempts, cap);
    }
    if (delayMs === undefined) {
      item.resolve(res);
      return;
    }
    this.retries++;
    this.options.onRetry?.({
      url: item.req.url,
      method: item.req.method,
      status: res.status,
      attempt: item.throttleAttempts + item.transientAttempts + item.lagAttempts,
      delayMs,
    });
    void this.clock.sleep(delayMs).then(() => {
      this.pending.unshift(item);
      this.schedulePump();
    });
  }
}

/** Exponential backoff with jitter: between half and all of min(cap, base·2^(attempt-1)). */
/** Backoff of a sub-request's `attempt`: the shared policy (retry.ts). */
export function jitter(baseMs: number, attempt: number, capMs: number): number {
  return backoffMs(attempt, baseMs, capMs);
}
