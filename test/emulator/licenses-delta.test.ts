/**
 * Licences (issue 12 item 4), delta and restore as documented (item 3). Each test names its doc; plain HTTPS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFixtures } from '../../src/emulator/index.js';
import { errorOf, harness, type Harness } from './helpers.js';

const E3 = '6fd2c87f-b296-42f0-b197-1e91e994b900';
const EXO = 'efb87545-963c-4e0d-99df-69c6916d9eb0';
const FIXTURE = `version: 1
subscribedSkus:
  - skuPartNumber: ENTERPRISEPACK
    skuId: ${E3}
    enabledUnits: 2
    servicePlans:
      - { servicePlanId: ${EXO}, servicePlanName: EXCHANGE_S_ENTERPRISE }
`;

describe('emulator: licences', () => {
  let h: Harness;
  const add = (skuId = E3, disabledPlans: string[] = []): Record<string, unknown> => ({
    addLicenses: [{ skuId, disabledPlans }],
    removeLicenses: [],
  });
  before(async () => {
    h = await harness({ fixture: parseFixtures([{ file: 'f.yaml', text: FIXTURE }]) });
  });
  after(async () => {
    await h.emu.close();
  });

  // subscribedsku-list: GET /subscribedSkus → subscribedSku collection with prepaidUnits and consumedUnits.
  it('GET /subscribedSkus lists the SKUs with units and service plans', async () => {
    const r = await h.get('/subscribedSkus');
    assert.equal(r.status, 200);
    const s = r.body.value[0];
    assert.deepEqual(
      [s.skuId, s.skuPartNumber, s.prepaidUnits.enabled, s.consumedUnits, s.appliesTo, s.capabilityStatus],
      [E3, 'ENTERPRISEPACK', 2, 0, 'User', 'Enabled'],
    );
    assert.equal(s.id, `${h.emu.tenantId}_${E3}`);
    assert.deepEqual(
      s.servicePlans.map((p: { servicePlanName: string }) => p.servicePlanName),
      ['EXCHANGE_S_ENTERPRISE'],
    );
  });

  // user-assignlicense + user.md usageLocation: "Required for users that are assigned licenses".
  it('assignLicense without usageLocation → 400 "… invalid usage location."', async () => {
    const u = await h.newUser('nolocation');
    const r = await h.call('POST', `/users/${u}/assignLicense`, add());
    assert.equal(r.status, 400);
    assert.deepEqual(
      [errorOf(r).code, errorOf(r).message],
      ['Request_BadRequest', 'License assignment cannot be done for user with invalid usage location.'],
    );
  });

  // user-assignlicense (graph-facts-2 §7.2, observed message).
  it('assignLicense of a SKU the tenant lacks → 400 "… does not correspond to a valid company License."', async () => {
    const u = await h.newUser('unknownsku', { usageLocation: 'US' });
    const bogus = '11111111-2222-4333-8444-555555555555';
    const r = await h.call('POST', `/users/${u}/assignLicense`, add(bogus));
    assert.equal(r.status, 400);
    assert.equal(errorOf(r).message, `License ${bogus} does not correspond to a valid company License.`);
  });

  // user-assignlicense: both addLicenses and removeLicenses are required (v1.0 CSDL non-nullable).
  it('assignLicense without removeLicenses → 400', async () => {
    const u = await h.newUser('noremove', { usageLocation: 'US' });
    const r = await h.call('POST', `/users/${u}/assignLicense`, { addLicenses: [{ skuId: E3, disabledPlans: [] }] });
    assert.equal(r.status, 400);
  });

  // Graph names the missing parameter (msgraph-sdk-powershell#3231: removeLicenses alone is refused so).
  it('assignLicense without addLicenses → 400 naming the missing parameter', async () => {
    const u = await h.newUser('noadd', { usageLocation: 'US' });
    const r = await h.call('POST', `/users/${u}/assignLicense`, { removeLicenses: [E3] });
    assert.equal(r.status, 400);
    assert.deepEqual(
      [errorOf(r).code, errorOf(r).message],
      [
        'Request_BadRequest',
        "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: addLicenses.",
      ],
    );
  });

  // OfficeDocs-Enterprise#873: removing a licence the user does not hold is refused.
  it('assignLicense removing a SKU the user does not hold → 400 "User does not have a corresponding license."', async () => {
    const u = await h.newUser('notheld', { usageLocation: 'US' });
    const r = await h.call('POST', `/users/${u}/assignLicense`, { addLicenses: [], removeLicenses: [E3] });
    assert.equal(r.status, 400);
    assert.deepEqual(
      [errorOf(r).code, errorOf(r).message],
      ['Request_BadRequest', 'User does not have a corresponding license.'],
    );
  });

  // user-assignlicense → 200 + user; licenseDetails; licenseAssignmentStates direct; no seats left → 400.
  it('assign, read back (licenseDetails, assignedLicenses, licenseAssignmentStates) and run out of seats', async () => {
    const a = await h.newUser('lic-a', { usageLocation: 'US' });
    const b = await h.newUser('lic-b', { usageLocation: 'US' });
    const c = await h.newUser('lic-c', { usageLocation: 'US' });
    const r = await h.call('POST', `/users/${a}/assignLicense`, add(E3, [EXO]));
    assert.equal(r.status, 200);
    assert.equal(r.body.id, a);
    const d = await h.get(`/users/${a}/licenseDetails`);
    assert.equal(d.status, 200);
    assert.deepEqual(
      [d.body.value[0].skuId, d.body.value[0].skuPartNumber, d.body.value[0].servicePlans[0].provisioningStatus],
      [E3, 'ENTERPRISEPACK', 'Disabled'],
    );
    const s = await h.get(`/users/${a}?$select=assignedLicenses,licenseAssignmentStates`);
    assert.deepEqual(s.body.assignedLicenses, [{ disabledPlans: [EXO], skuId: E3 }]);
    assert.deepEqual(
      [
        s.body.licenseAssignmentStates[0].assignedByGroup,
        s.body.licenseAssignmentStates[0].state,
        s.body.licenseAssignmentStates[0].error,
      ],
      [null, 'Active', null],
    );
    assert.equal((await h.call('POST', `/users/${b}/assignLicense`, add())).status, 200);
    const full = await h.call('POST', `/users/${c}/assignLicense`, add());
    assert.equal(full.status, 400);
    assert.equal(errorOf(full).message, `Subscription with SKU ${E3} does not have any available licenses.`);
    assert.equal((await h.get('/subscribedSkus')).body.value[0].consumedUnits, 2);
    // Removing frees the seat.
    assert.equal(
      (await h.call('POST', `/users/${b}/assignLicense`, { addLicenses: [], removeLicenses: [E3] })).status,
      200,
    );
    assert.equal((await h.call('POST', `/users/${c}/assignLicense`, add())).status, 200);
  });

  // group-assignlicense: 202 Accepted + Location; members inherit (licenseAssignmentStates.assignedByGroup);
  // licenseassignmentstate: a member beyond the seats gets state Error / CountViolation.
  it('group assignLicense → 202; members inherit, leave, and overflow as CountViolation', async () => {
    const fresh = await harness({
      fixture: parseFixtures([{ file: 'f.yaml', text: FIXTURE.replace('enabledUnits: 2', 'enabledUnits: 1') }]),
    });
    try {
      const g = await fresh.newGroup('licgroup');
      const m1 = await fresh.newUser('inh1');
      const m2 = await fresh.newUser('inh2');
      await fresh.call('POST', `/groups/${g}/members/$ref`, {
        '@odata.id': `${fresh.emu.url}/v1.0/directoryObjects/${m1}`,
      });
      const r = await fresh.call('POST', `/groups/${g}/assignLicense`, add());
      assert.equal(r.status, 202);
      assert.equal(r.headers.get('location'), `${fresh.emu.url}/v1.0/groups/${g}`);
      const s1 = await fresh.get(`/users/${m1}?$select=assignedLicenses,licenseAssignmentStates`);
      assert.deepEqual(
        [s1.body.licenseAssignmentStates[0].assignedByGroup, s1.body.licenseAssignmentStates[0].state],
        [g, 'Active'],
      );
      assert.equal(s1.body.assignedLicenses[0].skuId, E3);
      await fresh.call('POST', `/groups/${g}/members/$ref`, {
        '@odata.id': `${fresh.emu.url}/v1.0/directoryObjects/${m2}`,
      });
      const s2 = await fresh.get(`/users/${m2}?$select=assignedLicenses,licenseAssignmentStates`);
      assert.deepEqual(
        [s2.body.licenseAssignmentStates[0].state, s2.body.licenseAssignmentStates[0].error],
        ['Error', 'CountViolation'],
      );
      assert.deepEqual(s2.body.assignedLicenses, []);
      const gs = await fresh.get(`/groups/${g}?$select=assignedLicenses,licenseProcessingState`);
      assert.equal(gs.body.assignedLicenses[0].skuId, E3);
      await fresh.call('DELETE', `/groups/${g}/members/${m1}/$ref`);
      assert.deepEqual((await fresh.get(`/users/${m1}?$select=assignedLicenses`)).body.assignedLicenses, []);
    } finally {
      await fresh.emu.close();
    }
  });
});

describe('emulator: delta and restore as documented', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.emu.close();
  });

  const deltaLinkOf = async (url: string): Promise<string> => {
    let r = await h.get(url);
    while (!r.body['@odata.deltaLink']) r = await h.get(r.body['@odata.nextLink']);
    return r.body['@odata.deltaLink'];
  };

  // delta-query-overview: with $select, a change to an unselected property doesn't surface the object.
  it('a change to an unselected property does not surface the object in the next round', async () => {
    const u = await h.newUser('sel');
    const link = await deltaLinkOf('/users/delta?$select=displayName');
    await h.call('PATCH', `/users/${u}`, { jobTitle: 'Unselected' });
    const quiet = await h.get(link);
    assert.deepEqual(
      quiet.body.value.filter((x: { id: string }) => x.id === u),
      [],
    );
    const link2 = quiet.body['@odata.deltaLink'];
    await h.call('PATCH', `/users/${u}`, { displayName: 'Selected' });
    const loud = await h.get(link2);
    assert.deepEqual(
      loud.body.value.filter((x: { id: string }) => x.id === u).map((x: { displayName: string }) => x.displayName),
      ['Selected'],
    );
  });

  // user-delta: Prefer: return=minimal → only the changed properties, null for cleared ones.
  it('Prefer: return=minimal returns only the changed properties, with null for cleared ones', async () => {
    const u = await h.newUser('minimal', { jobTitle: 'Before', department: 'Stays' });
    const link = await deltaLinkOf('/users/delta?$select=displayName,jobTitle,department');
    await h.call('PATCH', `/users/${u}`, { jobTitle: null });
    const full = await h.get(link);
    const fullItem = full.body.value.find((x: { id: string }) => x.id === u);
    assert.equal(fullItem.department, 'Stays'); // default: unchanged selected values repeated
    const min = await h.get(link, { Prefer: 'return=minimal' });
    assert.equal(min.headers.get('preference-applied'), 'return=minimal');
    assert.deepEqual(
      min.body.value.find((x: { id: string }) => x.id === u),
      { id: u, jobTitle: null },
    );
  });

  // recover-from-deletions / directory-deleteditems-restore: a restored user keeps its group memberships and roles.
  it('a restored user gets its group memberships back', async () => {
    const u = await h.newUser('restoreme');
    const g = await h.newGroup('keeps');
    await h.call('POST', `/groups/${g}/members/$ref`, { '@odata.id': `${h.emu.url}/v1.0/directoryObjects/${u}` });
    assert.equal((await h.call('DELETE', `/users/${u}`)).status, 204);
    assert.deepEqual((await h.get(`/groups/${g}/members`)).body.value, []);
    const r = await h.call('POST', `/directory/deletedItems/${u}/restore`);
    assert.equal(r.status, 200);
    const members = await h.get(`/groups/${g}/members?$select=id`);
    assert.deepEqual(
      members.body.value.map((m: { id: string }) => m.id),
      [u],
    );
    const memberOf = await h.get(`/users/${u}/memberOf?$select=id`);
    assert.deepEqual(
      memberOf.body.value.map((m: { id: string }) => m.id),
      [g],
    );
  });
});
