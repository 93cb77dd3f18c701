/**
 * Issue 16's acceptance, through the CLI against the embedded emulator loaded from a fixture with two SKUs
 * (SPE_E3 with seats to spare, EMS with one): joiners a rule selects get the SKU with its disabled plans; a
 * user without usageLocation is reported, not failed; a group-inherited licence is left alone (and a direct
 * duplicate of it reported); a disabled user loses the SKU under onDisable: remove and keeps it under keep;
 * an assignment beyond the free seats stops the plan with the shortfall, before any write; the next plan is empty.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LicensesChange } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { runCli } from '../support/cli.js';

const E3 = '05e9a617-0261-4cee-bb44-138d3ef5d965';
const EMS = 'efccb6f7-5641-4e0e-bd10-b4976e1bf68e';
const YAMMER = '7547a3fe-08ee-4ccb-b430-5077c5041653';
const DAN_ANCHOR = 'kYC02j8MfoCXX61oX38TTg==';

const FIXTURE = `version: 1
tenant: { displayName: Contoso, domains: [contoso.example] }
subscribedSkus:
  - skuPartNumber: SPE_E3
    skuId: ${E3}
    enabledUnits: 10
    servicePlans:
      - { servicePlanId: efb87545-963c-4e0d-99df-69c6916d9eb0, servicePlanName: EXCHANGE_S_ENTERPRISE }
      - { servicePlanId: ${YAMMER}, servicePlanName: YAMMER_ENTERPRISE }
  - skuPartNumber: EMS
    skuId: ${EMS}
    enabledUnits: 1
    servicePlans:
      - { servicePlanId: 41781fb2-bc02-4b7c-bd55-b576c07bb09d, servicePlanName: AAD_PREMIUM }
users:
  # Dan's cloud twin (hard match by onPremisesImmutableId): E3 from a licensing group, and directly too.
  - key: dan
    userPrincipalName: dan@contoso.example
    displayName: Dan Cloud
    usageLocation: US
    onPremisesImmutableId: "${DAN_ANCHOR}"
    licenses: [SPE_E3]
groups:
  - key: e3
    displayName: E3 licensing
    licenses: [SPE_E3]
    members: [dan]
`;

function user(cn: string, guid: string, dept: string, extra: string[] = []): string {
  const sam = cn.toLowerCase();
  return [
    `dn: CN=${cn},OU=Staff,DC=contoso,DC=example`,
    'changetype: add',
    'objectClass: top',
    'objectClass: person',
    'objectClass: organizationalPerson',
    'objectClass: user',
    `cn: ${cn}`,
    `displayName: ${cn}`,
    `objectGUID:: ${guid}`,
    `sAMAccountName: ${sam}`,
    `userPrincipalName: ${sam}@contoso.example`,
    `department: ${dept}`,
    ...extra,
    '',
  ].join('\n');
}

const US = ['msExchUsageLocation: US'];
const LDIF = [
  [
    'dn: DC=contoso,DC=example',
    'changetype: add',
    'objectClass: top',
    'objectClass: domain',
    'dc: contoso',
    'objectGUID:: 3ZiM/Xacn3+9eVoPXajnUQ==',
    '',
  ].join('\n'),
  [
    'dn: OU=Staff,DC=contoso,DC=example',
    'changetype: add',
    'objectClass: top',
    'objectClass: organizationalUnit',
    'ou: Staff',
    'objectGUID:: WD63Ird9bHeR0YEfakJFDA==',
    '',
  ].join('\n'),
  user('Ann', 'fg1/il2Wwk/8yEDzG85ysg==', 'Sales', ['userAccountControl: 512', ...US]),
  user('Ben', 'f+R3HACKIut2PfR9GeLGqg==', 'Sales', ['userAccountControl: 512', ...US]),
  user('Cat', '0HfyRN74pw5ep1i9g1L82A==', 'Sales', ['userAccountControl: 512']),
  user('Dan', DAN_ANCHOR, 'Sales', ['userAccountControl: 512', ...US]),
  user('Eve', '+mqR75uqJC3gs1SiEujPgg==', 'Marketing', ['userAccountControl: 512', ...US]),
  user('Fay', 'W8RZYPsgZ/a1aduJLFBW+Q==', 'Marketing', ['userAccountControl: 512', ...US]),
  [
    'dn: CN=Mobile,OU=Staff,DC=contoso,DC=example',
    'changetype: add',
    'objectClass: top',
    'objectClass: group',
    'cn: Mobile',
    'objectGUID:: Uywo1UEt11v5dfuVHHQKMA==',
    'sAMAccountName: Mobile',
    'groupType: -2147483646',
    'member: CN=Eve,OU=Staff,DC=contoso,DC=example',
    'member: CN=Fay,OU=Staff,DC=contoso,DC=example',
    '',
  ].join('\n'),
].join('\n');

function spec(licenses: string): string {
  return `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
    scope: { domains: [contoso.example] }
target:
  emulator:
    state: ./.adsync/tenant.json
    tenant: contoso.onmicrosoft.com
    domains: [contoso.example]
    fixture: ./tenant.yaml
licenses:
${licenses}
`;
}

const E3_RULE = (onDisable: 'keep' | 'remove'): string => `  - sku: SPE_E3
    disabledPlans: [YAMMER_ENTERPRISE]
    when: source.department == "Sales"
    onDisable: ${onDisable}`;
const EMS_RULE = (overCapacity: 'fail' | 'report'): string => `  - sku: EMS
    memberOf: CN=Mobile,OU=Staff,DC=contoso,DC=example
    overCapacity: ${overCapacity}`;

interface State {
  objects: { id: string; kind: string; props: Record<string, unknown> }[];
}
type LicState = { skuId: string; disabledPlans: string[]; assignedByGroup: string | null };

describe('licences through plan and apply (emulator fixture with two SKUs)', () => {
  let dir = '';
  const specPath = (): string => join(dir, 'adsync.yaml');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-licences-'));
    await writeFile(join(dir, 'tenant.yaml'), FIXTURE);
    await writeFile(join(dir, 'corp.ldif'), LDIF);
    await writeFile(specPath(), spec(E3_RULE('remove')));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  async function plan(): Promise<Plan> {
    const r = await runCli(['plan', '-c', specPath(), '--format', 'json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return JSON.parse(r.stdout) as Plan;
  }
  async function apply(): Promise<string> {
    const r = await runCli(['apply', '-c', specPath(), '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return r.stdout;
  }
  async function licencesOf(upn: string): Promise<LicState[]> {
    const s = JSON.parse(await readFile(join(dir, '.adsync', 'tenant.json'), 'utf8')) as State;
    const u = s.objects.find((o) => o.kind === 'user' && o.props['userPrincipalName'] === upn);
    assert.ok(u, `user ${upn} in the tenant`);
    return ((u.props['licenseAssignmentStates'] as LicState[] | undefined) ?? []).map((x) => ({
      skuId: x.skuId,
      disabledPlans: x.disabledPlans,
      assignedByGroup: x.assignedByGroup,
    }));
  }
  const licenceChanges = (p: Plan): LicensesChange[] =>
    p.changes.filter((c): c is LicensesChange => c.action === 'licenses');
  async function editLdif(from: string, to: string): Promise<void> {
    const path = join(dir, 'corp.ldif');
    const text = await readFile(path, 'utf8');
    assert.ok(text.includes(from));
    await writeFile(path, text.replace(from, to));
  }

  it('joiners the rule selects get SPE_E3 without Yammer; Cat (no usageLocation) and Dan are reported', async () => {
    const p = await plan();
    const changes = licenceChanges(p);
    assert.deepEqual(
      changes.map((c) => [c.label, c.add.map((a) => [a.sku, a.disabledPlans, a.rule]), c.remove.length]),
      [
        ['ann@contoso.example', [['SPE_E3', ['YAMMER_ENTERPRISE'], 'licenses[0] (SPE_E3)']], 0],
        ['ben@contoso.example', [['SPE_E3', ['YAMMER_ENTERPRISE'], 'licenses[0] (SPE_E3)']], 0],
      ],
    );
    assert.deepEqual([p.summary.licensesAdded, p.summary.licensesRemoved], [2, 0]);
    const codes = p.reports.filter((r) => r.code.startsWith('license-')).map((r) => [r.label, r.code]);
    assert.deepEqual(codes, [
      ['cat@contoso.example', 'license-no-usage-location'],
      ['dan@contoso.example', 'license-duplicate-direct'],
    ]);
    // the text plan, as a reviewer reads it
    const text = await runCli(['plan', '-c', specPath()]);
    assert.match(
      text.stdout,
      /~ licences user ann@contoso\.example[^\n]*\n\s+\+ licence SPE_E3 \(disabled: YAMMER_ENTERPRISE\)\s+# licenses\[0\] \(SPE_E3\)/,
    );
    assert.match(text.stdout, /2 licences to assign, 0 to remove;/);

    const out = await apply();
    assert.match(out, /applied, 0 failed/);
    assert.deepEqual(await licencesOf('ann@contoso.example'), [
      { skuId: E3, disabledPlans: [YAMMER], assignedByGroup: null },
    ]);
    assert.deepEqual(await licencesOf('cat@contoso.example'), []);
    // Dan: the inherited assignment is untouched (and the direct one too: the rule does not own SPE_E3)
    const dan = await licencesOf('dan@contoso.example');
    assert.equal(dan.filter((l) => l.assignedByGroup !== null && l.skuId === E3).length, 1);
  });

  it('the next plan is empty', async () => {
    const r = await runCli(['plan', '-c', specPath(), '--detailed-exitcode']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('onDisable: remove — Ben disabled in AD loses SPE_E3; then nothing is left to do', async () => {
    await editLdif(
      'sAMAccountName: ben\nuserPrincipalName: ben@contoso.example\ndepartment: Sales\nuserAccountControl: 512',
      'sAMAccountName: ben\nuserPrincipalName: ben@contoso.example\ndepartment: Sales\nuserAccountControl: 514',
    );
    const p = await plan();
    assert.deepEqual(
      licenceChanges(p).map((c) => [c.label, c.add.length, c.remove.map((r) => [r.sku, r.reason])]),
      [['ben@contoso.example', 0, [['SPE_E3', 'disabled in AD (onDisable: remove)']]]],
    );
    await apply();
    assert.deepEqual(await licencesOf('ben@contoso.example'), []);
    const r = await runCli(['plan', '-c', specPath(), '--detailed-exitcode']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('onDisable: keep — Ann disabled in AD keeps SPE_E3', async () => {
    await writeFile(specPath(), spec(E3_RULE('keep')));
    await editLdif(
      'sAMAccountName: ann\nuserPrincipalName: ann@contoso.example\ndepartment: Sales\nuserAccountControl: 512',
      'sAMAccountName: ann\nuserPrincipalName: ann@contoso.example\ndepartment: Sales\nuserAccountControl: 514',
    );
    const p = await plan();
    assert.deepEqual(licenceChanges(p), []);
    assert.ok(p.changes.some((c) => c.label === 'ann@contoso.example' && c.action === 'update'));
    await apply();
    assert.deepEqual(await licencesOf('ann@contoso.example'), [
      { skuId: E3, disabledPlans: [YAMMER], assignedByGroup: null },
    ]);
  });

  it('over capacity: EMS for both members of Mobile with one seat stops the plan with the shortfall, before any write', async () => {
    await writeFile(specPath(), spec(`${E3_RULE('keep')}\n${EMS_RULE('fail')}`));
    const r = await runCli(['plan', '-c', specPath()]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /licenses\[1\] \(EMS\): SKU EMS has 1 free seat \(prepaid 1, consumed 0\) but the plan assigns 2: 1 short/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /); // one line and a hint, no stack trace
    const a = await runCli(['apply', '-c', specPath(), '--auto-approve']);
    assert.equal(a.code, 1, a.stdout + a.stderr);
    assert.deepEqual(await licencesOf('eve@contoso.example'), []);
    assert.deepEqual(await licencesOf('fay@contoso.example'), []);
  });

  it('overCapacity: report assigns the free seat and reports the member left without one', async () => {
    await writeFile(specPath(), spec(`${E3_RULE('keep')}\n${EMS_RULE('report')}`));
    const p = await plan();
    assert.deepEqual(
      licenceChanges(p).map((c) => [c.label, c.add.map((a) => a.sku)]),
      [['eve@contoso.example', ['EMS']]],
    );
    assert.deepEqual(
      p.reports.filter((x) => x.code === 'license-no-seat').map((x) => x.label),
      ['fay@contoso.example'],
    );
    await apply();
    assert.deepEqual(await licencesOf('eve@contoso.example'), [
      { skuId: EMS, disabledPlans: [], assignedByGroup: null },
    ]);
    const r = await runCli(['plan', '-c', specPath(), '--detailed-exitcode']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('adsync explain lists the licences a user should have and why, and the group-inherited ones', async () => {
    const r = await runCli(['explain', '-c', specPath(), 'dan@contoso.example']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /Licences\n {2}licenses\[0\] \(SPE_E3\): should have SPE_E3 \(disabled: YAMMER_ENTERPRISE\) — when source\.department == "Sales" is true\n {6}holds SPE_E3 directly\n/,
    );
    assert.match(r.stdout, /licenses\[1\] \(EMS\): EMS: not assigned by adsync — not a direct member of CN=Mobile/);
    assert.match(r.stdout, /holds SPE_E3 inherited from group E3 licensing \(never removed by adsync\)/);
    const eve = await runCli(['explain', '-c', specPath(), 'eve@contoso.example']);
    assert.match(
      eve.stdout,
      /licenses\[1\] \(EMS\): should have EMS — a direct member of CN=Mobile,OU=Staff,DC=contoso,DC=example/,
    );
    assert.match(eve.stdout, /holds EMS directly/);
  });
});
