/**
 * Graph's retry policy, one for direct calls (graph.ts) and `$batch` sub-requests (batch.ts): which statuses
 * are worth retrying, how long Retry-After makes adsync wait, and the backoff when Graph doesn't say.
 */

/** 429 (throttled), 503 and 504 (transient): Graph's own list of statuses to retry (graph-facts §7). */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([429, 503, 504]);

/** The longest Retry-After adsync waits in one go: 180 s, the Graph SDK's RetryHandlerOptions.MAX_DELAY. */
export const MAX_RETRY_AFTER_MS = 180_000;

/** A header by name, case-insensitively (Graph's `$batch` responses don't normalise header case). */
export function headerValue(headers: Record<string, string> | Headers | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return String(v);
  return undefined;
}

/**
 * Retry-After in seconds or as an HTTP date (RFC 9110 §10.2.3), as milliseconds from `now`, at most
 * MAX_RETRY_AFTER_MS; undefined when absent or unreadable.
 */
export function retryAfterMs(
  headers: Record<string, string> | Headers | undefined,
  now: number = Date.now(),
): number | undefined {
  const v = headerValue(headers, 'retry-after')?.trim();
  if (v === undefined || v === '') return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, secs * 1000));
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - now));
}

/**
 * Exponential backoff with jitter: attempt 1 waits between base/2 and base, attempt 2 between base and
 * 2·base, …, never more than `capMs`. `random` is in [0, 1) (Math.random; tests pass their own).
 */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
