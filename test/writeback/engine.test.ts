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
import type { SourceSpec, WritebackRuleSpec } from '../../src/spec/types.js';

const OU = 'OU=Cloud Groups,DC=corp,DC=example';
const source = (name: string): SourceSpec => ({ name, anchor: 'ms-ds-consistencyguid', ldap: { url: 'ldaps://dc', bindDn: 'x', password: { env: 'P' }, pageSize: 500 }, scope: { domains: [], ous: { include: [], exclude: [] }, groups: [] } });

function user(key: string, src = 'corp'): DesiredObject {
  const dn = `CN=${key},OU=People,DC=corp,DC=example`;
  return { kind: 'user', anchor: `anchor-${key}`, source: src, dn, ndn: normalizeDn(dn), label: `${key}@corp.example`, sortKey: key, attrs: {}, provenance: {}, rule: 'r' };
}

function desiredOf(objects: DesiredObject[], held: string[] = []): DesiredState {
  return { objects, byAnchor: new Map(objects.map((o) => [o.anchor, o])), byDn: new Map(objects.map((o) => [o.ndn, o])), excluded: new Map(), held: new Set(held), reports: [] };
}

const entraUser = (o: DesiredObject, attrs: Record<string, unknown> = {}): TargetObject => ({ id: `id-${o.anchor}`, kind: 'user', anchor: o.anchor, attrs: { userPrincipalName: o.label, ...attrs } });
const cloudGroup = (id: string, displayName: string, members: string[], extra: Record<string, unknown> = {}): TargetObject => ({ id, kind: 'group', attrs: { displayName, securityEnabled: true, mailEnabled: false, groupTypes: [], description: null, ...extra }, members });
const show = (cs: Change[]) => cs.map((c) => `${c.action} ${c.kind} ${c.label}${'members' in c ? ` [${c.members.map((m) => m.label).join(' ')}]` : ''}${'attributes' in c ? ` {${c.attributes.map((a) => `${a.name}=${JSON.stringify(a.after ?? null)}`).join(' ')}}` : ''}`);

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
      entra: { system: 'entra', objects: [entraUser(alice, { mobilePhone: '+1 2' }), entraUser(bob, { mobilePhone: null }), entraUser(carol, { mobilePhone: '+1 3' }), entraUser(dave, { mobilePhone: '+1 4' })], deleted: [] },
      groups: new Map(),
    });
    assert.deepEqual(show(out.changes), ['update user alice@corp.example {mobile="+1 2" mS-DS-ConsistencyGuid="R1VJRC1BTElDRQ=="}']);
    const c = out.changes[0]!;
    assert.equal(c.target, 'ad');
    assert.ok(c.action === 'update' && c.id === alice.dn && c.rule === 'writeback[0].anchor, writeback[1].attributes');
    assert.ok(c.action === 'update' && c.attributes[0]!.before === '+1 1');
  });

  it('group writeback: creates selected groups with mapped members, updates and prunes owned ones, deletes unselected ones, holds ones whose filter fails', () => {
    const rules: WritebackRuleSpec[] = [{ rule: 'group', index: 0, source: 'corp', ou: OU, filter: 'source.displayName.startsWith("WB-") && source.securityEnabled', groupType: 'universal-security', flows: {} }];
    const cloudOnly: TargetObject = { id: 'u-cloud', kind: 'user', attrs: { userPrincipalName: 'cloud@contoso.onmicrosoft.com' } };
    const existing: AdGroup[] = [
      { dn: `CN=Group_g2,${OU}`, attrs: { admindescription: ['Group_g2'], displayname: ['WB-Two'], samaccountname: ['WB-Two_g2'], grouptype: ['-2147483640'], description: ['old'], member: [bob.dn, 'CN=stranger,DC=corp,DC=example'] } },
      { dn: `CN=Group_g3,${OU}`, attrs: { admindescription: ['Group_g3'], displayname: ['WB-Three'] } },
      { dn: `CN=Group_g4,${OU}`, attrs: { admindescription: ['Group_g4'], displayname: ['WB-Four'] } },
    ];
    const out = planWriteback({
      spec: { sources: [source('corp'), source('other')], writeback: rules },
      desired: desiredOf([alice, bob, dave]),
      facts,
      entra: {
        system: 'entra',
        objects: [
          entraUser(alice), entraUser(bob), entraUser(dave), cloudOnly,
          cloudGroup('g1', 'WB-One', ['id-anchor-alice', 'u-cloud', 'g2', 'id-anchor-dave']),
          cloudGroup('g2', 'WB-Two', ['id-anchor-alice', 'id-anchor-bob'], { description: 'new' }),
          cloudGroup('g3', 'Renamed', []),
          cloudGroup('g4', 'WB-Four', [], { securityEnabled: null }),
          cloudGroup('g5', 'Not written back', ['id-anchor-alice']),
          { id: 'synced', kind: 'group', anchor: 'a-g', attrs: { displayName: 'WB-Synced from AD', securityEnabled: true }, members: [] },
        ],
        deleted: [],
      },
      groups: new Map([[0, { ou: OU, existing }]]),
    });
    const lines = show(out.changes);
    assert.ok(lines.includes(`create group WB-One {adminDescription="Group_g1" displayName="WB-One" distinguishedName="CN=Group_g1,${OU}" groupType="-2147483640" objectClass="group" sAMAccountName="WB-One_g1"}`), lines.join('\n'));
    assert.ok(lines.includes('add-members group WB-One [alice@corp.example WB-Two]'), 'synced member by DN, nested written-back group by its DN');
    assert.ok(lines.includes('update group WB-Two {description="new"}'));
    assert.ok(lines.includes('add-members group WB-Two [alice@corp.example]'));
    assert.ok(lines.includes('remove-members group WB-Two [CN=stranger,DC=corp,DC=example]'), 'bob stays; a member the cloud group lacks goes');
    assert.ok(lines.includes('delete group WB-Three'), 'no longer selected');
    assert.ok(!lines.some((l) => l.includes('WB-Four')), 'a failing filter holds the group: no delete');
    assert.ok(!lines.some((l) => /Not written back|Synced/.test(l)), 'unselected cloud groups and adsync\'s own synced groups are not written back');
    assert.equal(lines.length, 6, lines.join('\n'));
    const codes = out.reports.map((r) => `${r.code} ${r.label}`).sort();
    assert.deepEqual(codes, ['writeback-cloud-only-members WB-One', 'writeback-filter-error WB-Four', 'writeback-members-out-of-scope WB-One']);
    assert.equal(out.managed, 3);
    const add = out.changes.find((c) => c.action === 'add-members' && c.label === 'WB-One');
    assert.ok(add?.action === 'add-members' && add.id === `CN=Group_g1,${OU}` && add.members.find((m) => m.label === 'WB-Two')?.id === `CN=Group_g2,${OU}`);
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
    assert.ok(problems.some((p) => p.startsWith('writeback.0.attributes.flows.mobile: flow loop') && p.includes('default flow user.mobilePhone')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('writeback.1.attributes.flows.mobile: ') && p.includes('already written back by writeback[0].attributes.flows.mobile')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith("writeback.2.anchor.source: writeback[2].anchor.source: no source is named 'nope'")), problems.join('\n'));
    assert.ok(!problems.some((p) => p.startsWith('writeback.1.attributes.flows.mobile: flow loop')), 'businessPhones does not read mobile');
  });
});
