/**
 * "Never soft-match an admin" end to end (issue 5): LDIF + the embedded Graph emulator with a seeded Global
 * Administrator, through the CLI. With `matching: { softMatch: upn }`, a cloud-only user that holds Global
 * Administrator and has the same UPN as an AD user is not adopted — the plan shows a `soft-match-admin` report
 * item, and apply leaves the cloud user byte-identical (role included) — while a non-admin cloud user with
 * the same UPN as another AD user is adopted.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmulator } from '../../src/emulator/index.js';
import type { Plan } from '../../src/model/plan.js';
import { runCli } from '../support/cli.js';
import { guid } from '../support/fixtures.js';

const BASE = 'DC=contoso,DC=example';
const GLOBAL_ADMIN = '62e90394-69f5-4237-9190-012177145e10';

function userLdif(cn: string, sam: string): string {
  return [
    `dn: CN=${cn},OU=Staff,${BASE}`,
    'changetype: add',
    'objectClass: top',
    'objectClass: person',
    'objectClass: organizationalPerson',
    'objectClass: user',
    `cn: ${cn}`,
    `sAMAccountName: ${sam}`,
    `userPrincipalName: ${sam}@contoso.example`,
    `displayName: ${cn}`,
    'userAccountControl: 512',
    `objectGUID:: ${Buffer.from(guid(sam)).toString('base64')}`,
  ].join('\n');
}

const SPEC = `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
    scope:
      domains: [contoso.example]
      ous: { include: ["OU=Staff,${BASE}"] }
target:
  emulator: { state: ./.adsync/tenant.json, tenant: contoso.onmicrosoft.com, domains: [contoso.example] }
matching: { softMatch: upn }
`;

interface State {
  objects: { id: string; props: Record<string, unknown> }[];
  directoryRoles?: { roleTemplateId: string; members: string[] }[];
}

describe("matching: soft match never adopts an admin (through the CLI and the emulator's /directoryRoles)", () => {
  let dir = '';
  const spec = (): string => join(dir, 'adsync.yaml');
  const statePath = (): string => join(dir, '.adsync', 'tenant.json');
  const state = async (): Promise<State> => JSON.parse(await readFile(statePath(), 'utf8')) as State;
  const objectJson = async (id: string): Promise<string> => {
    const o = (await state()).objects.find((x) => x.id === id);
    assert.ok(o, `object ${id} in the emulator`);
    return JSON.stringify(o);
  };
  const plan = async (): Promise<Plan> => {
    const r = await runCli(['plan', '-c', spec(), '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Plan;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-admin-'));
    await writeFile(spec(), SPEC);
    await writeFile(
      join(dir, 'corp.ldif'),
      `version: 1\n\n${[userLdif('Ada Admin', 'aadmin'), userLdif('Nora Normal', 'nnormal')].join('\n\n')}\n`,
    );
    await mkdir(join(dir, '.adsync'), { recursive: true });
    const e = await startEmulator({
      statePath: statePath(),
      initialDomain: 'contoso.onmicrosoft.com',
      domains: ['contoso.example'],
    });
    e.seed({
      users: [
        {
          id: 'cloud-admin-1',
          userPrincipalName: 'aadmin@contoso.example',
          displayName: 'Ada (cloud admin)',
          accountEnabled: true,
          mailNickname: 'aadmin',
          jobTitle: 'Tenant admin',
        },
        {
          id: 'cloud-plain-1',
          userPrincipalName: 'nnormal@contoso.example',
          displayName: 'Nora (cloud)',
          accountEnabled: true,
          mailNickname: 'nnormal',
        },
      ],
      directoryRoles: [
        { displayName: 'Global Administrator', roleTemplateId: GLOBAL_ADMIN, members: ['cloud-admin-1'] },
      ],
    });
    await e.close();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  let adminBefore = '';

  it('the plan adopts the non-admin and reports the admin as soft-match-admin, never adopting it', async () => {
    adminBefore = await objectJson('cloud-admin-1');
    const p = await plan();
    const adopts = p.changes
      .filter((c) => c.action === 'adopt')
      .map((c) => (c.action === 'adopt' ? `${c.id} ${c.match}` : ''));
    assert.deepEqual(adopts, ['cloud-plain-1 soft-upn']);
    assert.equal(
      p.changes.some((c) => 'id' in c && c.id === 'cloud-admin-1'),
      false,
      'no change touches the admin',
    );
    const reports = p.reports.filter((r) => r.code === 'soft-match-admin');
    assert.equal(reports.length, 1, JSON.stringify(p.reports));
    assert.equal(reports[0]!.other?.id, 'cloud-admin-1');
    assert.match(reports[0]!.reason, /holds an admin role \(Global Administrator\)/);
    assert.equal(p.summary.adopt, 1);
  });

  it('apply adopts the non-admin and leaves the admin byte-identical, still Global Administrator', async () => {
    const r = await runCli(['apply', '-c', spec(), '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /0 failed/);
    assert.equal(await objectJson('cloud-admin-1'), adminBefore);
    const s = await state();
    assert.deepEqual(
      s.directoryRoles?.map((x) => [x.roleTemplateId, x.members]),
      [[GLOBAL_ADMIN, ['cloud-admin-1']]],
    );
    // The adopted user now carries adsync's anchor (a directory extension) and the AD display name.
    const plain = s.objects.find((x) => x.id === 'cloud-plain-1')!;
    assert.ok(
      Object.keys(plain.props).some((k) => /^extension_[0-9a-f]{32}_adsyncAnchor$/.test(k)),
      JSON.stringify(plain.props),
    );
    assert.equal(plain.props['displayName'], 'Nora Normal');
    // No second account was created for either AD user.
    assert.equal(s.objects.filter((o) => String(o.props['userPrincipalName'] ?? '').startsWith('aadmin')).length, 1);
    assert.equal(s.objects.filter((o) => String(o.props['userPrincipalName'] ?? '').startsWith('nnormal')).length, 1);
  });

  it('the next plan still refuses the admin and changes nothing', async () => {
    const p = await plan();
    assert.deepEqual(p.changes, []);
    assert.deepEqual(
      p.reports.filter((r) => r.code === 'soft-match-admin').map((r) => r.other?.id),
      ['cloud-admin-1'],
    );
  });
});
