/** `adsync doctor` with `licenses:` rules: the permission is required, and the SKUs and plans are checked. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { DoctorReport } from '../../src/doctor/ldap.js';
import { missingPermissions, requiredPermissions } from '../../src/doctor/permissions.js';
import { parseSpec } from '../../src/spec/load.js';
import { runCli } from '../support/cli.js';

const FIXTURE = `version: 1
subscribedSkus:
  - skuPartNumber: SPE_E3
    skuId: 05e9a617-0261-4cee-bb44-138d3ef5d965
    enabledUnits: 5
    servicePlans:
      - { servicePlanId: 7547a3fe-08ee-4ccb-b430-5077c5041653, servicePlanName: YAMMER_ENTERPRISE }
`;
const LDIF = `version: 1

dn: CN=Ann,DC=contoso,DC=example
changetype: add
objectClass: user
cn: Ann
sAMAccountName: ann
userPrincipalName: ann@contoso.example
userAccountControl: 512
objectGUID:: fg1/il2Wwk/8yEDzG85ysg==
`;
const spec = (sku: string, plan: string): string => `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
    scope: { domains: [contoso.example] }
target:
  emulator: { state: ./.adsync/tenant.json, tenant: contoso.onmicrosoft.com, domains: [contoso.example], fixture: ./tenant.yaml }
licenses:
  - sku: ${sku}
    disabledPlans: [${plan}]
    when: "true"
`;

describe('adsync doctor: licences', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('licence rules need LicenseAssignment.ReadWrite.All (or User.ReadWrite.All / Directory.ReadWrite.All)', () => {
    const needs = requiredPermissions(parseSpec(spec('SPE_E3', 'YAMMER_ENTERPRISE'), 'adsync.yaml'));
    const need = needs.find((n) => n.permission === 'LicenseAssignment.ReadWrite.All');
    assert.deepEqual(need?.anyOf, ['LicenseAssignment.ReadWrite.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All']);
    assert.deepEqual(
      missingPermissions([need], new Set(['Group.ReadWrite.All'])).map((n) => n.permission),
      ['LicenseAssignment.ReadWrite.All'],
    );
    const without = requiredPermissions(
      parseSpec(spec('SPE_E3', 'YAMMER_ENTERPRISE').replace(/licenses:[\s\S]*$/, ''), 'a.yaml'),
    );
    assert.equal(
      without.some((n) => n.permission === 'LicenseAssignment.ReadWrite.All'),
      false,
    );
  });

  async function doctor(text: string): Promise<{ code: number; report: DoctorReport; out: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'adsync-doctor-lic-'));
    dirs.push(dir);
    await writeFile(join(dir, 'tenant.yaml'), FIXTURE);
    await writeFile(join(dir, 'corp.ldif'), LDIF);
    await writeFile(join(dir, 'adsync.yaml'), text);
    const r = await runCli(['doctor', '-c', join(dir, 'adsync.yaml'), '--json'], { cwd: dir });
    return { code: r.code, report: JSON.parse(r.stdout) as DoctorReport, out: r.stdout + r.stderr };
  }

  it('the SKUs and plans the rules name are subscribed: ok, with the free seats', async () => {
    const { code, report, out } = await doctor(spec('SPE_E3', 'YAMMER_ENTERPRISE'));
    assert.equal(code, 0, out);
    const f = report.findings.find((x) => x.check === 'licenses');
    assert.equal(f?.status, 'ok', out);
    assert.match(f.message, /SPE_E3 \(5 of 5 seats free\)/);
  });

  it('an SKU or a plan the tenant lacks is an error naming it', async () => {
    const { code, report, out } = await doctor(spec('SPE_E3', 'TEAMS1'));
    assert.equal(code, 1, out);
    const f = report.findings.find((x) => x.check === 'licenses');
    assert.equal(f?.status, 'error', out);
    assert.match(f.message, /SKU SPE_E3 has no service plan TEAMS1 \(its plans: YAMMER_ENTERPRISE\)/);
  });
});
