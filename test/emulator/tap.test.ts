/** The emulator's test hook (src/emulator/tap.ts): it counts writes and freezes the tenant at an exact write. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DOMAIN, harness, type Harness } from './helpers.js';

describe('emulator: write count and freezeAfter', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.emu.close();
  });

  const userReq = (id: string, name: string): unknown => ({
    id,
    method: 'POST',
    url: '/users',
    headers: { 'Content-Type': 'application/json' },
    body: {
      accountEnabled: true,
      displayName: name,
      mailNickname: name,
      userPrincipalName: `${name}@${DOMAIN}`,
      passwordProfile: { password: 'Pa55w.rd!Pa55w.rd' },
    },
  });
  const countUsers = async (prefix: string): Promise<number> =>
    ((await h.get(`/users?$filter=startswith(displayName,'${prefix}')`)).body.value as unknown[]).length;

  it('counts each successful write, inner requests of a $batch one by one; reads and failures are not writes', async () => {
    const before = h.emu.writes();
    await h.newUser('tapcount');
    await h.get('/users');
    await h.call('POST', '/directoryObjects/getByIds', { ids: [], types: ['user'] });
    await h.call('PATCH', '/users/00000000-0000-0000-0000-00000000dead', { jobTitle: 'x' });
    await h.call('POST', '/$batch', {
      requests: [userReq('1', 'tapcount-b1'), userReq('2', 'tapcount-b2'), { id: '3', method: 'GET', url: '/users' }],
    });
    assert.equal(h.emu.writes() - before, 3);
  });

  it('after the N-th write it runs and answers nothing more, not even the rest of that batch, until unfrozen', async () => {
    const frozen = h.emu.freezeAfter({ writes: 2 });
    const batch = h
      .call('POST', '/$batch', {
        requests: [userReq('1', 'tapfreeze-1'), userReq('2', 'tapfreeze-2'), userReq('3', 'tapfreeze-3')],
      })
      .catch((e: Error) => e);
    await frozen;
    const received = h.emu.requests();
    const later = h.get('/users').catch((e: Error) => e);
    while (h.emu.requests() === received) await new Promise((r) => setTimeout(r, 10)); // until it arrived
    h.emu.unfreeze();
    assert.ok((await batch) instanceof Error, 'the batch was never answered (its connection was dropped)');
    assert.ok((await later) instanceof Error, 'nor a request that came in while frozen');
    assert.equal(await countUsers('tapfreeze-'), 2, 'exactly two writes reached the tenant');
  });

  it('freezeAfter 0 writes holds the first write before it runs; reads before it are served', async () => {
    const frozen = h.emu.freezeAfter({ writes: 0 });
    assert.equal((await h.get('/users')).status, 200);
    const write = h.call('POST', '/users', (userReq('x', 'tapzero') as { body: unknown }).body).catch((e: Error) => e);
    await frozen;
    h.emu.unfreeze();
    assert.ok((await write) instanceof Error);
    assert.equal(await countUsers('tapzero'), 0);
  });
});
