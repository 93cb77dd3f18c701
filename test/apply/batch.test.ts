import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchQueue } from '../../src/apply/batch.js';
import type { BatchRequest, BatchResponseItem, BatchTransport } from '../../src/apply/batch.js';
import { TokenBucket } from '../../src/apply/budget.js';
import { randomPassword } from '../../src/apply/password.js';
import { attributesBody, describeResponse } from '../../src/apply/executor.js';

/** A transport that answers with `answer(request, call#)` and returns the responses in reverse order. */
function fakeTransport(answer: (r: BatchRequest, seen: number) => Omit<BatchResponseItem, 'id'>): BatchTransport & { batches: BatchRequest[][] } {
  const seen = new Map<string, number>();
  const batches: BatchRequest[][] = [];
  return {
    batches,
    async postBatch(requests) {
      batches.push(requests);
      const out = requests.map((r) => {
        const key = `${r.method} ${r.url}`;
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        return { id: r.id, ...answer(r, n) };
      });
      return out.reverse();
    },
  };
}

test('$batch queue: packs at most 20 requests per batch and correlates reordered responses by id', async () => {
  const t = fakeTransport((r) => ({ status: 200, headers: {}, body: { url: r.url } }));
  const q = new BatchQueue(t, { concurrency: 2 });
  const urls = Array.from({ length: 45 }, (_, i) => `/users/${i}`);
  const res = await Promise.all(urls.map((url) => q.submit({ method: 'GET', url })));
  assert.deepEqual(res.map((r) => (r.body as { url: string }).url), urls);
  assert.ok(t.batches.every((b) => b.length <= 20));
  assert.equal(t.batches.flat().length, 45);
  assert.equal(q.requests, t.batches.length);
  assert.ok(t.batches.length >= 3);
});

test('$batch queue: 429 inside a batch is retried after Retry-After; others in the batch are not resent', async () => {
  const t = fakeTransport((r, n) => (r.url === '/users/a' && n === 1
    ? { status: 429, headers: { 'Retry-After': '0' }, body: { error: { code: 'TooManyRequests', message: 'Too many requests.' } } }
    : { status: 204, headers: {}, body: null }));
  const q = new BatchQueue(t, {});
  const [a, b] = await Promise.all([q.submit({ method: 'PATCH', url: '/users/a', body: {} }), q.submit({ method: 'PATCH', url: '/users/b', body: {} })]);
  assert.equal(a.status, 204);
  assert.equal(b.status, 204);
  assert.equal(t.batches.flat().filter((r) => r.url === '/users/b').length, 1);
  assert.equal(t.batches.flat().filter((r) => r.url === '/users/a').length, 2);
  assert.equal(q.retries, 1);
  assert.equal(q.writes, 3);
});

test('$batch queue: retries are bounded and the last failure is returned', async () => {
  const t = fakeTransport(() => ({ status: 503, headers: {}, body: { error: { code: 'serviceNotAvailable', message: 'down' } } }));
  const q = new BatchQueue(t, { maxTransientAttempts: 3, backoffBaseMs: 1 });
  const r = await q.submit({ method: 'GET', url: '/users' });
  assert.equal(r.status, 503);
  assert.equal(t.batches.length, 3);
  assert.equal(describeResponse(r), '503 serviceNotAvailable: down');
});

test('$batch queue: 404 is retried only for requests that may hit replication lag', async () => {
  const t = fakeTransport((r, n) => (n < 3 ? { status: 404, headers: {}, body: { error: { code: 'Request_ResourceNotFound', message: 'nope' } } } : { status: 204, headers: {}, body: null }));
  const q = new BatchQueue(t, { backoffBaseMs: 1 });
  const lagging = await q.submit({ method: 'PATCH', url: '/groups/new', body: {} }, { mayLag: true });
  const plain = await q.submit({ method: 'PATCH', url: '/groups/old', body: {} });
  assert.equal(lagging.status, 204);
  assert.equal(plain.status, 404);
});

test('$batch queue: a whole-batch failure retries every request in it', async () => {
  let calls = 0;
  const t: BatchTransport = {
    async postBatch(requests) {
      calls++;
      if (calls === 1) throw Object.assign(new Error('Service Unavailable'), { status: 503, headers: { 'retry-after': '0' } });
      return requests.map((r) => ({ id: r.id, status: 201, headers: {}, body: { id: r.url } }));
    },
  };
  const q = new BatchQueue(t, {});
  const res = await Promise.all([q.submit({ method: 'POST', url: '/x', body: {} }), q.submit({ method: 'POST', url: '/y', body: {} })]);
  assert.deepEqual(res.map((r) => r.status), [201, 201]);
  assert.equal(calls, 2);
});

test('token bucket: takes what is there, then waits for the refill', async () => {
  let now = 0;
  const b = new TokenBucket({ writes: 10, perSeconds: 1 }, () => now);
  await b.take(10);
  assert.equal(b.available(), 0);
  now = 500;
  assert.equal(Math.round(b.available()), 5);
});

test('initial passwords: long, all four character classes, different every time', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const p = randomPassword();
    assert.equal(p.length, 24);
    assert.match(p, /[A-Z]/);
    assert.match(p, /[a-z]/);
    assert.match(p, /[0-9]/);
    assert.match(p, /[^A-Za-z0-9]/);
    seen.add(p);
  }
  assert.equal(seen.size, 200);
});

test('attribute bodies: planned values sent as-is, a cleared value as null', () => {
  assert.deepEqual(attributesBody([
    { name: 'jobTitle', after: 'Engineer', flow: 'f' },
    { name: 'department', before: 'Sales', flow: 'f' },
    { name: 'accountEnabled', before: true, after: false, flow: 'f' },
  ]), { jobTitle: 'Engineer', department: null, accountEnabled: false });
});
