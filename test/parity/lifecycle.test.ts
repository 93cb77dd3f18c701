/**
 * Lifecycle, matching and source of authority end to end: LDIF + the embedded Graph emulator, through the CLI.
 *   - delete → restore → rename → move keeps one cloud object id;
 *   - a cloud-only user and group with the same names as AD objects stay byte-identical after apply;
 *   - a cloud edit to a flowed attribute is drift: the plan says so and apply restores the AD value;
 *   - a cloud user whose onPremisesImmutableId is the anchor is adopted (hard match), and soft match by UPN
 *     is opt-in and shown as its own action.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ExplainResult } from '../../src/engine/explain.js';
import { startEmulator } from '../../src/emulator/index.js';
import type { Plan } from '../../src/model/plan.js';
import { runCli } from '../support/cli.js';
import { guid } from '../support/fixtures.js';

const BASE = 'DC=contoso,DC=example';

interface U {
  cn: string;
  ou?: string;
  sam: string;
  displayName?: string;
  title?: string;
  key?: string;
}

function userLdif(u: U): string {
  return [
    `dn: CN=${u.cn},${u.ou ?? 'OU=Staff'},${BASE}`,
    'changetype: add',
    'objectClass: top',
    'objectClass: person',
    'objectClass: organizationalPerson',
    'objectClass: user',
    `cn: ${u.cn}`,
    `sAMAccountName: ${u.sam}`,
    `userPrincipalName: ${u.sam}@contoso.example`,
    `displayName: ${u.displayName ?? u.cn}`,
    ...(u.title ? [`title: ${u.title}`] : []),
    'userAccountControl: 512',
    `objectGUID:: ${Buffer.from(guid(u.key ?? u.sam)).toString('base64')}`,
  ].join('\n');
}

function groupLdif(cn: string, members: string[]): string {
  return [
    `dn: CN=${cn},OU=Groups,${BASE}`,
    'changetype: add',
    'objectClass: top',
    'objectClass: group',
    `cn: ${cn}`,
    `sAMAccountName: ${cn.replace(/\W/g, '')}`,
    'groupType: -2147483646',
    `objectGUID:: ${Buffer.from(guid(`group-${cn}`)).toString('base64')}`,
    ...members.map((m) => `member: ${m}`),
  ].join('\n');
}

const SPEC = (softMatch = 'off') => `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
    scope:
      domains: [contoso.example]
      ous: { include: ["OU=Staff,${BASE}", "OU=Moved,${BASE}", "OU=Groups,${BASE}"] }
target:
  emulator: { state: ./.adsync/tenant.json, tenant: contoso.onmicrosoft.com, domains: [contoso.example] }
matching: { softMatch: ${softMatch} }
`;

class Tenant {
  dir = '';
  async init(users: U[], groups: string[] = [], softMatch = 'off'): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'adsync-lifecycle-'));
    await writeFile(join(this.dir, 'adsync.yaml'), SPEC(softMatch));
    await this.write(users, groups);
  }
  get spec(): string {
    return join(this.dir, 'adsync.yaml');
  }
  get state(): string {
    return join(this.dir, '.adsync', 'tenant.json');
  }
  async write(users: U[], groups: string[] = []): Promise<void> {
    await writeFile(join(this.dir, 'corp.ldif'), `version: 1\n\n${[...users.map(userLdif), ...groups].join('\n\n')}\n`);
  }
  async plan(): Promise<Plan> {
    const r = await runCli(['plan', '-c', this.spec, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Plan;
  }
  async apply(): Promise<void> {
    const r = await runCli(['apply', '-c', this.spec, '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /0 failed/);
  }
  async explain(object: string): Promise<ExplainResult> {
    const r = await runCli(['explain', '-c', this.spec, object, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return JSON.parse(r.stdout) as ExplainResult;
  }
  async seed(objects: { users?: object[]; groups?: object[] }): Promise<void> {
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(this.dir, '.adsync'), { recursive: true });
    const e = await startEmulator({
      statePath: this.state,
      initialDomain: 'contoso.onmicrosoft.com',
      domains: ['contoso.example'],
    });
    e.seed(objects);
    await e.close();
  }
  async stateObject(id: string): Promise<string> {
    const s = JSON.parse(await readFile(this.state, 'utf8')) as { objects: { id: string }[] };
    const o = s.objects.find((x) => x.id === id);
    assert.ok(o, `object ${id} in the emulator`);
    return JSON.stringify(o);
  }
  async editState(id: string, edit: (props: Record<string, unknown>) => void): Promise<void> {
    const s = JSON.parse(await readFile(this.state, 'utf8')) as {
      objects: { id: string; props: Record<string, unknown> }[];
    };
    const o = s.objects.find((x) => x.id === id)!;
    edit(o.props);
    await writeFile(this.state, JSON.stringify(s));
  }
  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

describe('lifecycle: delete → restore → rename → move keeps one cloud object', () => {
  const t = new Tenant();
  const rita: U = { cn: 'Rita Round', sam: 'rround', title: 'Analyst' };
  let id: string | undefined;
  before(async () => t.init([rita, { cn: 'Other One', sam: 'oone' }]));
  after(async () => t.close());

  it('creates, then soft-deletes the user when it leaves the source', async () => {
    await t.apply();
    id = (await t.explain('rround@contoso.example')).match?.id;
    assert.ok(id);
    await t.write([{ cn: 'Other One', sam: 'oone' }]);
    const p = await t.plan();
    assert.deepEqual(
      p.changes.map((c) => `${c.action} ${c.label}`),
      ['delete rround@contoso.example'],
    );
    await t.apply();
  });

  it('restores it from deleted items when it comes back with the same anchor (not a create)', async () => {
    await t.write([rita, { cn: 'Other One', sam: 'oone' }]);
    const p = await t.plan();
    assert.deepEqual(
      p.changes.map((c) => c.action),
      ['restore'],
    );
    assert.equal(p.changes[0]!.action === 'restore' && p.changes[0].id, id);
    await t.apply();
    assert.equal((await t.explain('rround@contoso.example')).match?.id, id);
  });

  it('a rename (new cn, displayName and DN) is an update of the same object', async () => {
    await t.write([
      { ...rita, cn: 'Rita Renamed', displayName: 'Rita Renamed', key: 'rround' },
      { cn: 'Other One', sam: 'oone' },
    ]);
    const p = await t.plan();
    assert.deepEqual(
      p.changes.map((c) =>
        c.action === 'update' ? `update ${c.id} ${c.attributes.map((a) => a.name).join(',')}` : c.action,
      ),
      [`update ${id} displayName`],
    );
    await t.apply();
  });

  it('a move to another OU in scope changes nothing in the cloud; the id stays', async () => {
    await t.write([
      { ...rita, cn: 'Rita Renamed', displayName: 'Rita Renamed', ou: 'OU=Moved', key: 'rround' },
      { cn: 'Other One', sam: 'oone' },
    ]);
    assert.deepEqual((await t.plan()).changes, []);
    const e = await t.explain(`CN=Rita Renamed,OU=Moved,${BASE}`);
    assert.equal(e.match?.id, id);
    assert.equal(e.match?.rule, 'anchor');
  });
});

describe('cloud-only objects with the names of AD objects stay byte-identical', () => {
  const t = new Tenant();
  before(async () => {
    await t.init([{ cn: 'Sam Same', sam: 'ssame' }], [groupLdif('Finance', [`CN=Sam Same,OU=Staff,${BASE}`])]);
    await t.seed({
      users: [
        {
          id: 'cloud-user-1',
          userPrincipalName: 'ssame@contoso.example',
          displayName: 'Sam Same',
          accountEnabled: true,
          mailNickname: 'ssame',
          jobTitle: 'Cloud only',
        },
      ],
      groups: [
        {
          id: 'cloud-group-1',
          displayName: 'Finance',
          mailEnabled: false,
          securityEnabled: true,
          mailNickname: 'Finance',
          description: 'cloud-only group',
        },
      ],
    });
  });
  after(async () => t.close());

  it('plans a collision report for the user, a new group, and never touches either cloud object', async () => {
    const beforeUser = await t.stateObject('cloud-user-1');
    const beforeGroup = await t.stateObject('cloud-group-1');
    const p = await t.plan();
    assert.ok(!p.changes.some((c) => 'id' in c && (c.id === 'cloud-user-1' || c.id === 'cloud-group-1')));
    const collision = p.reports.find((r) => r.code === 'cloud-only-collision');
    assert.ok(collision && collision.other?.id === 'cloud-user-1', 'the report names both objects');
    await t.apply();
    assert.equal(await t.stateObject('cloud-user-1'), beforeUser);
    assert.equal(await t.stateObject('cloud-group-1'), beforeGroup);
  });
});

describe('source of authority: a cloud edit is drift, and apply restores the AD value', () => {
  const t = new Tenant();
  before(async () => t.init([{ cn: 'Dana Drift', sam: 'ddrift', title: 'Engineer' }]));
  after(async () => t.close());

  it('shows the edit as drift and puts the AD value back', async () => {
    await t.apply();
    const id = (await t.explain('ddrift@contoso.example')).match!.id!;
    await t.editState(id, (p) => {
      p['jobTitle'] = 'Edited in the portal';
    });
    const p = await t.plan();
    const u = p.changes[0];
    assert.ok(u && u.action === 'update');
    assert.deepEqual(
      u.attributes.map((a) => [a.name, a.before, a.after, a.drift]),
      [['jobTitle', 'Edited in the portal', 'Engineer', true]],
    );
    // drift is data: the flow names the flow, and the renderers say "drift"
    assert.doesNotMatch(u.attributes[0]!.flow, /drift/);
    const text = await runCli(['plan', '-c', t.spec]);
    assert.match(text.stdout, /jobTitle = .*# .*\(drift: edited in the cloud; AD is the source of authority\)/);
    const md = await runCli(['plan', '-c', t.spec, '-f', 'markdown']);
    assert.match(md.stdout, /`jobTitle`: .*drift: edited in the cloud/);
    await t.apply();
    assert.deepEqual((await t.plan()).changes, []);
  });

  it('a change in AD is not called drift', async () => {
    await t.write([{ cn: 'Dana Drift', sam: 'ddrift', title: 'Lead' }]);
    const p = await t.plan();
    const u = p.changes[0];
    assert.ok(u && u.action === 'update');
    assert.equal(u.attributes[0]!.drift, undefined);
  });
});

describe('matching: adopt by onPremisesImmutableId (hard) and by UPN (opt-in soft)', () => {
  const hard = new Tenant();
  const soft = new Tenant();
  after(async () => {
    await hard.close();
    await soft.close();
  });

  it('a cloud user whose onPremisesImmutableId is the anchor is adopted, shown as its own action', async () => {
    await hard.init([{ cn: 'Ian Immutable', sam: 'iimm' }]);
    await hard.seed({
      users: [
        {
          id: 'migrated-1',
          userPrincipalName: 'iimm@contoso.example',
          displayName: 'Ian (from Entra Connect)',
          accountEnabled: true,
          mailNickname: 'iimm',
          onPremisesImmutableId: Buffer.from(guid('iimm')).toString('base64'),
        },
      ],
    });
    const p = await hard.plan();
    assert.deepEqual(
      p.changes.map((c) => (c.action === 'adopt' ? `adopt ${c.id} ${c.match}` : c.action)),
      ['adopt migrated-1 immutable-id'],
    );
    assert.equal(p.summary.adopt, 1);
    await hard.apply();
    assert.deepEqual((await hard.plan()).changes, []);
    assert.equal((await hard.explain('iimm@contoso.example')).match?.id, 'migrated-1');
  });

  it('soft match by UPN adopts only when matching.softMatch asks for it', async () => {
    await soft.init([{ cn: 'Sue Soft', sam: 'ssoft' }], [], 'upn');
    await soft.seed({
      users: [
        {
          id: 'cloud-soft-1',
          userPrincipalName: 'ssoft@contoso.example',
          displayName: 'Sue',
          accountEnabled: true,
          mailNickname: 'ssoft',
        },
      ],
    });
    const p = await soft.plan();
    assert.deepEqual(
      p.changes.map((c) => (c.action === 'adopt' ? `adopt ${c.id} ${c.match} ${c.matchedOn}` : c.action)),
      ['adopt cloud-soft-1 soft-upn userPrincipalName ssoft@contoso.example'],
    );
    await soft.apply();
    assert.deepEqual((await soft.plan()).changes, []);
  });
});
