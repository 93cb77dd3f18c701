import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchQueue } from '../../src/connectors/entra/batch.js';
import type { BatchRequest, BatchResponseItem, BatchTransport } from '../../src/connectors/entra/batch.js';
import { TokenBucket } from '../../src/connectors/entra/budget.js';
import { randomPassword } from '../../src/connectors/entra/password.js';
import { attributesBody, describeResponse } from '../../src/connectors/entra/executor.js';
import { ManualClock, settle } from '../support/clock.js';

/** A transport that answers with `answer(request, call#)` and returns the responses in reverse order. */
function fakeTransport(
  answer: (r: BatchRequest, seen: number) => Omit<BatchResponseItem, 'id'>,
): BatchTransport & { batches: BatchRequest[][] } {
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
  assert.deepEqual(
    res.map((r) => (r.body as { url: string }).url),
    urls,
  );
  assert.ok(t.batches.every((b) => b.length <= 20));
  assert.equal(t.batches.flat().length, 45);
  assert.equal(q.requests, t.batches.length);
  assert.ok(t.batches.length >= 3);
});

test('$batch queue: 429 inside a batch is retried after Retry-After; others in the batch are not resent', async () => {
  const t = fakeTransport((r, n) =>
    r.url === '/users/a' && n === 1
      ? {
          status: 429,
          headers: { 'Retry-After': '0' },
          body: { error: { code: 'TooManyRequests', message: 'Too many requests.' } },
        }
      : { status: 204, headers: {}, body: null },
  );
  const q = new BatchQueue(t, {});
  const [a, b] = await Promise.all([
    q.submit({ method: 'PATCH', url: '/users/a', body: {} }),
    q.submit({ method: 'PATCH', url: '/users/b', body: {} }),
  ]);
  assert.equal(a.status, 204);
  assert.equal(b.status, 204);
  assert.equal(t.batches.flat().filter((r) => r.url === '/users/b').length, 1);
  assert.equal(t.batches.flat().filter((r) => r.url === '/users/a').length, 2);
  assert.equal(q.retries, 1);
  assert.equal(q.writes, 3);
});

test('$batch queue: retries are bounded and the last failure is returned', async () => {
  const t = fakeTransport(() => ({
    status: 503,
    headers: {},
    body: { error: { code: 'serviceNotAvailable', message: 'down' } },
  }));
  const q = new BatchQueue(t, { maxTransientAttempts: 3, backoffBaseMs: 1 });
  const r = await q.submit({ method: 'GET', url: '/users' });
  assert.equal(r.status, 503);
  assert.equal(t.batches.length, 3);
  assert.equal(describeResponse(r), '503 serviceNotAvailable: down');
});

test('$batch queue: 404 is retried only for requests that may hit replication lag', async () => {
  const t = fakeTransport((_r, n) =>
    n < 3
      ? { status: 404, headers: {}, body: { error: { code: 'Request_ResourceNotFound', message: 'nope' } } }
      : { status: 204, headers: {}, body: null },
  );
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
      if (calls === 1)
        throw Object.assign(new Error('Service Unavailable'), { status: 503, headers: { 'retry-after': '0' } });
      return requests.map((r) => ({ id: r.id, status: 201, headers: {}, body: { id: r.url } }));
    },
  };
  const clock = new ManualClock();
  const q = new BatchQueue(t, { clock });
  const res = Promise.all([
    q.submit({ method: 'POST', url: '/x', body: {} }),
    q.submit({ method: 'POST', url: '/y', body: {} }),
  ]);
  await settle();
  assert.deepEqual(clock.sleeping, [0, 0], 'both wait Retry-After: 0');
  await clock.advance(0);
  assert.deepEqual(
    (await res).map((r) => r.status),
    [201, 201],
  );
  assert.equal(calls, 2, 'both retried, in one batch');
});

test('token bucket: takes what is there, then waits for the refill', async () => {
  const clock = new ManualClock();
  const b = new TokenBucket({ writes: 10, perSeconds: 1 }, clock);
  await b.take(10);
  assert.equal(b.available(), 0);
  let served = false;
  const next = b.take(5).then(() => {
    served = true;
  });
  await settle();
  assert.equal(served, false, 'an empty bucket makes the caller wait');
  assert.deepEqual(clock.sleeping, [500], 'for as long as 5 tokens take to refill (10 per second)');
  await clock.advance(499);
  assert.equal(served, false, 'not before the refill');
  await clock.advance(1);
  await next;
  assert.equal(served, true);
  assert.equal(b.available(), 0, 'the refilled tokens were taken');
});

test('$batch queue: writes are paced to the write budget — the batch over it waits for the refill', async () => {
  const clock = new ManualClock();
  const t = fakeTransport(() => ({ status: 204, headers: {}, body: null }));
  const q = new BatchQueue(t, { writeBudget: { writes: 20, perSeconds: 1 }, clock });
  const done = Promise.all(
    Array.from({ length: 30 }, (_, i) => q.submit({ method: 'PATCH', url: `/users/${i}`, body: {} })),
  );
  await settle();
  assert.deepEqual(
    t.batches.map((b) => b.length),
    [20],
    'the budget allows one full batch now',
  );
  assert.deepEqual(clock.sleeping, [500], 'the next 10 writes wait half a second');
  await clock.advance(499);
  assert.equal(t.batches.length, 1);
  await clock.advance(1);
  await done;
  assert.deepEqual(
    t.batches.map((b) => b.length),
    [20, 10],
  );
});

test('$batch queue: a 429 pauses the whole queue for Retry-After, then retries only the throttled request', async () => {
  const clock = new ManualClock();
  const t = fakeTransport((r, n) =>
    r.url === '/users/a' && n === 1
      ? {
          status: 429,
          headers: { 'Retry-After': '3' },
          body: { error: { code: 'TooManyRequests', message: 'Too many requests.' } },
        }
      : { status: 204, headers: {}, body: null },
  );
  const q = new BatchQueue(t, { clock, adaptiveWriteBudget: null });
  const a = q.submit({ method: 'PATCH', url: '/users/a', body: {} });
  await settle();
  assert.equal(t.batches.length, 1);
  assert.deepEqual(clock.sleeping, [3000], 'the retry waits Retry-After (3 s)');
  await clock.advance(1000);
  const c = q.submit({ method: 'PATCH', url: '/users/c', body: {} });
  await settle();
  assert.equal(t.batches.length, 1, 'a new request waits too: the whole queue is paused');
  assert.deepEqual(clock.sleeping, [2000, 2000], 'until the same moment');
  await clock.advance(1999);
  assert.equal(t.batches.length, 1, 'nothing is sent while the queue is paused, not even a new request');
  await clock.advance(1);
  assert.deepEqual([(await a).status, (await c).status], [204, 204]);
  assert.deepEqual(
    t.batches
      .slice(1)
      .flat()
      .map((r) => r.url)
      .sort(),
    ['/users/a', '/users/c'],
  );
  assert.equal(q.retries, 1);
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
  assert.deepEqual(
    attributesBody([
      { name: 'jobTitle', after: 'Engineer', flow: 'f' },
      { name: 'department', before: 'Sales', flow: 'f' },
      { name: 'accountEnabled', before: true, after: false, flow: 'f' },
    ]),
    { jobTitle: 'Engineer', department: null, accountEnabled: false },
  );
});
