/**
 * Tenant fixtures (issue 12 item 5, ⚑ contract): a described tenant loads into a fresh emulator and reads back
 * over plain HTTPS exactly as described; a bad fixture is FILE:LINE:COL problems and exit 1, nothing started.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FixtureError, loadFixtures, parseFixtures, startEmulator } from '../../src/emulator/index.js';
import { parseSpec } from '../../src/spec/load.js';
import { getToken, harness, trust, type Harness } from './helpers.js';
import { runCli } from '../support/cli.js';
import { cp } from 'node:fs/promises';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE = join(ROOT, 'examples', 'emulator-fixtures', 'entra-connect-tenant.yaml');
const TENANT = 'contoso.onmicrosoft.com';

describe('emulator: tenant fixtures', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ initialDomain: TENANT, domains: [], fixture: await loadFixtures([EXAMPLE]) });
  });
  after(async () => {
    await h.emu.close();
  });

  it('loads synced users with the onPremises* values Entra Connect writes', async () => {
    const sel =
      'id,displayName,onPremisesSyncEnabled,onPremisesImmutableId,onPremisesSecurityIdentifier,onPremisesSamAccountName,onPremisesDistinguishedName,onPremisesDomainName,onPremisesUserPrincipalName,onPremisesLastSyncDateTime';
    const r = await h.get(`/users/alice@contoso.com?$select=${sel}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.onPremisesSyncEnabled, true);
    assert.equal(r.body.onPremisesImmutableId, '8Hc2ZUCbS0yKX1mNbzV2xw==');
    assert.equal(r.body.onPremisesSecurityIdentifier, 'S-1-5-21-1004336348-1177238915-682003330-1105');
    assert.equal(r.body.onPremisesSamAccountName, 'alice');
    assert.equal(r.body.onPremisesDistinguishedName, 'CN=Alice Adams,OU=Finance,DC=corp,DC=contoso,DC=com');
    assert.equal(r.body.onPremisesDomainName, 'corp.contoso.com');
    assert.equal(r.body.onPremisesUserPrincipalName, 'alice@corp.contoso.com');
    assert.equal(r.body.onPremisesLastSyncDateTime, '2026-11-30T10:00:00Z');
  });

  it('verified domains, organization sync state, and a cloud-managed (converted) user reading onPremisesSyncEnabled null', async () => {
    const d = await h.get('/domains');
    assert.deepEqual(d.body.value.map((x: { id: string }) => x.id).sort(), ['contoso.com', TENANT]);
    const org = await h.get('/organization');
    assert.equal(org.body.value[0].onPremisesSyncEnabled, true);
    assert.equal(org.body.value[0].displayName, 'Contoso');
    const carol = await h.get('/users/carol@contoso.com?$select=onPremisesSyncEnabled,onPremisesImmutableId');
    assert.equal(carol.body.onPremisesSyncEnabled, null);
    assert.equal(carol.body.onPremisesImmutableId, 'mY1u4hX2IUGJpQmOqz1t3A==');
  });

  it('memberships, managers and directory role holders by fixture reference', async () => {
    const groups = await h.get("/groups?$filter=displayName eq 'Finance'");
    const finance = groups.body.value[0];
    assert.equal(finance.onPremisesSyncEnabled, true);
    const members = await h.get(`/groups/${finance.id}/members?$select=userPrincipalName`);
    assert.deepEqual(members.body.value.map((m: { userPrincipalName: string }) => m.userPrincipalName).sort(), [
      'alice@contoso.com',
      'bob@contoso.com',
    ]);
    const mgr = await h.get('/users/bob@contoso.com/manager?$select=userPrincipalName');
    assert.equal(mgr.body.userPrincipalName, 'alice@contoso.com');
    const roles = await h.get('/directoryRoles?$expand=members($select=userPrincipalName)');
    const ga = roles.body.value.find((x: { displayName: string }) => x.displayName === 'Global Administrator');
    assert.deepEqual(
      ga.members.map((m: { userPrincipalName: string }) => m.userPrincipalName),
      ['admin@contoso.onmicrosoft.com'],
    );
  });

  it('subscribed SKUs with units, direct and group-inherited licences, and directory extension values', async () => {
    const skus = await h.get('/subscribedSkus');
    assert.equal(skus.status, 200);
    const e3 = skus.body.value[0];
    assert.equal(e3.skuPartNumber, 'ENTERPRISEPACK');
    assert.equal(e3.prepaidUnits.enabled, 3);
    assert.equal(e3.consumedUnits, 2); // alice direct, bob through "E3 users"
    const bob = await h.get('/users/bob@contoso.com?$select=licenseAssignmentStates');
    assert.equal(bob.body.licenseAssignmentStates.length, 1);
    assert.notEqual(bob.body.licenseAssignmentStates[0].assignedByGroup, null);
    const ext = 'extension_0a4b5c6d111122223333444455556666_employeeNumber';
    const alice = await h.get(`/users/alice@contoso.com?$select=${ext}`);
    assert.equal(alice.body[ext], '1042');
  });

  it('ids are stable across loads of the same fixture (CI runs see the same objects)', async () => {
    const a = await h.get('/users/alice@contoso.com');
    const again = await loadFixtures([EXAMPLE]);
    assert.equal(again.objects.find((o) => o.props['userPrincipalName'] === 'alice@contoso.com')!.id, a.body.id);
  });

  it('a persisted tenant made from other fixtures is refused, not silently mixed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adsync-fixture-'));
    const state = join(dir, 'tenant.json');
    const first = await startEmulator({
      statePath: state,
      initialDomain: TENANT,
      fixture: await loadFixtures([EXAMPLE]),
    });
    await first.close();
    const again = await startEmulator({
      statePath: state,
      initialDomain: TENANT,
      fixture: await loadFixtures([EXAMPLE]),
    });
    try {
      // What the fixture set survives the state file: SKUs with their consumption, SOA state, dirsync flags.
      trust(again.certPem);
      const auth = { Authorization: `Bearer ${await getToken(again)}` };
      const skus = (await (await fetch(`${again.url}/v1.0/subscribedSkus`, { headers: auth })).json()) as {
        value: { consumedUnits: number }[];
      };
      assert.equal(skus.value[0]!.consumedUnits, 2);
      const carol = (await (
        await fetch(`${again.url}/v1.0/users/carol@contoso.com?$select=onPremisesSyncEnabled`, { headers: auth })
      ).json()) as { onPremisesSyncEnabled: unknown };
      assert.equal(carol.onPremisesSyncEnabled, null);
    } finally {
      await again.close();
    }
    const other = join(dir, 'other.yaml');
    await writeFile(other, 'version: 1\ntenant: { domains: [fabrikam.com] }\n');
    await assert.rejects(
      startEmulator({ statePath: state, fixture: await loadFixtures([other]) }),
      /was not made from the fixture/,
    );
  });
});

describe('emulator: fixture validation (FILE:LINE:COL)', () => {
  const problems = (text: string): string[] => {
    try {
      parseFixtures([{ file: 'f.yaml', text }]);
    } catch (e) {
      if (e instanceof FixtureError) return e.problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.message}`);
      throw e;
    }
    return [];
  };

  it('an unknown key, with a suggestion, at its position', () => {
    const p = problems('version: 1\nusers:\n  - userPrincipalName: a@contoso.com\n    dispalyName: A\n');
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^f\.yaml:4:5 unknown key 'dispalyName' in users\[0\].*displayName/);
  });

  it('references that resolve to nothing, unknown SKUs, and licences without usageLocation', () => {
    const p = problems(
      [
        'version: 1',
        'users:',
        '  - userPrincipalName: a@contoso.com',
        '    manager: nobody',
        '    licenses: [E5]',
        'groups:',
        '  - displayName: G',
        '    members: [a@contoso.com, ghost]',
        'subscribedSkus:',
        '  - { skuPartNumber: E3, skuId: 6fd2c87f-b296-42f0-b197-1e91e994b900, enabledUnits: 1 }',
        'contacts:',
        '  - displayName: C',
        '    manager: G',
      ].join('\n'),
    );
    assert.deepEqual(p, [
      "f.yaml:4:14 users[0].manager: no object 'nobody' in the fixture (refer by key, userPrincipalName, id or displayName)",
      "f.yaml:5:16 users[0].licenses[0]: unknown SKU 'E5' (subscribedSkus: E3)",
      "f.yaml:8:30 groups[0].members[1]: no object 'ghost' in the fixture (refer by key, userPrincipalName, id or displayName)",
      "f.yaml:13:14 contacts[0].manager: 'G' is a group, expected a user or contact",
    ]);
  });

  it('a user with licences needs usageLocation (user-assignlicense refuses without it)', () => {
    const p = problems(
      'version: 1\nsubscribedSkus:\n  - { skuPartNumber: E3, skuId: 6fd2c87f-b296-42f0-b197-1e91e994b900, enabledUnits: 1 }\nusers:\n  - userPrincipalName: a@contoso.com\n    licenses: [E3]\n',
    );
    assert.deepEqual(p, [
      'f.yaml:6:15 users[0].licenses: a user with licences needs usageLocation (Graph refuses assignLicense without it)',
    ]);
  });

  it('onPremisesImmutableId and onPremisesSecurityIdentifier are unique in the tenant (graph-facts-2 §1), across files', () => {
    try {
      parseFixtures([
        {
          file: 'a.yaml',
          text: 'version: 1\nusers:\n  - userPrincipalName: a@contoso.com\n    onPremisesImmutableId: X==\n',
        },
        {
          file: 'b.yaml',
          text: 'version: 1\nusers:\n  - userPrincipalName: b@contoso.com\n    onPremisesImmutableId: x==\n',
        },
      ]);
      assert.fail('accepted a duplicate immutable id');
    } catch (e) {
      assert.ok(e instanceof FixtureError);
      assert.deepEqual(
        e.problems.map((p) => `${p.file}:${p.line}:${p.col}`),
        ['b.yaml:4:28'],
      );
      assert.match(e.problems[0]!.message, /onPremisesImmutableId 'x==' is already used/);
    }
  });

  it('JSON fixtures too, with positions', () => {
    const p = problems('{\n  "version": 1,\n  "users": [\n    { "userPrincipalName": 7 }\n  ]\n}\n');
    assert.deepEqual(p, ['f.yaml:4:28 users[0].userPrincipalName must be a string, not the number 7']);
  });

  it('the example validates against the published schema, and a spec may name fixtures', async () => {
    const text = await readFile(EXAMPLE, 'utf8');
    assert.doesNotThrow(() => parseFixtures([{ file: EXAMPLE, text }]));
    const spec = parseSpec(
      'version: 1\nsources:\n  - name: corp\n    ldif: { path: ./corp.ldif }\ntarget:\n  emulator:\n    state: s.json\n    fixture: [a.yaml, b.yaml]\n',
      'adsync.yaml',
    );
    assert.deepEqual(spec.target.emulator?.fixtures, ['a.yaml', 'b.yaml']);
    const one = parseSpec(
      'version: 1\nsources:\n  - name: corp\n    ldif: { path: ./corp.ldif }\ntarget:\n  emulator:\n    state: s.json\n    fixture: a.yaml\n',
      'adsync.yaml',
    );
    assert.deepEqual(one.target.emulator?.fixtures, ['a.yaml']);
  });

  it('adsync emulator --fixture BAD: exit 1, FILE:LINE:COL on stderr, no stack trace, nothing served', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adsync-fixture-cli-'));
    await writeFile(
      join(dir, 'bad.yaml'),
      'version: 1\nsubscribedSkus:\n  - skuPartNumber: E3\n    skuId: not-a-guid\n    enabledUnits: 1\n',
    );
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'bin', 'run.js'), 'emulator', '--port', '0', '--fixture', 'bad.yaml'],
      { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /bad\.yaml:4:12 subscribedSkus\[0\]\.skuId must be a GUID/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.doesNotMatch(r.stdout, /listening/);
  });

  it('target.emulator.fixture: adsync plan loads it into the new tenant; a bad one is FILE:LINE:COL, exit 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adsync-fixture-spec-'));
    await cp(join(ROOT, 'examples', 'quickstart', 'corp.ldif'), join(dir, 'corp.ldif'));
    // (the quickstart names ./tenant.yaml already: its subscriptions, for its licence rule)
    const spec = await readFile(join(ROOT, 'examples', 'quickstart', 'adsync.yaml'), 'utf8');
    assert.match(spec, /fixture: \.\/tenant\.yaml/);
    await writeFile(join(dir, 'adsync.yaml'), spec);
    const skus = await readFile(join(ROOT, 'examples', 'quickstart', 'tenant.yaml'), 'utf8');
    await writeFile(
      join(dir, 'tenant.yaml'),
      skus +
        'users:\n  - key: admin\n    userPrincipalName: breakglass@contoso.onmicrosoft.com\n    displayName: Break-glass\ndirectoryRoles:\n  - displayName: Global Administrator\n    members: [admin]\n',
    );
    const ok = await runCli(['plan', '-c', join(dir, 'adsync.yaml'), '--format', 'json']);
    assert.equal(ok.code, 0, ok.stderr);
    const state = JSON.parse(await readFile(join(dir, '.adsync', 'tenant.json'), 'utf8')) as {
      objects: { props: { userPrincipalName?: string } }[];
    };
    assert.ok(state.objects.some((o) => o.props.userPrincipalName === 'breakglass@contoso.onmicrosoft.com'));
    await writeFile(
      join(dir, 'tenant.yaml'),
      'version: 1\nusers:\n  - userPrincipalName: x@contoso.onmicrosoft.com\n    manager: nobody\n',
    );
    const bad = await runCli(['plan', '-c', join(dir, 'adsync.yaml')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /tenant\.yaml:4:14 users\[0\]\.manager: no object 'nobody'/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
  });
});
