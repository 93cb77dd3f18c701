/** Query options (graph-facts §4) and directory extensions (graph-facts §11). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DOMAIN, errorOf, harness, type Harness } from './helpers.js';

const EVENTUAL = { ConsistencyLevel: 'eventual' };

describe('emulator: query options', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
    const users = [];
    for (let i = 0; i < 250; i++) {
      users.push({
        displayName: `Person ${String(i).padStart(3, '0')}`,
        userPrincipalName: `person${i}@${DOMAIN}`,
        mailNickname: `person${i}`,
        accountEnabled: true,
        mail: `person${i}@${DOMAIN}`,
        department: i % 2 === 0 ? 'Even' : 'Odd',
      });
    }
    h.emu.seed({ users });
  });
  after(async () => {
    await h.emu.close();
  });

  it('default page size is 100, with an absolute https nextLink carrying $skiptoken, until the last page', async () => {
    let r = await h.get('/users');
    assert.equal(r.body.value.length, 100);
    const pages = [r.body.value.length];
    while (r.body['@odata.nextLink']) {
      const next: string = r.body['@odata.nextLink'];
      assert.ok(next.startsWith(`${h.emu.url}/v1.0/users?`), next);
      assert.match(next, /\$skiptoken=/);
      r = await h.get(next);
      pages.push(r.body.value.length);
    }
    assert.deepEqual(pages, [100, 100, 50]);
  });

  it('$top=999 is allowed; $top=1000 → 400 with the documented message; $top=0 → 400', async () => {
    assert.equal((await h.get('/users?$top=999')).body.value.length, 250);
    const r = await h.get('/users?$top=1000');
    assert.equal(r.status, 400);
    assert.equal(errorOf(r).message, "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.");
    assert.equal((await h.get('/users?$top=0')).status, 400);
  });

  it('$select returns exactly the selected properties', async () => {
    const r = await h.get('/users?$top=1&$select=displayName,department');
    assert.deepEqual(Object.keys(r.body.value[0]).sort(), ['department', 'displayName']);
    assert.match(r.body['@odata.context'], /#users\(displayName,department\)$/);
  });

  it('$filter eq, in and startsWith', async () => {
    const eq = await h.get(
      `/users?$filter=${encodeURIComponent(`userPrincipalName eq 'PERSON7@${DOMAIN}'`)}&$select=mailNickname`,
    );
    assert.deepEqual(eq.body.value, [{ mailNickname: 'person7' }]);
    const inn = await h.get(
      `/users?$filter=${encodeURIComponent("mailNickname in ('person1','person2','nobody')")}&$select=mailNickname`,
    );
    assert.deepEqual(
      inn.body.value.map((u: { mailNickname: string }) => u.mailNickname),
      ['person1', 'person2'],
    );
    const sw = await h.get(
      `/users?$filter=${encodeURIComponent("startsWith(displayName,'Person 00')")}&$select=displayName`,
    );
    assert.equal(sw.body.value.length, 10);
    const and = await h.get(
      `/users?$filter=${encodeURIComponent("startsWith(displayName,'Person 00') and department eq 'Odd'")}&$select=displayName`,
    );
    assert.equal(and.body.value.length, 5);
  });

  it('lambda on proxyAddresses', async () => {
    const r = await h.get(
      `/users?$filter=${encodeURIComponent(`proxyAddresses/any(p:p eq 'SMTP:person9@${DOMAIN}')`)}&$select=mailNickname`,
    );
    assert.deepEqual(r.body.value, [{ mailNickname: 'person9' }]);
  });

  it('a filtered result pages with nextLink too', async () => {
    const r = await h.get(`/users?$filter=${encodeURIComponent("department eq 'Even'")}&$top=100&$select=id`);
    assert.equal(r.body.value.length, 100);
    const r2 = await h.get(r.body['@odata.nextLink']);
    assert.equal(r2.body.value.length, 25);
    assert.equal(r2.body['@odata.nextLink'], undefined);
  });

  it('ne without ConsistencyLevel: eventual and $count=true → 400 Request_UnsupportedQuery; with them it works', async () => {
    const f = encodeURIComponent("department ne 'Even'");
    const r = await h.get(`/users?$filter=${f}`);
    assert.equal(r.status, 400);
    assert.equal(errorOf(r).code, 'Request_UnsupportedQuery');
    assert.equal((await h.get(`/users?$filter=${f}`, EVENTUAL)).status, 400, 'the header alone is not enough');
    const ok = await h.get(`/users?$filter=${f}&$count=true&$top=999`, EVENTUAL);
    assert.equal(ok.status, 200);
    assert.equal(ok.body['@odata.count'], 125);
  });

  it('endsWith needs the advanced parameters and works only on mail, otherMails, userPrincipalName, proxyAddresses', async () => {
    const upn = encodeURIComponent(`endsWith(userPrincipalName,'9@${DOMAIN}')`);
    assert.equal((await h.get(`/users?$filter=${upn}`)).status, 400);
    const ok = await h.get(`/users?$filter=${upn}&$count=true`, EVENTUAL);
    assert.equal(ok.status, 200);
    assert.equal(ok.body['@odata.count'], 25);
    const bad = await h.get(`/users?$filter=${encodeURIComponent("endsWith(displayName,'9')")}&$count=true`, EVENTUAL);
    assert.equal(bad.status, 400);
    assert.equal(errorOf(bad).code, 'Request_UnsupportedQuery');
  });

  it('$count=true without the header is ignored; with it @odata.count is on the first page only', async () => {
    const plain = await h.get('/users?$count=true');
    assert.equal(plain.status, 200);
    assert.equal(plain.body['@odata.count'], undefined);
    const first = await h.get('/users?$count=true&$top=200', EVENTUAL);
    assert.equal(first.body['@odata.count'], 250);
    const second = await h.get(first.body['@odata.nextLink'], EVENTUAL);
    assert.equal(second.body['@odata.count'], undefined);
  });

  it('/users/$count without the header → 400 "$count is not currently supported."; with it → the number', async () => {
    const r = await h.get('/users/$count');
    assert.equal(r.status, 400);
    assert.equal(errorOf(r).code, 'Request_BadRequest');
    assert.equal(errorOf(r).message, '$count is not currently supported.');
    const ok = await h.get('/users/$count', EVENTUAL);
    assert.equal(ok.status, 200);
    assert.equal(ok.body, '250');
  });

  it('$search without the header → 400 Request_UnsupportedQuery with the documented message', async () => {
    const r = await h.get(`/users?$search=${encodeURIComponent('"displayName:Person"')}`);
    assert.equal(r.status, 400);
    assert.equal(errorOf(r).code, 'Request_UnsupportedQuery');
    assert.equal(
      errorOf(r).message,
      "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
    );
  });

  it('$orderby=displayName works without advanced parameters and pages in order', async () => {
    const r = await h.get('/users?$orderby=displayName desc&$top=200&$select=displayName');
    assert.equal(r.status, 200);
    assert.equal(r.body.value[0].displayName, 'Person 249');
    const r2 = await h.get(r.body['@odata.nextLink']);
    assert.deepEqual(r2.body.value.map((u: { displayName: string }) => u.displayName).slice(-1), ['Person 000']);
    assert.equal(r2.body.value.length, 50);
  });

  it('$orderby with $filter, or on another property, needs the advanced parameters → 400 Request_UnsupportedQuery', async () => {
    const both = await h.get(`/users?$orderby=displayName&$filter=${encodeURIComponent("department eq 'Odd'")}`);
    assert.equal(both.status, 400);
    assert.equal(errorOf(both).code, 'Request_UnsupportedQuery');
    assert.equal((await h.get('/users?$orderby=department')).status, 400);
    const ok = await h.get(
      `/users?$orderby=displayName&$filter=${encodeURIComponent("department eq 'Odd'")}&$count=true`,
      EVENTUAL,
    );
    assert.equal(ok.status, 200);
    assert.equal(ok.body['@odata.count'], 125);
    assert.equal(ok.body.value[0].displayName, 'Person 001');
  });

  it('$select of a property stored outside Entra (skills) → 501 NotImplemented', async () => {
    const r = await h.get('/users?$select=id,skills');
    assert.equal(r.status, 501);
    assert.equal(errorOf(r).code, 'NotImplemented');
    assert.equal(errorOf(r).message, 'This operation target is not yet supported.');
  });

  it('an unknown property in $select → 400', async () => {
    assert.equal((await h.get('/users?$select=noSuchProperty')).status, 400);
  });
});

describe('emulator: directory extensions', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.emu.close();
  });

  it('finds the application by appId and registers extension properties usable on users and groups', async () => {
    const apps = await h.get(`/applications?$filter=${encodeURIComponent(`appId eq '${h.emu.clientId}'`)}`);
    assert.equal(apps.status, 200);
    assert.equal(apps.body.value.length, 1);
    assert.equal(apps.body.value[0].id, h.emu.applicationObjectId);

    const created = await h.call('POST', `/applications/${h.emu.applicationObjectId}/extensionProperties`, {
      name: 'anchor',
      dataType: 'String',
      targetObjects: ['User', 'Group'],
    });
    assert.equal(created.status, 201);
    const name = `extension_${h.emu.clientId.replace(/-/g, '')}_anchor`;
    assert.equal(created.body.name, name);
    assert.deepEqual(created.body.targetObjects, ['User', 'Group']);

    const u = await h.newUser('extu', { [name]: 'abc=' });
    const g = await h.newGroup('extg');
    assert.equal((await h.call('PATCH', `/groups/${g}`, { [name]: 'grp=' })).status, 204);

    // Not in the default set; selectable; filterable with eq.
    assert.equal((await h.get(`/users/${u}`)).body[name], undefined);
    assert.equal((await h.get(`/users/${u}?$select=id,${name}`)).body[name], 'abc=');
    const f = await h.get(`/users?$filter=${encodeURIComponent(`${name} eq 'abc='`)}&$select=id`);
    assert.deepEqual(f.body.value, [{ id: u }]);
    const fg = await h.get(`/groups?$filter=${encodeURIComponent(`${name} eq 'grp='`)}&$select=id,${name}`);
    assert.deepEqual(fg.body.value, [{ id: g, [name]: 'grp=' }]);

    // Set null to remove.
    assert.equal((await h.call('PATCH', `/users/${u}`, { [name]: null })).status, 204);
    assert.equal((await h.get(`/users?$filter=${encodeURIComponent(`${name} eq 'abc='`)}`)).body.value.length, 0);
  });

  it('an unregistered extension property → 400', async () => {
    const id = await h.newUser('noext');
    const r = await h.call('PATCH', `/users/${id}`, { extension_00000000000000000000000000000000_x: 'v' });
    assert.equal(r.status, 400);
  });

  it('a value of the wrong data type → 400', async () => {
    await h.call('POST', `/applications/${h.emu.applicationObjectId}/extensionProperties`, {
      name: 'count',
      dataType: 'Integer',
      targetObjects: ['User'],
    });
    const id = await h.newUser('badext');
    const r = await h.call('PATCH', `/users/${id}`, {
      [`extension_${h.emu.clientId.replace(/-/g, '')}_count`]: 'seven',
    });
    assert.equal(r.status, 400);
  });
});
