/**
 * Objects mastered by Entra Connect and the source-of-authority switch (issue 12 item 2), written from the docs
 * graph-facts-2.md §1–§3 cites; each test names its source. Plain HTTPS calls against a fixture-loaded tenant.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { loadFixtures } from '../../src/emulator/index.js';
import { errorOf, getToken, harness, type Harness } from './helpers.js';

const EXAMPLE = join(
  fileURLToPath(new URL('../../../', import.meta.url)),
  'examples',
  'emulator-fixtures',
  'entra-connect-tenant.yaml',
);
const MASTERED =
  'Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.';
const E3 = '6fd2c87f-b296-42f0-b197-1e91e994b900';

describe('emulator: objects mastered by Entra Connect', () => {
  let h: Harness;
  let finance: string;
  let alice: string;
  let bob: string;
  /** A token with extra application permissions (tokens carry the roles granted when issued). */
  let withRoles: (roles: string[]) => Promise<Record<string, string>>;
  before(async () => {
    h = await harness({ initialDomain: 'contoso.onmicrosoft.com', fixture: await loadFixtures([EXAMPLE]) });
    finance = (await h.get("/groups?$filter=displayName eq 'Finance'")).body.value[0].id;
    alice = (await h.get('/users/alice@contoso.com')).body.id;
    bob = (await h.get('/users/bob@contoso.com')).body.id;
    withRoles = async (roles) => {
      h.emu.setRoles(['User.ReadWrite.All', 'Group.ReadWrite.All', 'Organization.Read.All', ...roles]);
      return { Authorization: `Bearer ${await getToken(h.emu)}` };
    };
  });
  after(async () => {
    await h.emu.close();
  });

  // [O] graph-facts-2 §1: microsoft-graph-docs#7301, #18038; [D] ED how-to-user-source-of-authority-configure.
  it('PATCH of an AD-mastered property of a synced user → 400 Request_BadRequest (directory-synced)', async () => {
    const r = await h.call('PATCH', `/users/${alice}`, { department: 'Treasury' });
    assert.equal(r.status, 400);
    assert.deepEqual([errorOf(r).code, errorOf(r).message], ['Request_BadRequest', MASTERED]);
    assert.equal((await h.get(`/users/${alice}?$select=department`)).body.department, 'Finance');
  });

  // [D] user.md: onPremisesExtensionAttributes are read-only for synced users; mobilePhone/businessPhones too.
  for (const body of [
    { onPremisesExtensionAttributes: { extensionAttribute1: 'x' } },
    { mobilePhone: '+1 555 0100' },
    { businessPhones: ['+1 555 0101'] },
    { passwordProfile: { password: 'N3w-Pa55w.rd!x' } },
  ]) {
    it(`PATCH ${Object.keys(body)[0]} of a synced user → 400`, async () => {
      const r = await h.call('PATCH', `/users/${alice}`, body);
      assert.equal(r.status, 400);
      assert.equal(errorOf(r).code, 'Request_BadRequest');
    });
  }

  // [O] graph-facts-2 §1 "Still writable": usageLocation (Connect exports it only when AD has a value).
  it('usageLocation stays writable on a synced user', async () => {
    const r = await h.call('PATCH', `/users/${bob}`, { usageLocation: 'CA' });
    assert.equal(r.status, 204);
  });

  // [D-old]/[O] graph-facts-2 §1: licensing is the one thing not mastered on-premises.
  it('assignLicense works on a synced user', async () => {
    const r = await h.call('POST', `/users/${bob}/assignLicense`, {
      addLicenses: [{ skuId: E3, disabledPlans: [] }],
      removeLicenses: [],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const s = await h.get(`/users/${bob}?$select=licenseAssignmentStates`);
    assert.deepEqual(
      s.body.licenseAssignmentStates.map((x: { assignedByGroup: string | null }) => x.assignedByGroup === null).sort(),
      [false, true],
    );
  });

  // [O] graph-facts-2 §1 (members of a synced group); [D] SOA overview: editable only after conversion.
  it('adding or removing members of a synced group → 400 directory-synced', async () => {
    const carol = (await h.get('/users/carol@contoso.com')).body.id;
    const add = await h.call('POST', `/groups/${finance}/members/$ref`, {
      '@odata.id': `${h.emu.url}/v1.0/directoryObjects/${carol}`,
    });
    assert.deepEqual([add.status, errorOf(add).message], [400, MASTERED]);
    const bind = await h.call('PATCH', `/groups/${finance}`, {
      'members@odata.bind': [`${h.emu.url}/v1.0/directoryObjects/${carol}`],
    });
    assert.deepEqual([bind.status, errorOf(bind).message], [400, MASTERED]);
    const del = await h.call('DELETE', `/groups/${finance}/members/${bob}/$ref`);
    assert.deepEqual([del.status, errorOf(del).message], [400, MASTERED]);
  });

  // Cloud group membership isn't an AD property (graph-facts-2 §1 "Still writable").
  it('a synced user can join a cloud group', async () => {
    const g = await h.newGroup('cloudgroup');
    const r = await h.call('POST', `/groups/${g}/members/$ref`, {
      '@odata.id': `${h.emu.url}/v1.0/directoryObjects/${alice}`,
    });
    assert.equal(r.status, 204);
  });

  // [n/v] graph-facts-2 §1: Connect flows manager from AD; treated as AD-owned.
  it('the manager of a synced user is AD-owned', async () => {
    const r = await h.call('DELETE', `/users/${bob}/manager/$ref`);
    assert.deepEqual([r.status, errorOf(r).message], [400, MASTERED]);
  });

  // [O] graph-facts-2 §1: msgraph-sdk-powershell#3238.
  it('DELETE of a synced contact → 400 "Data contract version does not allow …"', async () => {
    h.emu.seed({
      contacts: [
        {
          id: '0c0c0c0c-0000-4000-8000-000000000001',
          displayName: 'Ext',
          mail: 'ext@fabrikam.example',
          onPremisesSyncEnabled: true,
        },
      ],
    });
    const r = await h.call('DELETE', '/contacts/0c0c0c0c-0000-4000-8000-000000000001');
    assert.equal(r.status, 400);
    assert.equal(
      errorOf(r).message,
      "Data contract version does not allow 'Delete' operations against instances of resource 'OrgContact'.",
    );
  });

  // Entra Connect writes directory extensions synced from AD (isSyncedFromOnPremises) — AD-mastered like the rest.
  it('a directory extension synced from on-premises is AD-mastered on a synced user', async () => {
    const r = await h.call('PATCH', `/users/${bob}`, {
      extension_0a4b5c6d111122223333444455556666_employeeNumber: '9',
    });
    assert.deepEqual([r.status, errorOf(r).message], [400, MASTERED]);
  });

  // [D] user.md onPremisesExtensionAttributes: read-only in Graph for a cloud user previously synced.
  it('onPremisesExtensionAttributes of a converted (previously synced) user → 400 "… originated within an external service."', async () => {
    const r = await h.call('PATCH', '/users/carol@contoso.com', {
      onPremisesExtensionAttributes: { extensionAttribute1: 'x' },
    });
    assert.deepEqual(
      [r.status, errorOf(r).message],
      [400, 'Unable to update the specified properties for objects that have originated within an external service.'],
    );
    assert.equal((await h.call('PATCH', '/users/carol@contoso.com', { jobTitle: 'Cloud now' })).status, 204);
  });

  // [D] ED how-to-user/group-source-of-authority-configure; DC beta onpremisessyncbehavior-get/-update.
  it('source-of-authority switch: needs its permission; then PATCH isCloudManaged → 200, onPremisesSyncEnabled null, writes succeed', async () => {
    const denied = await h.call('PATCH', `/groups/${finance}/onPremisesSyncBehavior`, { isCloudManaged: true });
    assert.deepEqual([denied.status, errorOf(denied).code], [403, 'Authorization_RequestDenied']);
    const auth = await withRoles([
      'Group-OnPremisesSyncBehavior.ReadWrite.All',
      'User-OnPremisesSyncBehavior.ReadWrite.All',
    ]);
    const before = await h.call('GET', `/groups/${finance}/onPremisesSyncBehavior`, undefined, auth);
    assert.deepEqual([before.status, before.body.id, before.body.isCloudManaged], [200, finance, false]);
    const r = await h.call('PATCH', `/groups/${finance}/onPremisesSyncBehavior`, { isCloudManaged: true }, auth);
    assert.deepEqual([r.status, r.body.id, r.body.isCloudManaged], [200, finance, true]);
    const g = await h.call(
      'GET',
      `/groups/${finance}?$select=onPremisesSyncEnabled,onPremisesSecurityIdentifier`,
      undefined,
      auth,
    );
    assert.equal(g.body.onPremisesSyncEnabled, null);
    assert.equal(g.body.onPremisesSecurityIdentifier, 'S-1-5-21-1004336348-1177238915-682003330-2201'); // mirrors kept
    const carol = (await h.get('/users/carol@contoso.com')).body.id;
    const add = await h.call(
      'POST',
      `/groups/${finance}/members/$ref`,
      { '@odata.id': `${h.emu.url}/v1.0/directoryObjects/${carol}` },
      auth,
    );
    assert.equal(add.status, 204);
    const u = await h.call('PATCH', `/users/${alice}/onPremisesSyncBehavior`, { isCloudManaged: true }, auth);
    assert.equal(u.status, 200);
    assert.equal((await h.call('PATCH', `/users/${alice}`, { department: 'Treasury' }, auth)).status, 204);
    // Switching back: isCloudManaged false, onPremisesSyncEnabled stays null until a sync client takes over (§2.5).
    const back = await h.call('PATCH', `/users/${alice}/onPremisesSyncBehavior`, { isCloudManaged: false }, auth);
    assert.deepEqual([back.status, back.body.isCloudManaged], [200, false]);
    assert.equal(
      (await h.call('GET', `/users/${alice}?$select=onPremisesSyncEnabled`, undefined, auth)).body
        .onPremisesSyncEnabled,
      null,
    );
  });

  // [O] graph-facts-2 §1: DELETE of a synced user is allowed (KB 2619062).
  it('DELETE of a synced user → 204 (soft-deleted)', async () => {
    const auth = await withRoles([]);
    const r = await h.call('DELETE', `/users/${bob}`, undefined, auth);
    assert.equal(r.status, 204);
    assert.equal((await h.call('GET', `/directory/deletedItems/${bob}`, undefined, auth)).status, 200);
  });

  // [D] onpremisesdirectorysynchronization-get: no application permission listed; flags as the fixture set them.
  it('the directory sync feature flags that block hard-match takeover read as the fixture set them', async () => {
    const denied = await h.call('GET', '/directory/onPremisesSynchronization', undefined, await withRoles([]));
    assert.equal(denied.status, 403);
    const auth = await withRoles(['OnPremDirectorySynchronization.ReadWrite.All']);
    const r = await h.call('GET', '/directory/onPremisesSynchronization', undefined, auth);
    assert.equal(r.status, 200);
    const s = r.body.value[0];
    assert.equal(s.id, h.emu.tenantId);
    assert.equal(s.features.blockCloudObjectTakeoverThroughHardMatchEnabled, true);
    assert.equal(s.features.blockSoftMatchEnabled, true);
    assert.equal(s.features.softMatchOnUpnEnabled, false);
    const off = await h.call(
      'PATCH',
      `/directory/onPremisesSynchronization/${h.emu.tenantId}`,
      { features: { blockCloudObjectTakeoverThroughHardMatchEnabled: false } },
      auth,
    );
    assert.equal(off.status, 204);
    const again = await h.call('GET', `/directory/onPremisesSynchronization/${h.emu.tenantId}`, undefined, auth);
    assert.equal(again.body.features.blockCloudObjectTakeoverThroughHardMatchEnabled, false);
  });
});
