/**
 * What real Graph refuses, the emulator refuses (issue 12 item 1), and `$expand` as documented. Each test names
 * its source; plain HTTPS calls.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DOMAIN, errorOf, harness, type Harness } from './helpers.js';

describe('emulator: refusals and $expand', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.emu.close();
  });

  // graph-facts-2 §1: onPremisesImmutableId unique in the tenant; 400 with ObjectConflict + ConflictingObjects User_<id>.
  it('a duplicate onPremisesImmutableId on create → 400 ObjectConflict naming the holder', async () => {
    const holder = await h.newUser('anchor1', { onPremisesImmutableId: 'QUJDRA==' });
    const r = await h.call('POST', '/users', {
      accountEnabled: true,
      displayName: 'dup',
      mailNickname: 'dup',
      userPrincipalName: `dup@${DOMAIN}`,
      passwordProfile: { password: 'Pa55w.rd!Pa55w.rd' },
      onPremisesImmutableId: 'qujdra==',
    });
    assert.equal(r.status, 400);
    const e = errorOf(r);
    assert.equal(e.code, 'Request_BadRequest');
    assert.equal(e.message, 'Another object with the same value for property onPremisesImmutableId already exists.');
    assert.deepEqual(
      (e.details as { code: string; target: string }[]).map((d) => [d.code, d.target]),
      [
        ['ObjectConflict', 'onPremisesImmutableId'],
        ['ConflictingObjects', `User_${holder}`],
      ],
    );
  });

  it('a duplicate onPremisesImmutableId on update → the same conflict; the holder itself may keep it', async () => {
    await h.newUser('anchor2', { onPremisesImmutableId: 'RUZHSA==' });
    const other = await h.newUser('anchor3');
    const r = await h.call('PATCH', `/users/${other}`, { onPremisesImmutableId: 'RUZHSA==' });
    assert.equal(r.status, 400);
    assert.equal(
      errorOf(r).details && (errorOf(r).details as { target: string }[])[0]!.target,
      'onPremisesImmutableId',
    );
    const self = await h.newUser('anchor4', { onPremisesImmutableId: 'SUpLTA==' });
    assert.equal(
      (await h.call('PATCH', `/users/${self}`, { onPremisesImmutableId: 'SUpLTA==', jobTitle: 'x' })).status,
      204,
    );
  });

  // graph-facts-2 §4.3: $skip isn't supported on directory objects (microsoft-graph-docs#9279).
  for (const path of ['/users?$skip=10', '/groups?$skip=1']) {
    it(`${path} → 400 "'$skip' is not supported by the service."`, async () => {
      const r = await h.get(path);
      assert.equal(r.status, 400);
      assert.equal(errorOf(r).message, "'$skip' is not supported by the service.");
    });
  }

  // Unknown segments are the router's 400, never 404 Request_ResourceNotFound (which clients retry as lag).
  it('unknown relationship segments and actions → 400 segment error, not 404', async () => {
    const u = await h.newUser('seg');
    const g = await h.newGroup('seg');
    h.emu.seed({ directoryRoles: [{ roleTemplateId: '62e90394-69f5-4237-9190-012177145e10' }] });
    const role = (await h.get('/directoryRoles')).body.value[0].id as string;
    for (const path of [
      `/users/${u}/bogusRelation`,
      `/groups/${g}/bogusRelation`,
      `/users/${u}/memberOf/extra`,
      '/directory/bogus',
      `/applications/${h.emu.applicationObjectId}/bogus`,
      `/directoryRoles/${role}/bogus`,
    ]) {
      const r = await h.get(path);
      assert.equal(r.status, 400, path);
      assert.equal(errorOf(r).code, 'BadRequest', path);
      assert.match(errorOf(r).message, /^Resource not found for the segment '/, path);
    }
  });

  // Relationships/actions Graph has but the emulator doesn't implement: 501, not a 404 or a segment error.
  it('unimplemented relationships and actions → 501 NotImplemented', async () => {
    const u = await h.newUser('unimpl');
    const g = await h.newGroup('unimpl');
    for (const [method, path] of [
      ['GET', `/users/${u}/ownedObjects`],
      ['POST', `/users/${u}/revokeSignInSessions`],
      ['GET', `/groups/${g}/memberOf`],
    ] as const) {
      const r = await h.call(method, path);
      assert.equal(r.status, 501, path);
      assert.equal(errorOf(r).code, 'NotImplemented', path);
    }
  });

  // user-list-manager: GET /users/{id}?$expand=manager($select=…); known-issues: one level without $levels.
  it('$expand=manager on a user: the direct manager with the nested $select', async () => {
    const boss = await h.newUser('boss');
    const mid = await h.newUser('mid');
    const worker = await h.newUser('worker');
    for (const [u, m] of [
      [mid, boss],
      [worker, mid],
    ] as const) {
      assert.equal(
        (await h.call('PUT', `/users/${u}/manager/$ref`, { '@odata.id': `${h.emu.url}/v1.0/users/${m}` })).status,
        204,
      );
    }
    const r = await h.get(`/users/${worker}?$select=id&$expand=manager($select=id,displayName)`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.manager, { '@odata.type': '#microsoft.graph.user', id: mid, displayName: 'mid' });
    // $levels needs the advanced parameters; with them the chain nests.
    const bare = await h.get(`/users/${worker}?$expand=manager($levels=max;$select=id)`);
    assert.equal(bare.status, 400);
    assert.equal(errorOf(bare).code, 'Request_UnsupportedQuery');
    const chain = await h.get(`/users/${worker}?$expand=manager($levels=max;$select=id)&$count=true`, {
      ConsistencyLevel: 'eventual',
    });
    assert.equal(chain.body.manager.id, mid);
    assert.equal(chain.body.manager.manager.id, boss);
    // On the collection too (user-list-manager example 2).
    const list = await h.get(`/users?$filter=id eq '${worker}'&$expand=manager($select=id)`);
    assert.equal(list.body.value[0].manager.id, mid);
    const reports = await h.get(`/users/${boss}?$expand=directReports($select=id)`);
    assert.deepEqual(
      reports.body.directReports.map((x: { id: string }) => x.id),
      [mid],
    );
  });

  // known-issues: $expand on directory objects returns at most 20 related objects, no nextLink.
  it('$expand=members on a group returns at most 20 members', async () => {
    const g = await h.newGroup('big');
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push(await h.newUser(`m${i}`));
    for (const id of ids)
      await h.call('POST', `/groups/${g}/members/$ref`, { '@odata.id': `${h.emu.url}/v1.0/directoryObjects/${id}` });
    const r = await h.get(`/groups/${g}?$expand=members($select=id,userPrincipalName)`);
    assert.equal(r.status, 200);
    assert.equal(r.body.members.length, 20);
    assert.deepEqual(Object.keys(r.body.members[0]).sort(), ['@odata.type', 'id', 'userPrincipalName']);
    assert.equal(r.body['members@odata.nextLink'], undefined);
    const unknown = await h.get(`/groups/${g}?$expand=managers`);
    assert.equal(unknown.status, 400);
  });
});
