/**
 * The writeback planner with plain data (no servers): which AD changes each rule produces, and which it must
 * not (held objects, other forests, groups whose filter fails).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DesiredObject, DesiredState } from '../../src/engine/desired.js';
import { planWriteback, type AdFacts, type AdGroup } from '../../src/engine/writeback.js';
import { normalizeDn } from '../../src/model/dn.js';
import type { Change } from '../../src/model/change.js';
import type { TargetObject } from '../../src/model/target.js';
import { semanticProblems } from '../../src/spec/rules.js';
import type { GroupWritebackSpec, SourceSpec, WritebackRuleSpec } from '../../src/spec/types.js';

const OU = 'OU=Cloud Groups,DC=corp,DC=example';
const source = (name: string): SourceSpec => ({
  name,
  anchor: 'ms-ds-consistencyguid',
  ldap: { url: 'ldaps://dc', bindDn: 'x', password: { env: 'P' }, pageSize: 500 },
  scope: { domains: [], ous: { include: [], exclude: [] }, groups: [] },
});

function user(key: string, src = 'corp'): DesiredObject {
  const dn = `CN=${key},OU=People,DC=corp,DC=example`;
  return {
    kind: 'user',
    anchor: `anchor-${key}`,
    source: src,
    dn,
    ndn: normalizeDn(dn),
    label: `${key}@corp.example`,
    sortKey: key,
    attrs: {},
    provenance: {},
    rule: 'r',
  };
}

function desiredOf(objects: DesiredObject[], held: string[] = []): DesiredState {
  return {
    objects,
    byAnchor: new Map(objects.map((o) => [o.anchor, o])),
    byDn: new Map(objects.map((o) => [o.ndn, o])),
    excluded: new Map(),
    held: new Set(held),
    reports: [],
  };
}

const entraUser = (o: DesiredObject, attrs: Record<string, unknown> = {}): TargetObject => ({
  id: `id-${o.anchor}`,
  kind: 'user',
  anchor: o.anchor,
  attrs: { userPrincipalName: o.label, ...attrs },
});
const cloudGroup = (
  id: string,
  displayName: string,
  members: string[],
  extra: Record<string, unknown> = {},
): TargetObject => ({
  id,
  kind: 'group',
  attrs: { displayName, securityEnabled: true, mailEnabled: false, groupTypes: [], description: null, ...extra },
  members,
});
const show = (cs: Change[]) =>
  cs.map(
    (c) =>
      `${c.action} ${c.kind} ${c.label}${'members' in c ? ` [${c.members.map((m) => m.label).join(' ')}]` : ''}${'attributes' in c ? ` {${c.attributes.map((a) => `${a.name}=${JSON.stringify(a.after ?? null)}`).join(' ')}}` : ''}`,
  );

describe('planWriteback', () => {
  const alice = user('alice');
  const bob = user('bob');
  const carol = user('carol');
  const dave = user('dave', 'other');
  const facts = new Map<string, AdFacts>([
    [alice.anchor, { objectGuid: 'R1VJRC1BTElDRQ==', attrs: { mobile: ['+1 1'] } }],
    [bob.anchor, { objectGuid: 'R1VJRC1CT0I=', consistencyGuid: 'c2V0', attrs: {} }],
    [carol.anchor, { objectGuid: 'R1VJRC1DQVJPTA==', attrs: {} }],
    [dave.anchor, { objectGuid: 'R1VJRC1EQVZF', attrs: {} }],
  ]);

  it('anchor writeback fills only empty ms-DS-ConsistencyGuid of in-scope, unheld objects of its source; attribute writeback joins the same change', () => {
    const rules: WritebackRuleSpec[] = [
      { rule: 'anchor', index: 0, source: 'corp', kinds: ['user'] },
      { rule: 'attributes', index: 1, source: 'corp', kind: 'user', flows: { mobile: 'source.mobilePhone' } },
    ];
    const out = planWriteback({
      spec: { sources: [source('corp'), source('other')], writeback: rules },
      desired: desiredOf([alice, bob, carol, dave], [carol.anchor]),
      facts,
      entra: {
        system: 'entra',
        objects: [
          entraUser(alice, { mobilePhone: '+1 2' }),
          entraUser(bob, { mobilePhone: null }),
          entraUser(carol, { mobilePhone: '+1 3' }),
          entraUser(dave, { mobilePhone: '+1 4' }),
        ],
        deleted: [],
      },
      groups: new Map(),
    });
    assert.deepEqual(show(out.changes), [
      'update user alice@corp.example {mobile="+1 2" mS-DS-ConsistencyGuid="R1VJRC1BTElDRQ=="}',
    ]);
    const c = out.changes[0]!;
    assert.equal(c.target, 'ad');
    assert.ok(c.action === 'update' && c.id === alice.dn && c.rule === 'writeback[0].anchor, writeback[1].attributes');
    assert.ok(c.action === 'update' && c.attributes[0]!.before === '+1 1');
  });

  it('group writeback: creates selected groups with mapped members, updates and prunes owned ones, deletes unselected ones, holds ones whose filter fails', () => {
    const rules: WritebackRuleSpec[] = [
      {
        rule: 'group',
        index: 0,
        source: 'corp',
        ou: OU,
        filter: 'source.displayName.startsWith("WB-") && source.securityEnabled',
        groupType: 'universal-security',
        flows: {},
      },
    ];
    const cloudOnly: TargetObject = {
      id: 'u-cloud',
      kind: 'user',
      attrs: { userPrincipalName: 'cloud@contoso.onmicrosoft.com' },
    };
    const existing: AdGroup[] = [
      {
        dn: `CN=Group_g2,${OU}`,
        attrs: {
          admindescription: ['Group_g2'],
          admindisplayname: ['adsync:Group_g2'],
          displayname: ['WB-Two'],
          samaccountname: ['WB-Two_g2'],
          grouptype: ['-2147483640'],
          description: ['old'],
          member: [bob.dn, 'CN=stranger,DC=corp,DC=example'],
        },
      },
      {
        dn: `CN=Group_g3,${OU}`,
        attrs: { admindescription: ['Group_g3'], admindisplayname: ['adsync:Group_g3'], displayname: ['WB-Three'] },
      },
      {
        dn: `CN=Group_g4,${OU}`,
        attrs: { admindescription: ['Group_g4'], admindisplayname: ['adsync:Group_g4'], displayname: ['WB-Four'] },
      },
    ];
    const out = planWriteback({
      spec: { sources: [source('corp'), source('other')], writeback: rules },
      desired: desiredOf([alice, bob, dave]),
      facts,
      entra: {
        system: 'entra',
        objects: [
          entraUser(alice),
          entraUser(bob),
          entraUser(dave),
          cloudOnly,
          cloudGroup('g1', 'WB-One', ['id-anchor-alice', 'u-cloud', 'g2', 'id-anchor-dave']),
          cloudGroup('g2', 'WB-Two', ['id-anchor-alice', 'id-anchor-bob'], { description: 'new' }),
          cloudGroup('g3', 'Renamed', []),
          cloudGroup('g4', 'WB-Four', [], { securityEnabled: null }),
          cloudGroup('g5', 'Not written back', ['id-anchor-alice']),
          {
            id: 'synced',
            kind: 'group',
            anchor: 'a-g',
            attrs: { displayName: 'WB-Synced from AD', securityEnabled: true },
            members: [],
          },
        ],
        deleted: [],
      },
      groups: new Map([[0, { ou: OU, existing }]]),
    });
    const lines = show(out.changes);
    assert.ok(
      lines.includes(
        `create group WB-One {adminDescription="Group_g1" adminDisplayName="adsync:Group_g1" displayName="WB-One" distinguishedName="CN=Group_g1,${OU}" groupType="-2147483640" objectClass="group" sAMAccountName="WB-One_g1"}`,
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.includes('add-members group WB-One [alice@corp.example WB-Two]'),
      'synced member by DN, nested written-back group by its DN',
    );
    assert.ok(lines.includes('update group WB-Two {description="new"}'));
    assert.ok(lines.includes('add-members group WB-Two [alice@corp.example]'));
    assert.ok(
      lines.includes('remove-members group WB-Two [CN=stranger,DC=corp,DC=example]'),
      'bob stays; a member the cloud group lacks goes',
    );
    assert.ok(lines.includes('delete group WB-Three'), 'no longer selected');
    assert.ok(!lines.some((l) => l.includes('WB-Four')), 'a failing filter holds the group: no delete');
    assert.ok(
      !lines.some((l) => /Not written back|Synced/.test(l)),
      "unselected cloud groups and adsync's own synced groups are not written back",
    );
    assert.equal(lines.length, 6, lines.join('\n'));
    const codes = out.reports.map((r) => `${r.code} ${r.label}`).sort();
    assert.deepEqual(codes, [
      'writeback-cloud-only-members WB-One',
      'writeback-filter-error WB-Four',
      'writeback-members-out-of-scope WB-One',
    ]);
    assert.equal(out.managed, 3);
    const add = out.changes.find((c) => c.action === 'add-members' && c.label === 'WB-One');
    assert.ok(
      add?.action === 'add-members' &&
        add.id === `CN=Group_g1,${OU}` &&
        add.members.find((m) => m.label === 'WB-Two')?.id === `CN=Group_g2,${OU}`,
    );
    assert.ok(out.changes.every((c) => c.target === 'ad' && c.source === 'corp'));
  });

  it('validate: a loop with a default flow is named at the writeback rule; two rules writing one attribute are named together', () => {
    const spec = {
      version: 1,
      sources: [{ name: 'corp', ldap: { url: 'ldaps://dc', bindDn: 'x', password: { env: 'P' } } }],
      target: { entra: { tenantId: 't', credential: { kind: 'environment' } } },
      writeback: [
        { attributes: { source: 'corp', flows: { mobile: 'source.mobilePhone' } } },
        { attributes: { source: 'corp', flows: { mobile: 'source.businessPhones[0]' } } },
        { anchor: { source: 'nope' } },
      ],
    };
    const problems = semanticProblems(spec).map((p) => `${p.path.join('.')}: ${p.message}`);
    assert.ok(
      problems.some(
        (p) =>
          p.startsWith('writeback.0.attributes.flows.mobile: flow loop') && p.includes('default flow user.mobilePhone'),
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.some(
        (p) =>
          p.startsWith('writeback.1.attributes.flows.mobile: ') &&
          p.includes('already written back by writeback[0].attributes.flows.mobile'),
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) =>
        p.startsWith("writeback.2.anchor.source: writeback[2].anchor.source: no source is named 'nope'"),
      ),
      problems.join('\n'),
    );
    assert.ok(
      !problems.some((p) => p.startsWith('writeback.1.attributes.flows.mobile: flow loop')),
      'businessPhones does not read mobile',
    );
  });

  // Issue 17 / 19: ownership is adsync's marker with the cloud id, never adminDescription Group_ alone.
  const wbRule: GroupWritebackSpec = {
    rule: 'group',
    index: 0,
    source: 'corp',
    ou: OU,
    filter: 'source.displayName.startsWith("WB-")',
    groupType: 'universal-security',
    flows: {},
  };
  const plan = (
    groups: TargetObject[],
    existing: AdGroup[],
    names: { dn: string; cn?: string; sam?: string }[] = [],
    rule = wbRule,
  ) =>
    planWriteback({
      spec: { sources: [source('corp')], writeback: [rule] },
      desired: desiredOf([alice]),
      facts,
      entra: { system: 'entra', objects: [entraUser(alice), ...groups], deleted: [] },
      groups: new Map([[0, { ou: OU, existing, names }]]),
    });

  it("a group with only the Group_ marker is never deleted or changed; one at adsync's own DN whose cloud group is selected is claimed by a visible update", () => {
    const existing: AdGroup[] = [
      { dn: `CN=Group_gone,${OU}`, attrs: { admindescription: ['Group_gone'], displayname: ['By hand'] } },
      {
        dn: `CN=Group_g1,${OU}`,
        attrs: {
          admindescription: ['Group_g1'],
          displayname: ['WB-One'],
          samaccountname: ['WB-One_g1'],
          grouptype: ['-2147483640'],
        },
      },
      { dn: `CN=Entra Connect group,${OU}`, attrs: { admindescription: ['Group_g2'], displayname: ['WB-Two'] } },
    ];
    const out = plan([cloudGroup('g1', 'WB-One', []), cloudGroup('g2', 'WB-Two', [])], existing);
    assert.deepEqual(show(out.changes), ['update group WB-One {adminDisplayName="adsync:Group_g1"}']);
    const claim = out.changes[0]!;
    assert.ok(claim.action === 'update' && /claims this group/.test(claim.attributes[0]!.flow));
    const reports = out.reports.map((r) => `${r.code} ${r.label}: ${r.reason}`);
    assert.ok(
      reports.some(
        (r) =>
          r.startsWith('writeback-not-owned By hand: CN=Group_gone') && r.includes('neither changes nor deletes it'),
      ),
      reports.join('\n'),
    );
    assert.ok(
      reports.some(
        (r) => r.startsWith('writeback-not-owned WB-Two: CN=Entra Connect group') && r.includes('not written back'),
      ),
      reports.join('\n'),
    );
    assert.equal(out.managed, 1, "only the claimed group is adsync's");
  });

  it('a written-back group an admin moved out of the OU is kept up to date where it is, never re-created, and not deleted there', () => {
    const moved = 'CN=Group_g1,OU=Elsewhere,DC=corp,DC=example';
    const existing: AdGroup[] = [
      {
        dn: moved,
        attrs: {
          admindescription: ['Group_g1'],
          admindisplayname: ['adsync:Group_g1'],
          displayname: ['WB-One'],
          samaccountname: ['WB-One_g1'],
          grouptype: ['-2147483640'],
        },
      },
      {
        dn: 'CN=Group_g9,OU=Elsewhere,DC=corp,DC=example',
        attrs: { admindescription: ['Group_g9'], admindisplayname: ['adsync:Group_g9'], displayname: ['WB-Gone'] },
      },
    ];
    const out = plan([cloudGroup('g1', 'WB-One', ['id-anchor-alice'])], existing);
    assert.deepEqual(show(out.changes), ['add-members group WB-One [alice@corp.example]']);
    assert.equal(out.changes[0]!.action === 'add-members' && out.changes[0].id, moved);
    const reports = out.reports.map((r) => `${r.code} ${r.label}`).sort();
    assert.deepEqual(reports, ['writeback-group-moved WB-Gone', 'writeback-group-moved WB-One']);
  });

  it('sAMAccountName and CN collisions, compared case-insensitively, are reported per group with both names and not created', () => {
    const rule: GroupWritebackSpec = { ...wbRule, flows: { sAMAccountName: 'source.displayName' } };
    const out = plan(
      [
        cloudGroup('g1', 'WB-Team', []),
        cloudGroup('g2', 'WB-TEAM', []),
        cloudGroup('g3', 'WB-Admins', []),
        cloudGroup('g4', 'WB-Four', []),
      ],
      [],
      [
        { dn: `CN=Admins by hand,${OU}`, cn: 'Admins by hand', sam: 'wb-admins' },
        { dn: `CN=group_G4,${OU}`, cn: 'group_G4', sam: 'x' },
      ],
      rule,
    );
    assert.deepEqual(
      show(out.changes).map((l) => l.split(' {')[0]),
      ['create group WB-Team'],
    );
    const r = out.reports
      .filter((x) => x.code === 'writeback-name-collision')
      .map((x) => `${x.label}: ${x.reason} | ${x.other?.label}`)
      .sort();
    assert.equal(r.length, 3, r.join('\n'));
    assert.match(
      r[0]!,
      /^WB-Admins: its sAMAccountName WB-Admins is taken by CN=Admins by hand,OU=Cloud Groups.* \| CN=Admins by hand/,
    );
    assert.match(r[1]!, /^WB-Four: its CN Group_g4 is taken by CN=group_G4,/);
    assert.match(
      r[2]!,
      /^WB-TEAM: its sAMAccountName WB-TEAM is taken by CN=Group_g1,OU=Cloud Groups,DC=corp,DC=example \(AD compares sAMAccountName case-insensitively\)/,
    );
  });

  it('names are cut on code points: an emoji at the cut is kept whole or left out, never halved', async () => {
    const { groupSamAccountName } = await import('../../src/engine/writeback.js');
    const name = `${'a'.repeat(50)}😀tail`;
    const sam = groupSamAccountName(name, '00000000-0000-0000-0000-123456789abc');
    assert.equal(sam, `${'a'.repeat(50)}😀_123456789abc`);
    const wellFormed = (v: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v);
    assert.ok(wellFormed(sam));
    assert.equal(groupSamAccountName(`${'b'.repeat(50)}c😀`, 'x'), `${'b'.repeat(50)}c_x`);
    assert.ok(wellFormed(groupSamAccountName(`${'b'.repeat(50)}😀`, 'x')));
    assert.equal(groupSamAccountName('\uD83D lone', 'abc'), '\uFFFD lone_abc');
  });
});
