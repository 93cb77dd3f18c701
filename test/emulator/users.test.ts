/** Users (graph-facts §1): create, UPN rules, conflicts, read-only properties, update, soft delete and restore. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DOMAIN, NOT_FOUND, errorOf, harness, type Harness } from './helpers.js';

const PASSWORD = { password: 'Pa55w.rd!Pa55w.rd', forceChangePasswordNextSignIn: false };
const user = (upn: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  accountEnabled: true,
  displayName: upn,
  mailNickname: upn.split('@')[0],
  userPrincipalName: upn,
  passwordProfile: PASSWORD,
  ...extra,
});
const DEFAULT_SET = [
  'businessPhones',
  'displayName',
  'givenName',
  'id',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
];

describe('emulator: users', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.emu.close();
  });

  it('POST /users with the required properties → 201 with the default property set', async () => {
    const r = await h.call('POST', '/users', user(`adele@${DOMAIN}`, { jobTitle: 'Engineer', department: 'R&D' }));
    assert.equal(r.status, 201);
    assert.match(r.body['@odata.context'], /\/v1\.0\/\$metadata#users\/\$entity$/);
    const { '@odata.context': _, ...props } = r.body;
    assert.deepEqual(Object.keys(props).sort(), [...DEFAULT_SET].sort());
    assert.equal(props.jobTitle, 'Engineer');
    assert.deepEqual(props.businessPhones, []);
    assert.equal(props.mail, null);
  });

  for (const missing of ['accountEnabled', 'displayName', 'mailNickname', 'passwordProfile', 'userPrincipalName']) {
    it(`POST /users without ${missing} → 400 Request_BadRequest`, async () => {
      const body = user(`missing-${missing}@${DOMAIN}`);
      delete body[missing];
      const r = await h.call('POST', '/users', body);
      assert.equal(r.status, 400);
      assert.equal(errorOf(r).code, 'Request_BadRequest');
    });
  }

  it('accepts the initial domain for UPNs', async () => {
    const r = await h.call('POST', '/users', user(`init@${h.emu.initialDomain}`));
    assert.equal(r.status, 201);
  });

  it('rejects a UPN in a domain that is not verified', async () => {
    const r = await h.call('POST', '/users', user('bob@not-verified.example'));
    assert.equal(r.status, 400);
    assert.equal(errorOf(r).code, 'Request_BadRequest');
  });

  for (const [why, upn] of [
    ['no @', 'lhzc226#lhzc.cn'],
    ['two @', `a@b@${DOMAIN}`],
    ['an accent', `rené@${DOMAIN}`],
    ['a space', `a b@${DOMAIN}`],
    ['a dot before @', `bob.@${DOMAIN}`],
    ['65 characters before @', `${'a'.repeat(65)}@${DOMAIN}`],
  ] as const) {
    it(`rejects a UPN with ${why}: 400 "One or more properties contains invalid values."`, async () => {
      const r = await h.call('POST', '/users', user(upn));
      assert.equal(r.status, 400);
      const e = errorOf(r);
      assert.equal(e.code, 'Request_BadRequest');
      assert.equal(e.message, 'One or more properties contains invalid values.');
    });
  }

  it("accepts the allowed special characters ' . - _ ! # ^ ~ and 64 characters before @", async () => {
    assert.equal((await h.call('POST', '/users', user(`o'k.a-b_c!d#e^f~g@${DOMAIN}`))).status, 201);
    assert.equal((await h.call('POST', '/users', user(`${'b'.repeat(64)}@${DOMAIN}`))).status, 201);
  });

  it('rejects a domain part longer than 48 and a UPN longer than 113 characters', async () => {
    // Both domains would have to be verified to matter; the length rule applies first either way.
    const longDomain = `${'d'.repeat(45)}.example`;
    const r = await h.call('POST', '/users', user(`x@${longDomain}`));
    assert.equal(r.status, 400);
  });

  it('duplicate UPN → 400 with an ObjectConflict detail on userPrincipalName', async () => {
    await h.call('POST', '/users', user(`dup@${DOMAIN}`));
    const r = await h.call('POST', '/users', user(`DUP@${DOMAIN}`, { mailNickname: 'dup2' }));
    assert.equal(r.status, 400);
    const e = errorOf(r);
    assert.equal(e.code, 'Request_BadRequest');
    assert.equal(e.message, 'Another object with the same value for property userPrincipalName already exists.');
    assert.deepEqual(e.details, [{ target: 'userPrincipalName', code: 'ObjectConflict' }]);
  });

  it('mail feeds proxyAddresses; a mail another object holds → 400 proxyAddresses ObjectConflict', async () => {
    const a = await h.newUser('maila', { mail: `shared@${DOMAIN}` });
    const got = await h.get(`/users/${a}?$select=mail,proxyAddresses`);
    assert.deepEqual(got.body.proxyAddresses, [`SMTP:shared@${DOMAIN}`]);
    const b = await h.newUser('mailb');
    const r = await h.call('PATCH', `/users/${b}`, { mail: `Shared@${DOMAIN}` });
    assert.equal(r.status, 400);
    const e = errorOf(r);
    assert.equal(e.message, 'Another object with the same value for property proxyAddresses already exists.');
    const details = e.details as { code: string; target: string }[];
    assert.equal(details[0]!.code, 'ObjectConflict');
    assert.equal(details[0]!.target, 'proxyAddresses');
  });

  it('changing mail makes the new address primary and keeps the old one as secondary', async () => {
    const id = await h.newUser('remail', { mail: `old@${DOMAIN}` });
    assert.equal((await h.call('PATCH', `/users/${id}`, { mail: `new@${DOMAIN}` })).status, 204);
    const r = await h.get(`/users/${id}?$select=proxyAddresses`);
    assert.deepEqual(r.body.proxyAddresses, [`SMTP:new@${DOMAIN}`, `smtp:old@${DOMAIN}`]);
  });

  for (const prop of [
    'proxyAddresses',
    'onPremisesSyncEnabled',
    'onPremisesDistinguishedName',
    'onPremisesSamAccountName',
    'onPremisesSecurityIdentifier',
    'onPremisesUserPrincipalName',
    'onPremisesDomainName',
  ]) {
    it(`${prop} is read-only → 400`, async () => {
      const id = await h.newUser('ro');
      const value =
        prop === 'proxyAddresses' ? ['SMTP:x@contoso.example'] : prop === 'onPremisesSyncEnabled' ? true : 'x';
      const r = await h.call('PATCH', `/users/${id}`, { [prop]: value });
      assert.equal(r.status, 400);
      assert.equal(errorOf(r).code, 'Request_BadRequest');
    });
  }

  it('onPremisesImmutableId is writable, but not with $ or _', async () => {
    const id = await h.newUser('imm');
    assert.equal(
      (await h.call('PATCH', `/users/${id}`, { onPremisesImmutableId: 'AAECAwQFBgcICQoLDA0ODw==' })).status,
      204,
    );
    assert.equal(
      (await h.get(`/users/${id}?$select=onPremisesImmutableId`)).body.onPremisesImmutableId,
      'AAECAwQFBgcICQoLDA0ODw==',
    );
    assert.equal((await h.call('PATCH', `/users/${id}`, { onPremisesImmutableId: 'a_b' })).status, 400);
    assert.equal((await h.call('PATCH', `/users/${id}`, { onPremisesImmutableId: 'a$b' })).status, 400);
  });

  it('onPremisesExtensionAttributes are writable on cloud-only users', async () => {
    const id = await h.newUser('ext');
    assert.equal(
      (await h.call('PATCH', `/users/${id}`, { onPremisesExtensionAttributes: { extensionAttribute1: 'one' } })).status,
      204,
    );
    const r = await h.get(`/users/${id}?$select=onPremisesExtensionAttributes`);
    assert.equal(r.body.onPremisesExtensionAttributes.extensionAttribute1, 'one');
  });

  it('PATCH → 204 and leaves other properties alone; GET by id and by UPN', async () => {
    const id = await h.newUser('patch', { jobTitle: 'Before', department: 'Keep' });
    assert.equal((await h.call('PATCH', `/users/${id}`, { jobTitle: 'After' })).status, 204);
    const r = await h.get(`/users/${id}?$select=jobTitle,department,userPrincipalName`);
    assert.equal(r.body.jobTitle, 'After');
    assert.equal(r.body.department, 'Keep');
    const byUpn = await h.get(`/users/${encodeURIComponent(r.body.userPrincipalName)}?$select=id`);
    assert.equal(byUpn.status, 200);
    assert.equal(byUpn.body.id, id);
  });

  it('displayName cannot be cleared', async () => {
    const id = await h.newUser('clear');
    assert.equal((await h.call('PATCH', `/users/${id}`, { displayName: null })).status, 400);
  });

  it('GET of an unknown user → 404 Request_ResourceNotFound with the documented message', async () => {
    const id = '00000000-0000-0000-0000-000000000001';
    const r = await h.get(`/users/${id}`);
    assert.equal(r.status, 404);
    const e = errorOf(r);
    assert.equal(e.code, 'Request_ResourceNotFound');
    assert.equal(e.message, NOT_FOUND(id));
  });

  it('DELETE → 204, the user moves to /directory/deletedItems with deletedDateTime, restore → 200 directoryObject', async () => {
    const id = await h.newUser('gone');
    assert.equal((await h.call('DELETE', `/users/${id}`)).status, 204);
    assert.equal((await h.get(`/users/${id}`)).status, 404);
    const list = await h.get('/directory/deletedItems/microsoft.graph.user');
    const item = list.body.value.find((u: { id: string }) => u.id === id);
    assert.ok(item, 'listed in deletedItems');
    const one = await h.get(`/directory/deletedItems/${id}?$select=id,deletedDateTime`);
    assert.match(one.body.deletedDateTime, /^\d{4}-\d\d-\d\dT/);
    const restored = await h.call('POST', `/directory/deletedItems/${id}/restore`);
    assert.equal(restored.status, 200);
    assert.equal(restored.body['@odata.type'], '#microsoft.graph.user');
    assert.equal(restored.body.id, id);
    assert.equal((await h.get(`/users/${id}`)).status, 200);
    assert.equal((await h.get(`/directory/deletedItems/${id}`)).status, 404);
  });

  it('a deleted user leaves /users, and a restored one is listed exactly once', async () => {
    const id = await h.newUser('relist');
    const ids = async (): Promise<string[]> => {
      const out: string[] = [];
      let r = await h.get('/users?$select=id&$top=999');
      out.push(...r.body.value.map((u: { id: string }) => u.id));
      while (r.body['@odata.nextLink']) {
        r = await h.get(r.body['@odata.nextLink']);
        out.push(...r.body.value.map((u: { id: string }) => u.id));
      }
      return out.filter((x) => x === id);
    };
    await h.call('DELETE', `/users/${id}`);
    assert.deepEqual(await ids(), []);
    await h.call('POST', `/directory/deletedItems/${id}/restore`);
    assert.deepEqual(await ids(), [id]);
    assert.deepEqual((await h.get(`/users?$filter=${encodeURIComponent(`id eq '${id}'`)}&$select=id`)).body.value, [
      { id },
    ]);
  });

  it('permanent delete from deletedItems', async () => {
    const id = await h.newUser('purge');
    await h.call('DELETE', `/users/${id}`);
    assert.equal((await h.call('DELETE', `/directory/deletedItems/${id}`)).status, 204);
    assert.equal((await h.call('POST', `/directory/deletedItems/${id}/restore`)).status, 404);
  });

  it('unknown property in the body → 400', async () => {
    const r = await h.call('POST', '/users', user(`unk@${DOMAIN}`, { favouriteColour: 'blue' }));
    assert.equal(r.status, 400);
  });

  it('manager: PUT manager/$ref → 204, GET manager, directReports, DELETE → 204, then the documented 404', async () => {
    const boss = await h.newUser('boss');
    const worker = await h.newUser('worker');
    const put = await h.call('PUT', `/users/${worker}/manager/$ref`, {
      '@odata.id': `https://graph.microsoft.com/v1.0/users/${boss}`,
    });
    assert.equal(put.status, 204);
    const m = await h.get(`/users/${worker}/manager`);
    assert.equal(m.status, 200);
    assert.equal(m.body.id, boss);
    assert.deepEqual(
      (await h.get(`/users/${boss}/directReports`)).body.value.map((x: { id: string }) => x.id),
      [worker],
    );
    assert.equal((await h.call('DELETE', `/users/${worker}/manager/$ref`)).status, 204);
    const none = await h.get(`/users/${worker}/manager`);
    assert.equal(none.status, 404);
    assert.equal(
      errorOf(none).message,
      "Resource 'manager' does not exist or one of its queried reference-property objects are not present.",
    );
  });

  it('memberOf and transitiveMemberOf', async () => {
    const u = await h.newUser('memberof');
    const inner = await h.newGroup('mo-inner');
    const outer = await h.newGroup('mo-outer');
    const ref = (id: string): { '@odata.id': string } => ({
      '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${id}`,
    });
    await h.call('POST', `/groups/${inner}/members/$ref`, ref(u));
    await h.call('POST', `/groups/${outer}/members/$ref`, ref(inner));
    assert.deepEqual(
      (await h.get(`/users/${u}/memberOf`)).body.value.map((g: { id: string }) => g.id),
      [inner],
    );
    assert.deepEqual(
      (await h.get(`/users/${u}/transitiveMemberOf`)).body.value.map((g: { id: string }) => g.id).sort(),
      [inner, outer].sort(),
    );
  });
});
