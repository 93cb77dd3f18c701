/**
 * "Hard match never takes over a privileged account" and "role holders resolved transitively" (issues 10
 * and 17) end to end: LDIF + the embedded Graph emulator with seeded directory roles, through the CLI.
 *
 *   Ada   cloud user whose onPremisesImmutableId is Ada's anchor, Global Administrator directly
 *   Cyd   the same, but Global Administrator through the role-assignable group Tier0 Admins
 *   Bea   cloud user with Bea's UPN (soft match upn), Global Administrator through Tier0 Admins
 *   Dan   cloud user whose onPremisesImmutableId is Dan's anchor, no role: adopted (hard match)
 *
 * The plan refuses Ada and Cyd (hard-match-admin) and Bea (soft-match-admin), apply leaves them
 * byte-identical; `matching.allowAdmins` naming Ada then adopts Ada alone.
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
const anchor = (sam: string): string => Buffer.from(guid(sam)).toString('base64');

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

const spec = (extra = ''): string => `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
    scope:
      domains: [contoso.example]
      ous: { include: ["OU=Staff,${BASE}"] }
target:
  emulator: { state: ./.adsync/tenant.json, tenant: contoso.onmicrosoft.com, domains: [contoso.example] }
matching:
  softMatch: upn
${extra}`;

interface State {
  objects: { id: string; props: Record<string, unknown> }[];
}

describe('matching: hard match never takes over a role holder, direct or through a role-assignable group (CLI + emulator)', () => {
  let dir = '';
  const specPath = (): string => join(dir, 'adsync.yaml');
  const statePath = (): string => join(dir, '.adsync', 'tenant.json');
  const objectJson = async (id: string): Promise<string> => {
    const s = JSON.parse(await readFile(statePath(), 'utf8')) as State;
    const o = s.objects.find((x) => x.id === id);
    assert.ok(o, `object ${id} in the emulator`);
    return JSON.stringify(o);
  };
  const plan = async (): Promise<Plan> => {
    const r = await runCli(['plan', '-c', specPath(), '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Plan;
  };
  const adopts = (p: Plan): string[] =>
    p.changes.filter((c) => c.action === 'adopt').map((c) => (c.action === 'adopt' ? `${c.id} ${c.match}` : ''));
  const refusals = (p: Plan): string[] =>
    p.reports
      .filter((r) => /match-admin/.test(r.code))
      .map((r) => `${r.code} ${r.other?.id}`)
      .sort();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-hard-admin-'));
    await writeFile(specPath(), spec());
    await writeFile(
      join(dir, 'corp.ldif'),
      `version: 1\n\n${[userLdif('Ada Admin', 'ada'), userLdif('Bea Group', 'bea'), userLdif('Cyd Group', 'cyd'), userLdif('Dan Plain', 'dan')].join('\n\n')}\n`,
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
          id: 'cloud-ada',
          userPrincipalName: 'ada.cloud@contoso.example',
          displayName: 'Ada (cloud admin)',
          accountEnabled: true,
          mailNickname: 'adacloud',
          onPremisesImmutableId: anchor('ada'),
        },
        {
          id: 'cloud-bea',
          userPrincipalName: 'bea@contoso.example',
          displayName: 'Bea (cloud, Tier0)',
          accountEnabled: true,
          mailNickname: 'bea',
        },
        {
          id: 'cloud-cyd',
          userPrincipalName: 'cyd.cloud@contoso.example',
          displayName: 'Cyd (cloud, Tier0)',
          accountEnabled: true,
          mailNickname: 'cydcloud',
          onPremisesImmutableId: anchor('cyd'),
        },
        {
          id: 'cloud-dan',
          userPrincipalName: 'dan.cloud@contoso.example',
          displayName: 'Dan (cloud)',
          accountEnabled: true,
          mailNickname: 'dancloud',
          onPremisesImmutableId: anchor('dan'),
        },
      ],
      groups: [
        {
          id: 'tier0',
          displayName: 'Tier0 Admins',
          mailNickname: 'tier0',
          securityEnabled: true,
          mailEnabled: false,
          isAssignableToRole: true,
          members: ['cloud-bea', 'cloud-cyd'],
        },
      ],
      directoryRoles: [
        { displayName: 'Global Administrator', roleTemplateId: GLOBAL_ADMIN, members: ['cloud-ada', 'tier0'] },
      ],
    });
    await e.close();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const before_: Record<string, string> = {};

  it('the plan adopts only the user without a role; the role holders are reported, the group-held ones by group', async () => {
    for (const id of ['cloud-ada', 'cloud-bea', 'cloud-cyd']) before_[id] = await objectJson(id);
    const p = await plan();
    assert.deepEqual(adopts(p), ['cloud-dan immutable-id']);
    assert.deepEqual(refusals(p), [
      'hard-match-admin cloud-ada',
      'hard-match-admin cloud-cyd',
      'soft-match-admin cloud-bea',
    ]);
    const byId = new Map(p.reports.map((r) => [r.other?.id, r.reason]));
    assert.match(
      byId.get('cloud-ada')!,
      /holds an admin role \(Global Administrator\); hard match never takes over a privileged account/,
    );
    assert.match(byId.get('cloud-cyd')!, /Global Administrator \(through group Tier0 Admins\)/);
    assert.match(byId.get('cloud-bea')!, /Global Administrator \(through group Tier0 Admins\)/);
    assert.equal(
      p.changes.some((c) => 'id' in c && ['cloud-ada', 'cloud-bea', 'cloud-cyd'].includes(c.id)),
      false,
      'no change touches a role holder',
    );
    // Nor is a second account created beside them (a create would collide on the anchor or the UPN).
    assert.deepEqual(
      p.changes.filter((c) => c.action === 'create').map((c) => c.label),
      [],
    );
  });

  it('apply adopts Dan and leaves every role holder byte-identical', async () => {
    const r = await runCli(['apply', '-c', specPath(), '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /0 failed/);
    for (const id of ['cloud-ada', 'cloud-bea', 'cloud-cyd'])
      assert.equal(await objectJson(id), before_[id], `${id} untouched`);
    assert.equal(JSON.parse(await objectJson('cloud-dan')).props.displayName, 'Dan Plain');
  });

  it('matching.allowAdmins naming Ada (by UPN) adopts Ada, says so, and still refuses the others', async () => {
    await writeFile(specPath(), spec('  allowAdmins: [ADA.cloud@contoso.example]\n'));
    const v = await runCli(['validate', '-c', specPath()]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const p = await plan();
    assert.deepEqual(adopts(p), ['cloud-ada immutable-id']);
    assert.deepEqual(refusals(p), [
      'hard-match-admin cloud-cyd',
      'hard-match-admin-allowed cloud-ada',
      'soft-match-admin cloud-bea',
    ]);
  });

  it('validate refuses a malformed allowAdmins with its position', async () => {
    await writeFile(specPath(), spec('  allowAdmins: ada.cloud@contoso.example\n'));
    const v = await runCli(['validate', '-c', specPath()]);
    assert.equal(v.code, 1);
    assert.match(v.stdout + v.stderr, /adsync\.yaml:\d+:\d+.*allowAdmins/);
  });
});
