/** Delta queries for users and groups (graph-facts §5). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorOf, harness, type Harness, type Reply } from './helpers.js';

/** Follows nextLinks to the deltaLink; returns every item and the deltaLink. */
async function drain(
  h: Harness,
  url: string,
): Promise<{ items: Record<string, unknown>[]; deltaLink: string; pages: number }> {
  const items: Record<string, unknown>[] = [];
  let pages = 0;
  let r: Reply = await h.get(url);
  for (;;) {
    assert.equal(r.status, 200, JSON.stringify(r.body));
    pages++;
    items.push(...r.body.value);
    if (r.body['@odata.deltaLink']) return { items, deltaLink: r.body['@odata.deltaLink'], pages };
    assert.ok(r.body['@odata.nextLink'], 'a page without deltaLink has a nextLink');
    r = await h.get(r.body['@odata.nextLink']);
  }
}

describe('emulator: delta', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.emu.close();
  });

  it('users: initial round pages with nextLink to a deltaLink; the next round has changes and @removed', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) ids.push(await h.newUser(`d${i}`));
    const first = await drain(h, '/users/delta?$select=displayName,jobTitle');
    assert.ok(first.pages >= 2);
    assert.equal(first.items.length, 120);
    assert.match(first.deltaLink, new RegExp(`^${h.emu.url}/v1\\.0/users/delta\\?\\$deltatoken=`));

    const added = await h.newUser('late');
    await h.call('PATCH', `/users/${ids[0]}`, { jobTitle: 'Changed' });
    await h.call('DELETE', `/users/${ids[1]}`); // soft delete → reason "changed"
    await h.call('DELETE', `/users/${ids[2]}`);
    await h.call('DELETE', `/directory/deletedItems/${ids[2]}`); // permanent → reason "deleted"

    const second = await drain(h, first.deltaLink);
    const byId = new Map(second.items.map((x) => [x['id'] as string, x]));
    assert.equal(byId.get(added)?.['displayName'], byId.get(added)?.['displayName']);
    assert.ok(byId.has(added));
    assert.equal(byId.get(ids[0]!)?.['jobTitle'], 'Changed');
    assert.deepEqual(byId.get(ids[1]!)?.['@removed'], { reason: 'changed' });
    assert.deepEqual(byId.get(ids[2]!)?.['@removed'], { reason: 'deleted' });
    assert.equal(byId.size, 4);

    const third = await drain(h, second.deltaLink);
    assert.equal(third.items.length, 0);
  });

  it('groups: $select=members gives members@delta, and a removed member carries @removed', async () => {
    const g = await h.newGroup('dg');
    const a = await h.newUser('dga');
    const b = await h.newUser('dgb');
    const ref = (id: string): { '@odata.id': string } => ({
      '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${id}`,
    });
    await h.call('POST', `/groups/${g}/members/$ref`, ref(a));
    const first = await drain(h, '/groups/delta?$select=displayName,members');
    const item = first.items.find((x) => x['id'] === g)!;
    assert.deepEqual(item['members@delta'], [{ '@odata.type': '#microsoft.graph.user', id: a }]);

    await h.call('POST', `/groups/${g}/members/$ref`, ref(b));
    await h.call('DELETE', `/groups/${g}/members/${a}/$ref`);
    const second = await drain(h, first.deltaLink);
    const changed = second.items.find((x) => x['id'] === g)!;
    assert.deepEqual(changed['members@delta'], [
      { '@odata.type': '#microsoft.graph.user', id: b },
      { '@odata.type': '#microsoft.graph.user', id: a, '@removed': { reason: 'deleted' } },
    ]);
  });

  it('$deltatoken=latest returns only a deltaLink', async () => {
    const r = await h.get('/users/delta?$deltatoken=latest');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.value, []);
    assert.ok(r.body['@odata.deltaLink']);
    const id = await h.newUser('afterlatest');
    const next = await drain(h, r.body['@odata.deltaLink']);
    assert.deepEqual(
      next.items.map((x) => x['id']),
      [id],
    );
  });

  it('$filter by id eq … or id eq … limits the objects tracked', async () => {
    const a = await h.newUser('fa');
    const b = await h.newUser('fb');
    await h.newUser('fc');
    const r = await drain(h, `/users/delta?$filter=${encodeURIComponent(`id eq '${a}' or id eq '${b}'`)}`);
    assert.deepEqual(r.items.map((x) => x['id']).sort(), [a, b].sort());
  });

  for (const opt of ['$top=10', '$orderby=displayName', '$expand=manager']) {
    it(`${opt.split('=')[0]} is not supported with delta → 400`, async () => {
      const r = await h.get(`/users/delta?${opt}`);
      assert.equal(r.status, 400);
      errorOf(r);
    });
  }

  it('$filter on anything but id → 400', async () => {
    assert.equal((await h.get(`/users/delta?$filter=${encodeURIComponent("displayName eq 'x'")}`)).status, 400);
  });

  it('$select together with $skiptoken → 400', async () => {
    for (let i = 0; i < 101; i++) await h.newUser(`sk${i}`);
    const r = await h.get('/users/delta');
    const next: string = r.body['@odata.nextLink'];
    assert.ok(next);
    assert.equal((await h.get(`${next}&$select=displayName`)).status, 400);
  });
});
