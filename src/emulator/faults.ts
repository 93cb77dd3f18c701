/**
 * Opt-in faults (graph-facts §7, §8): throttling on the identity service's resource-unit and write budgets,
 * random 503/504, and replication lag. Random choices come from a seeded PRNG so a run can be replayed.
 */
import { GraphError, type GraphRequest } from './http.js';

export interface EmulatorFaults {
  throttle?: boolean;
  /** 0..1: share of requests answered 503 or 504 (before they run, so nothing was written). */
  randomFailureRate?: number;
  replicationLagMs?: number;
  seed?: number;
}

/** mulberry32: small, fast, good enough for fault injection. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A token bucket that refills continuously: `capacity` per `windowMs`. */
class Bucket {
  private tokens: number;
  private at = 0;
  constructor(
    readonly capacity: number,
    readonly windowMs: number,
  ) {
    this.tokens = capacity;
  }
  private refill(now: number): void {
    if (this.at === 0) this.at = now;
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) * this.capacity) / this.windowMs);
    this.at = now;
  }
  /** Seconds until `cost` fits, or 0 if it fits now (then it is taken). */
  take(now: number, cost: number): number {
    this.refill(now);
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return 0;
    }
    const deficit = cost - this.tokens;
    return Math.max(1, Math.ceil((deficit * this.windowMs) / this.capacity / 1000));
  }
  /** Throttled calls still count (graph-facts §7); the debt is capped at one window. */
  charge(now: number, cost: number): void {
    this.refill(now);
    this.tokens = Math.max(-this.capacity, this.tokens - cost);
  }
  usedFraction(now: number): number {
    this.refill(now);
    return 1 - this.tokens / this.capacity;
  }
}

/** graph-facts §7 base costs and modifiers. */
export function resourceUnits(req: Pick<GraphRequest, 'method' | 'segments' | 'query'>): { ru: number; write: number } {
  const write = req.method === 'GET' ? 0 : 1;
  const [root, , rel] = req.segments;
  let ru = 1;
  if (req.method === 'GET') {
    if (rel === 'members') ru = 3;
    else if (rel === 'transitiveMembers') ru = 5;
    else if (rel === 'memberOf' || rel === 'transitiveMemberOf' || rel === 'ownedObjects' || rel === 'licenseDetails')
      ru = 2;
    else if (root === 'users' && rel === undefined) ru = 2;
    else if (root === 'applications') ru = 2;
    else if (root === 'subscribedSkus') ru = 3;
  } else if (root === 'directoryObjects' && req.segments[1] === 'getByIds') {
    return { ru: 3, write: 0 };
  }
  if (req.query.has('$select')) ru -= 1;
  if (req.query.has('$expand')) ru += 1;
  const top = Number(req.query.get('$top'));
  if (req.query.has('$top') && top < 20) ru -= 1;
  return { ru: Math.max(1, ru), write };
}

export class FaultInjector {
  private faults: EmulatorFaults = {};
  private random: () => number = prng(0);
  private ru: Bucket | undefined;
  private writes = new Bucket(3000, 150_000); // app + tenant: 3,000 writes per 2 min 30 s
  private tenantWrites = new Bucket(18_000, 300_000); // tenant: 18,000 per 5 min

  constructor(
    f: EmulatorFaults | undefined,
    private readonly ids: { appId: () => string; tenantId: () => string; userCount: () => number },
  ) {
    this.set(f ?? {});
  }

  set(f: EmulatorFaults): void {
    this.faults = { ...f };
    this.random = prng(f.seed ?? 1);
    this.ru = undefined;
    this.writes = new Bucket(3000, 150_000);
    this.tenantWrites = new Bucket(18_000, 300_000);
  }

  get(): EmulatorFaults {
    return { ...this.faults };
  }

  lagMs(): number {
    return this.faults.replicationLagMs ?? 0;
  }

  /** RU quota per 10 s by tenant size: S (<50 users) 3,500; M (50–500) 5,000; L (>500) 8,000. */
  private ruBucket(): Bucket {
    const n = this.ids.userCount();
    const cap = n < 50 ? 3500 : n <= 500 ? 5000 : 8000;
    if (!this.ru || this.ru.capacity !== cap) this.ru = new Bucket(cap, 10_000);
    return this.ru;
  }

  /**
   * Called for every Graph request (each request inside a `$batch` too). Throws the fault's GraphError, or
   * returns headers to add to the response.
   */
  check(req: GraphRequest): Record<string, string> {
    const headers: Record<string, string> = {};
    const rate = this.faults.randomFailureRate ?? 0;
    if (rate > 0 && this.random() < rate) {
      const gateway = this.random() < 0.5;
      // graph-facts §7 "Other transient errors": 503 may carry Retry-After; 504 may occur with 503.
      if (gateway) throw new GraphError(504, 'UnknownError', 'The gateway did not receive a response in time.');
      throw new GraphError(
        503,
        'serviceNotAvailable',
        'The service is temporarily unavailable. Please retry after a delay.',
        undefined,
        { 'Retry-After': '1' },
      );
    }
    if (!this.faults.throttle) return headers;
    const { ru, write } = resourceUnits(req);
    const bucket = this.ruBucket();
    const now = req.now;
    const scope = (limit: string): string => `Tenant_Application/${limit}/${this.ids.appId()}/${this.ids.tenantId()}`;
    const throttled = (retry: number, limit: string, info: string): GraphError =>
      new GraphError(429, 'TooManyRequests', 'Too many requests.', undefined, {
        'Retry-After': String(retry),
        'x-ms-resource-unit': String(ru),
        'x-ms-throttle-scope': scope(limit),
        'x-ms-throttle-information': info,
      });
    const ruWait = bucket.take(now, ru);
    if (ruWait > 0) {
      bucket.charge(now, ru);
      throw throttled(ruWait, 'ReadWrite', 'ResourceUnitLimitExceeded');
    }
    if (write > 0) {
      const w = this.writes.take(now, write);
      if (w > 0) throw throttled(w, 'Write', 'WriteLimitExceeded');
      const t = this.tenantWrites.take(now, write);
      if (t > 0) {
        const e = throttled(t, 'Write', 'WriteLimitExceeded');
        e.headers['x-ms-throttle-scope'] = `Tenant/Write/${this.ids.appId()}/${this.ids.tenantId()}`;
        throw e;
      }
    }
    headers['x-ms-resource-unit'] = String(ru);
    const used = bucket.usedFraction(now);
    if (used > 0.8) headers['x-ms-throttle-limit-percentage'] = used.toFixed(1);
    return headers;
  }
}
