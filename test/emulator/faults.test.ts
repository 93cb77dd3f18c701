/** Opt-in faults (graph-facts §7 throttling, §8 replication lag): off by default, deterministic with a seed. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NOT_FOUND, errorOf, harness, type Harness } from './helpers.js';

interface Inner {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: { error?: { code: string } };
}

describe('emulator: faults', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.emu.close();
  });

  it('are off by default: no 429/503/504 and no x-ms-resource-unit header', async () => {
    const r = await h.get('/users');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-ms-resource-unit'), null);
  });

  it('throttling reports x-ms-resource-unit per the RU cost table', async () => {
    h.emu.setFaults({ throttle: true });
    assert.equal((await h.get('/users')).headers.get('x-ms-resource-unit'), '2');
    assert.equal((await h.get('/users?$select=id')).headers.get('x-ms-resource-unit'), '1');
    assert.equal((await h.get('/organization')).headers.get('x-ms-resource-unit'), '1');
    const g = await h.newGroup('ru');
    assert.equal((await h.get(`/groups/${g}/members`)).headers.get('x-ms-resource-unit'), '3');
    assert.equal((await h.get(`/groups/${g}/transitiveMembers`)).headers.get('x-ms-resource-unit'), '5');
    h.emu.setFaults({});
  });

  it('the write budget (3,000 per 150 s per app and tenant) ends in 429 + Retry-After inside $batch, per request', async () => {
    const id = await h.newUser('busy');
    h.emu.setFaults({ throttle: true });
    let throttled: Inner | undefined;
    let ok = 0;
    for (let b = 0; b < 200 && !throttled; b++) {
      const requests = [];
      for (let i = 0; i < 20; i++)
        requests.push({
          id: String(i),
          method: 'PATCH',
          url: `/users/${id}`,
          headers: { 'Content-Type': 'application/json' },
          body: { jobTitle: `t${b}-${i}` },
        });
      const r = await h.call('POST', '/$batch', { requests });
      assert.equal(r.status, 200);
      for (const x of r.body.responses as Inner[]) {
        if (x.status === 204) ok++;
        else if (x.status === 429) {
          throttled ??= x;
        } else assert.fail(`unexpected status ${x.status}`);
      }
    }
    h.emu.setFaults({});
    assert.ok(throttled, 'a write was throttled');
    assert.ok(ok >= 3000, `at least 3,000 writes went through first (${ok})`);
    assert.match(throttled.headers['Retry-After'] ?? '', /^[1-9]\d*$/);
    assert.equal(
      throttled.headers['x-ms-throttle-scope'],
      `Tenant_Application/Write/${h.emu.clientId}/${h.emu.tenantId}`,
    );
    assert.equal(throttled.headers['x-ms-throttle-information'], 'WriteLimitExceeded');
    assert.equal(throttled.body?.error?.code, 'TooManyRequests');
  });

  it('the resource-unit budget (3,500 RU / 10 s for a small tenant) ends in 429 with Retry-After on the HTTP response', async () => {
    // Time stands still for this tenant: the budget runs out after its 3,500 RU however slowly the requests
    // come (on a busy machine a real clock refilled it faster than the loop spent it, and it never ran out).
    const frozenAt = Date.now();
    const small = await harness({ now: () => frozenAt });
    try {
      small.emu.setFaults({ throttle: true });
      let last = await small.get('/users');
      let calls = 1;
      for (; calls < 20000 && last.status === 200; calls++) last = await small.get('/users'); // 2 RU each
      assert.equal(last.status, 429);
      assert.equal(calls, 3500 / 2 + 1, 'exactly the budget went through first');
      assert.equal(errorOf(last).code, 'TooManyRequests');
      assert.match(last.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      assert.equal(last.headers.get('x-ms-throttle-information'), 'ResourceUnitLimitExceeded');
      assert.equal(
        last.headers.get('x-ms-throttle-scope'),
        `Tenant_Application/ReadWrite/${small.emu.clientId}/${small.emu.tenantId}`,
      );
    } finally {
      await small.emu.close();
    }
  });

  it('randomFailureRate 1 answers every request 503 or 504', async () => {
    h.emu.setFaults({ randomFailureRate: 1, seed: 3 });
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) seen.add((await h.get('/organization')).status);
    h.emu.setFaults({});
    assert.deepEqual([...seen].sort(), [503, 504]);
  });

  it('random failures replay exactly with the same seed', async () => {
    const run = async (): Promise<number[]> => {
      h.emu.setFaults({ randomFailureRate: 0.5, seed: 42 });
      const out: number[] = [];
      for (let i = 0; i < 30; i++) out.push((await h.get('/organization')).status);
      return out;
    };
    const a = await run();
    const b = await run();
    h.emu.setFaults({});
    assert.deepEqual(a, b);
    assert.ok(a.includes(200) && a.some((s) => s >= 503));
  });

  it('replication lag: a new object answers the documented 404 to reads and reference operations', async () => {
    h.emu.setFaults({ replicationLagMs: 3_600_000 });
    const created = await h.call('POST', '/users', {
      accountEnabled: true,
      displayName: 'Lag',
      mailNickname: 'lag',
      userPrincipalName: 'lag@contoso.example',
      passwordProfile: { password: 'Pa55w.rd!Pa55w.rd' },
    });
    assert.equal(created.status, 201, 'the write itself succeeds');
    const id = created.body.id as string;
    const r = await h.get(`/users/${id}`);
    assert.equal(r.status, 404);
    assert.equal(errorOf(r).code, 'Request_ResourceNotFound');
    assert.equal(errorOf(r).message, NOT_FOUND(id));
    h.emu.setFaults({});
    const g = await h.newGroup('laggroup');
    h.emu.setFaults({ replicationLagMs: 3_600_000 });
    const u2 = (
      await h.call('POST', '/users', {
        accountEnabled: true,
        displayName: 'Lag2',
        mailNickname: 'lag2',
        userPrincipalName: 'lag2@contoso.example',
        passwordProfile: { password: 'Pa55w.rd!Pa55w.rd' },
      })
    ).body.id as string;
    const add = await h.call('POST', `/groups/${g}/members/$ref`, {
      '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${u2}`,
    });
    assert.equal(add.status, 404);
    assert.equal(errorOf(add).message, NOT_FOUND(u2));
    h.emu.setFaults({});
    assert.equal((await h.get(`/users/${id}`)).status, 200, 'visible once the lag is switched off');
  });
});
