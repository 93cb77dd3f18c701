/** Groups, members, contacts, organization and domains (graph-facts §2, §3). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { NOT_FOUND, errorOf, harness, type Harness } from './helpers.js';

const ALREADY = "One or more added object references already exist for the following modified properties: 'members'.";
const MAIL_ENABLED = 'Cannot Create a mail-enabled security groups and or distribution list.';

describe('emulator: groups and members', () => {
  let h: Harness;
  const ref = (id: string): { '@odata.id': string } => ({
    '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${id}`,
  });
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.emu.close();
  });

  it('POST a security group → 201 with securityIdentifier, mail null, proxyAddresses []', async () => {
    const r = await h.call('POST', '/groups', {
      displayName: 'Sec',
      mailEnabled: false,
      securityEnabled: true,
      mailNickname: 'sec',
      groupTypes: [],
    });
    assert.equal(r.status, 201);
    assert.match(r.body.securityIdentifier, /^S-1-12-1-/);
    assert.equal(r.body.mail, null);
    assert.deepEqual(r.body.proxyAddresses, []);
    assert.equal(r.body.onPremisesSyncEnabled, null);
    assert.equal(typeof r.body['@odata.id'], 'string');
  });

  it('POST a Microsoft 365 group → 201', async () => {
    const r = await h.call('POST', '/groups', {
      displayName: 'Team',
      mailEnabled: true,
      securityEnabled: false,
      mailNickname: 'team',
      groupTypes: ['Unified'],
    });
    assert.equal(r.status, 201);
    assert.deepEqual(r.body.groupTypes, ['Unified']);
  });

  for (const missing of ['displayName', 'mailEnabled', 'mailNickname', 'securityEnabled']) {
    it(`POST /groups without ${missing} → 400`, async () => {
      const body: Record<string, unknown> = {
        displayName: 'X',
        mailEnabled: false,
        securityEnabled: true,
        mailNickname: 'x',
      };
      delete body[missing];
      assert.equal((await h.call('POST', '/groups', body)).status, 400);
    });
  }

  it('mailNickname with a forbidden character → 400', async () => {
    assert.equal(
      (
        await h.call('POST', '/groups', {
          displayName: 'X',
          mailEnabled: false,
          securityEnabled: true,
          mailNickname: 'a b',
        })
      ).status,
      400,
    );
  });

  for (const [kind, securityEnabled] of [
    ['mail-enabled security group', true],
    ['distribution list', false],
  ] as const) {
    it(`creating a ${kind} → 400 with the documented message`, async () => {
      const r = await h.call('POST', '/groups', {
        displayName: 'M',
        mailEnabled: true,
        securityEnabled,
        mailNickname: 'm',
        groupTypes: [],
      });
      assert.equal(r.status, 400);
      assert.equal(errorOf(r).message, MAIL_ENABLED);
    });
  }

  it('POST members/$ref → 204; again → 400 already exist; unknown object → 404', async () => {
    const g = await h.newGroup('g1');
    const u = await h.newUser('m1');
    assert.equal((await h.call('POST', `/groups/${g}/members/$ref`, ref(u))).status, 204);
    const again = await h.call('POST', `/groups/${g}/members/$ref`, ref(u));
    assert.equal(again.status, 400);
    assert.equal(errorOf(again).code, 'Request_BadRequest');
    assert.equal(errorOf(again).message, ALREADY);
    const missing = randomUUID();
    const nf = await h.call('POST', `/groups/${g}/members/$ref`, ref(missing));
    assert.equal(nf.status, 404);
    assert.equal(errorOf(nf).code, 'Request_ResourceNotFound');
    assert.equal(errorOf(nf).message, NOT_FOUND(missing));
  });

  it('GET members lists direct members with @odata.type; DELETE members/{id}/$ref → 204', async () => {
    const g = await h.newGroup('g2');
    const u = await h.newUser('m2');
    const inner = await h.newGroup('inner');
    await h.call('POST', `/groups/${g}/members/$ref`, ref(u));
    await h.call('POST', `/groups/${g}/members/$ref`, ref(inner));
    const r = await h.get(`/groups/${g}/members?$select=id`);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.value.map((m: Record<string, string>) => [m['@odata.type'], m['id']]),
      [
        ['#microsoft.graph.user', u],
        ['#microsoft.graph.group', inner],
      ],
    );
    assert.equal((await h.call('DELETE', `/groups/${g}/members/${u}/$ref`)).status, 204);
    assert.deepEqual(
      (await h.get(`/groups/${g}/members?$select=id`)).body.value.map((m: { id: string }) => m.id),
      [inner],
    );
    assert.equal((await h.call('DELETE', `/groups/${g}/members/${u}/$ref`)).status, 404);
  });

  it('transitiveMembers expands nested groups', async () => {
    const outer = await h.newGroup('outer');
    const mid = await h.newGroup('mid');
    const a = await h.newUser('ta');
    const b = await h.newUser('tb');
    await h.call('POST', `/groups/${outer}/members/$ref`, ref(a));
    await h.call('POST', `/groups/${outer}/members/$ref`, ref(mid));
    await h.call('POST', `/groups/${mid}/members/$ref`, ref(b));
    const r = await h.get(`/groups/${outer}/transitiveMembers?$select=id`);
    assert.deepEqual(r.body.value.map((m: { id: string }) => m.id).sort(), [a, mid, b].sort());
  });

  it('PATCH members@odata.bind adds up to 20 members → 204', async () => {
    const g = await h.newGroup('bulk');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await h.newUser(`b${i}`));
    const r = await h.call('PATCH', `/groups/${g}`, {
      'members@odata.bind': ids.map((id) => `https://graph.microsoft.com/v1.0/directoryObjects/${id}`),
    });
    assert.equal(r.status, 204);
    assert.equal((await h.get(`/groups/${g}/members?$select=id`)).body.value.length, 20);
  });

  it('members@odata.bind with 21 references → 400 and nothing added', async () => {
    const g = await h.newGroup('bulk21');
    const ids: string[] = [];
    for (let i = 0; i < 21; i++) ids.push(await h.newUser(`c${i}`));
    const r = await h.call('PATCH', `/groups/${g}`, {
      'members@odata.bind': ids.map((id) => `https://graph.microsoft.com/v1.0/directoryObjects/${id}`),
    });
    assert.equal(r.status, 400);
    assert.equal((await h.get(`/groups/${g}/members`)).body.value.length, 0);
  });

  it('members@odata.bind is atomic: one missing object → 404 and no member added', async () => {
    const g = await h.newGroup('atomic');
    const u = await h.newUser('at');
    const missing = randomUUID();
    const r = await h.call('PATCH', `/groups/${g}`, {
      'members@odata.bind': [u, missing].map((id) => `https://graph.microsoft.com/v1.0/directoryObjects/${id}`),
    });
    assert.equal(r.status, 404);
    assert.equal(errorOf(r).message, NOT_FOUND(missing));
    assert.equal((await h.get(`/groups/${g}/members`)).body.value.length, 0);
  });

  it('members@odata.bind on create', async () => {
    const u = await h.newUser('oncreate');
    const r = await h.call('POST', '/groups', {
      displayName: 'WithMembers',
      mailEnabled: false,
      securityEnabled: true,
      mailNickname: 'wm',
      'members@odata.bind': [`https://graph.microsoft.com/v1.0/directoryObjects/${u}`],
    });
    assert.equal(r.status, 201);
    assert.deepEqual(
      (await h.get(`/groups/${r.body.id}/members?$select=id`)).body.value.map((m: { id: string }) => m.id),
      [u],
    );
  });

  it('deleting a security group is permanent; a Microsoft 365 group goes to deletedItems', async () => {
    const sec = await h.newGroup('delsec');
    assert.equal((await h.call('DELETE', `/groups/${sec}`)).status, 204);
    assert.equal((await h.get(`/directory/deletedItems/${sec}`)).status, 404);
    const m365 = await h.newGroup('delm365', { groupTypes: ['Unified'], mailEnabled: true, securityEnabled: false });
    assert.equal((await h.call('DELETE', `/groups/${m365}`)).status, 204);
    const d = await h.get(`/directory/deletedItems/${m365}`);
    assert.equal(d.status, 200);
    assert.equal(d.body['@odata.type'], '#microsoft.graph.group');
    const list = await h.get('/directory/deletedItems/microsoft.graph.group');
    assert.ok(list.body.value.some((g: { id: string }) => g.id === m365));
  });

  it('DELETE members/{id} without /$ref deletes the member object itself', async () => {
    const g = await h.newGroup('noref');
    const u = await h.newUser('victim');
    await h.call('POST', `/groups/${g}/members/$ref`, ref(u));
    assert.equal((await h.call('DELETE', `/groups/${g}/members/${u}`)).status, 204);
    assert.equal((await h.get(`/users/${u}`)).status, 404);
  });

  it('displayName of a group cannot be cleared', async () => {
    const g = await h.newGroup('named');
    assert.equal((await h.call('PATCH', `/groups/${g}`, { displayName: null })).status, 400);
    assert.equal((await h.call('PATCH', `/groups/${g}`, { description: 'ok' })).status, 204);
  });

  it('seeded mail-enabled security groups are read-only: members cannot be changed', async () => {
    const id = randomUUID();
    h.emu.seed({
      groups: [
        {
          id,
          displayName: 'MESG',
          mailEnabled: true,
          securityEnabled: true,
          mailNickname: 'mesg',
          mail: 'mesg@contoso.example',
          groupTypes: [],
        },
      ],
    });
    const u = await h.newUser('mesgm');
    const r = await h.call('POST', `/groups/${id}/members/$ref`, ref(u));
    assert.equal(r.status, 400);
    assert.equal((await h.get(`/groups/${id}?$select=mailEnabled,securityEnabled`)).body.mailEnabled, true);
  });
});

describe('emulator: contacts, organization, domains', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ initialDomain: 'fabrikam.onmicrosoft.com' });
  });
  after(async () => {
    await h.emu.close();
  });

  it('contacts are readable', async () => {
    const id = randomUUID();
    h.emu.seed({
      contacts: [{ id, displayName: 'Partner', mail: 'partner@example.org', onPremisesSyncEnabled: true }],
    });
    const r = await h.get(`/contacts/${id}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.displayName, 'Partner');
    assert.deepEqual(r.body.proxyAddresses, ['SMTP:partner@example.org']);
    assert.ok((await h.get('/contacts')).body.value.some((c: { id: string }) => c.id === id));
  });

  it('POST /contacts → 405 "Specified HTTP method is not allowed for the request target."', async () => {
    const r = await h.call('POST', '/contacts', { displayName: 'New contact' });
    assert.equal(r.status, 405);
    assert.equal(errorOf(r).message, 'Specified HTTP method is not allowed for the request target.');
  });

  it('a contact may be a group member', async () => {
    const id = randomUUID();
    h.emu.seed({ contacts: [{ id, displayName: 'C2' }] });
    const g = await h.newGroup('withcontact');
    assert.equal(
      (
        await h.call('POST', `/groups/${g}/members/$ref`, {
          '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${id}`,
        })
      ).status,
      204,
    );
    assert.equal((await h.get(`/groups/${g}/members`)).body.value[0]['@odata.type'], '#microsoft.graph.orgContact');
  });

  it('/organization lists verifiedDomains with the initial domain marked isInitial', async () => {
    const r = await h.get('/organization');
    assert.equal(r.status, 200);
    const org = r.body.value[0];
    assert.equal(org.id, h.emu.tenantId);
    const names = org.verifiedDomains.map((d: { name: string; isInitial: boolean }) => [d.name, d.isInitial]);
    assert.deepEqual(names, [
      ['fabrikam.onmicrosoft.com', true],
      ['contoso.example', false],
    ]);
  });

  it('/domains lists every verified domain', async () => {
    const r = await h.get('/domains');
    assert.deepEqual(
      r.body.value.map((d: { id: string; isVerified: boolean }) => [d.id, d.isVerified]),
      [
        ['fabrikam.onmicrosoft.com', true],
        ['contoso.example', true],
      ],
    );
  });
});
