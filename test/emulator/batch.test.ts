/** JSON batching (graph-facts §6). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DOMAIN, errorOf, harness, type Harness } from './helpers.js';

interface Inner {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: Record<string, unknown> & { error?: { code: string; message: string } };
}

describe('emulator: $batch', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.emu.close();
  });

  const batch = async (
    requests: unknown[],
  ): Promise<{ status: number; responses: Map<string, Inner>; raw: unknown }> => {
    const r = await h.call('POST', '/$batch', { requests });
    const responses = new Map<string, Inner>();
    for (const x of (r.body?.responses ?? []) as Inner[]) responses.set(x.id, x);
    return { status: r.status, responses, raw: r.body };
  };
  const newUserReq = (id: string, name: string): unknown => ({
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

  it('runs up to 20 requests and answers each by id with its own status and body', async () => {
    const requests = [];
    for (let i = 0; i < 20; i++) requests.push(newUserReq(String(i + 1), `batch${i}`));
    const r = await batch(requests);
    assert.equal(r.status, 200);
    assert.equal(r.responses.size, 20);
    for (const [, x] of r.responses) {
      assert.equal(x.status, 201);
      assert.equal(typeof x.body?.['id'], 'string');
    }
  });

  it('more than 20 requests → 400 for the whole batch', async () => {
    const requests = [];
    for (let i = 0; i < 21; i++) requests.push({ id: String(i), method: 'GET', url: '/users' });
    const r = await h.call('POST', '/$batch', { requests });
    assert.equal(r.status, 400);
    errorOf(r);
  });

  it('duplicate ids (case-insensitive) → 400', async () => {
    const r = await h.call('POST', '/$batch', {
      requests: [
        { id: 'a', method: 'GET', url: '/users' },
        { id: 'A', method: 'GET', url: '/users' },
      ],
    });
    assert.equal(r.status, 400);
  });

  it('a body without a Content-Type header → 400', async () => {
    const r = await h.call('POST', '/$batch', {
      requests: [{ id: '1', method: 'POST', url: '/groups', body: { displayName: 'x' } }],
    });
    assert.equal(r.status, 400);
  });

  it('dependsOn: a failed request makes its dependents 424 Failed Dependency; independent ones still run', async () => {
    const r = await batch([
      { id: '1', method: 'GET', url: '/users/00000000-0000-0000-0000-00000000dead' },
      { id: '2', method: 'GET', url: '/organization', dependsOn: ['1'] },
      { id: '3', method: 'GET', url: '/domains' },
    ]);
    assert.equal(r.status, 200);
    assert.equal(r.responses.get('1')?.status, 404);
    assert.equal(r.responses.get('1')?.body?.error?.code, 'Request_ResourceNotFound');
    assert.equal(r.responses.get('2')?.status, 424);
    assert.equal(r.responses.get('3')?.status, 200);
  });

  it('dependsOn orders requests: a read listed first runs after the member add it depends on', async () => {
    const u = await h.newUser('dep');
    const g = await h.newGroup('dep');
    const r = await batch([
      { id: 'read', method: 'GET', url: `/groups/${g}/members?$select=id`, dependsOn: ['add'] },
      {
        id: 'add',
        method: 'POST',
        url: `/groups/${g}/members/$ref`,
        headers: { 'Content-Type': 'application/json' },
        body: { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${u}` },
      },
    ]);
    assert.equal(r.responses.get('add')?.status, 204);
    assert.equal(r.responses.get('read')?.status, 200);
    // Run in array order, the read would see the group still empty.
    assert.deepEqual(
      (r.responses.get('read')?.body?.['value'] as { id: string }[]).map((m) => m.id),
      [u],
      'the read saw the member its dependency added',
    );
  });

  it('ConsistencyLevel in an inner request’s headers enables advanced queries for that request only', async () => {
    const r = await batch([
      { id: 'with', method: 'GET', url: '/users/$count', headers: { ConsistencyLevel: 'eventual' } },
      { id: 'without', method: 'GET', url: '/users/$count' },
    ]);
    assert.equal(r.responses.get('with')?.status, 200);
    assert.equal(r.responses.get('without')?.status, 400);
  });

  it('an unknown method on a resource → 405 inside the batch', async () => {
    const r = await batch([
      { id: '1', method: 'PUT', url: '/users', headers: { 'Content-Type': 'application/json' }, body: {} },
    ]);
    assert.equal(r.responses.get('1')?.status, 405);
    assert.equal(
      r.responses.get('1')?.body?.error?.message,
      'Specified HTTP method is not allowed for the request target.',
    );
  });
});
