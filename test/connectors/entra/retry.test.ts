import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  backoffMs,
  headerValue,
  MAX_RETRY_AFTER_MS,
  retryAfterMs,
  TRANSIENT_STATUSES,
} from '../../../src/connectors/entra/retry.js';
import { retryAfterMs as graphRetryAfterMs } from '../../../src/connectors/entra/graph.js';

const NOW = Date.parse('2026-12-02T06:00:00Z');

describe('retry policy (one for direct calls and $batch)', () => {
  it('reads Retry-After in seconds, case-insensitively, from a record or Headers', () => {
    assert.equal(retryAfterMs({ 'Retry-After': '7' }, NOW), 7000);
    assert.equal(retryAfterMs({ 'retry-after': '0.5' }, NOW), 500);
    assert.equal(retryAfterMs(new Headers({ 'retry-after': '3' }), NOW), 3000);
    assert.equal(headerValue({ 'RETRY-AFTER': '2' }, 'retry-after'), '2');
  });

  it('reads an HTTP date as the time from now', () => {
    assert.equal(retryAfterMs({ 'Retry-After': new Date(NOW + 12_000).toUTCString() }, NOW), 12_000);
    assert.equal(retryAfterMs({ 'Retry-After': new Date(NOW - 5_000).toUTCString() }, NOW), 0);
  });

  it('caps Retry-After at 180 s, the SDK limit, for seconds and dates alike', () => {
    assert.equal(MAX_RETRY_AFTER_MS, 180_000);
    assert.equal(retryAfterMs({ 'Retry-After': '3600' }, NOW), MAX_RETRY_AFTER_MS);
    assert.equal(retryAfterMs({ 'Retry-After': new Date(NOW + 3_600_000).toUTCString() }, NOW), MAX_RETRY_AFTER_MS);
    // the direct-call client (graph.ts) uses the same reading: it used to wait an hour here
    assert.equal(graphRetryAfterMs({ 'Retry-After': '3600' }), MAX_RETRY_AFTER_MS);
  });

  it('has no Retry-After when it is absent, empty, negative-free or unreadable', () => {
    assert.equal(retryAfterMs(undefined, NOW), undefined);
    assert.equal(retryAfterMs({}, NOW), undefined);
    assert.equal(retryAfterMs({ 'Retry-After': '' }, NOW), undefined);
    assert.equal(retryAfterMs({ 'Retry-After': 'soon' }, NOW), undefined);
    assert.equal(retryAfterMs({ 'Retry-After': '-3' }, NOW), 0);
  });

  it('backs off exponentially with jitter between half and all of the ceiling, capped', () => {
    assert.equal(
      backoffMs(1, 500, 15_000, () => 0),
      250,
    );
    assert.equal(
      backoffMs(1, 500, 15_000, () => 0.999_999),
      500,
    );
    assert.equal(
      backoffMs(3, 500, 15_000, () => 0),
      1000,
    );
    assert.equal(
      backoffMs(20, 500, 15_000, () => 0.999_999),
      15_000,
    );
    for (let attempt = 1; attempt <= 30; attempt++) {
      const d = backoffMs(attempt, 1000, 30_000);
      const ceiling = Math.min(30_000, 1000 * 2 ** (attempt - 1));
      assert.ok(d >= ceiling / 2 && d <= ceiling, `attempt ${attempt}: ${d}`);
    }
  });

  it('retries 429, 503 and 504 only', () => {
    assert.deepEqual([...TRANSIENT_STATUSES].sort(), [429, 503, 504]);
  });
});
