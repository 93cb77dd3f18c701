/**
 * The emulator's side of issue 13: a fixture can grant adsync's client the permissions an administrator
 * consented to, and the test-control sync cycle does what Entra Connect's next run does to objects whose source
 * of authority was switched back (graph-facts-2 §2.5): it takes them over — users only while
 * blockCloudObjectTakeoverThroughHardMatchEnabled is off — and Graph then refuses cloud writes again.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadFixtures } from '../../src/emulator/index.js';
import { errorOf, harness, type Harness } from './helpers.js';

const MASTERED =
  'Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.';

describe('emulator: handing objects back to the sync client', () => {
  let h: Harness;
  let dir: string;
  let ann: string;
  let team: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-sync-cycle-'));
    const file = join(dir, 'tenant.yaml');
    await writeFile(
      file,
      `version: 1
tenant: { domains: [contoso.example] }
directorySync:
  features: { blockCloudObjectTakeoverThroughHardMatchEnabled: true }
grantedPermissions: [User-OnPremisesSyncBehavior.ReadWrite.All, Group-OnPremisesSyncBehavior.ReadWrite.All, OnPremDirectorySynchronization.ReadWrite.All]
users:
  - key: ann
    userPrincipalName: ann@contoso.example
    displayName: Ann
    onPremisesSyncEnabled: true
    onPremisesImmutableId: AAECAwQFBgcICQoLDA0ODw==
    onPremisesSecurityIdentifier: S-1-5-21-1-2-3-1101
groups:
  - key: team
    displayName: Team
    onPremisesSyncEnabled: true
    onPremisesSecurityIdentifier: S-1-5-21-1-2-3-2201
    members: [ann]
`,
    );
    h = await harness({ fixture: await loadFixtures([file]) });
    ann = (await h.get('/users/ann@contoso.example')).body.id;
    team = (await h.get("/groups?$filter=displayName eq 'Team'")).body.value[0].id;
  });
  after(async () => {
    await h.emu.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('grantedPermissions reach the token: the switch is allowed without any other grant', async () => {
    for (const path of [`/users/${ann}`, `/groups/${team}`]) {
      const r = await h.call('PATCH', `${path}/onPremisesSyncBehavior`, { isCloudManaged: true });
      assert.deepEqual([r.status, r.body.isCloudManaged], [200, true]);
    }
    assert.equal((await h.call('PATCH', `/users/${ann}`, { jobTitle: 'Cloud' })).status, 204);
  });

  it('switched back, an object stays cloud-writable until the sync cycle; the cycle takes back groups, and users only with the block off', async () => {
    for (const path of [`/users/${ann}`, `/groups/${team}`]) {
      const r = await h.call('PATCH', `${path}/onPremisesSyncBehavior`, { isCloudManaged: false });
      assert.deepEqual([r.status, r.body.isCloudManaged], [200, false]);
    }
    assert.equal((await h.call('PATCH', `/users/${ann}`, { jobTitle: 'Still cloud' })).status, 204);
    assert.deepEqual(h.emu.syncCycle(), { tookOver: [team], blocked: [ann] });
    const g = await h.get(`/groups/${team}?$select=onPremisesSyncEnabled`);
    assert.equal(g.body.onPremisesSyncEnabled, true);
    const refused = await h.call('PATCH', `/groups/${team}`, { description: 'x' });
    assert.deepEqual([refused.status, errorOf(refused).message], [400, MASTERED]);
    const off = await h.call('PATCH', `/directory/onPremisesSynchronization/${h.emu.tenantId}`, {
      features: { blockCloudObjectTakeoverThroughHardMatchEnabled: false },
    });
    assert.equal(off.status, 204);
    assert.deepEqual(h.emu.syncCycle(), { tookOver: [ann], blocked: [] });
    const u = await h.get(`/users/${ann}?$select=onPremisesSyncEnabled`);
    assert.equal(u.body.onPremisesSyncEnabled, true);
    const again = await h.call('PATCH', `/users/${ann}`, { jobTitle: 'x' });
    assert.deepEqual([again.status, errorOf(again).message], [400, MASTERED]);
    assert.deepEqual(h.emu.syncCycle(), { tookOver: [], blocked: [] }, 'a second cycle has nothing to take');
  });
});
