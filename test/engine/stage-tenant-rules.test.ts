/** Stage: tenant rules (src/engine/stages/tenant-rules.ts), on plain data: pure, the input left as it was. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deepFreeze } from '../support/freeze.js';
import { buildDesired, type DesiredState } from '../../src/engine/desired.js';
import { compileFlows } from '../../src/engine/flows.js';
import { planFor } from '../../src/engine/plan.js';
import { tenantRulesStage } from '../../src/engine/stages/tenant-rules.js';
import { dnOf, emptyTarget, group, snapshot, spec, user } from '../support/fixtures.js';

const s = spec();
const flows = compileFlows(s);
const EVE = dnOf('Eve');
const ALICE = dnOf('Alice');
const INNER = 'CN=Inner,OU=Groups,DC=contoso,DC=example';
const desired = (): DesiredState =>
  buildDesired(
    s,
    [
      snapshot([
        user('Eve', { userPrincipalName: 'eve@unverified.example' }),
        user('Alice'),
        group('Inner', [EVE]),
        group('Outer', [INNER, ALICE]),
      ]),
    ],
    flows,
  );

/** Freezes every object reachable from `v` (maps and sets by their entries), so a write throws. */

const snapshotOf = (d: DesiredState): string =>
  JSON.stringify(d.objects.map((o) => ({ ...o, members: o.members?.map((m) => m.anchor) })));

describe('stage: tenant rules', () => {
  it('an unverified UPN suffix falls back to <mailNickname>@<initial domain>, on a copy', () => {
    const input = desired();
    const before = snapshotOf(input);
    deepFreeze(input);
    const out = tenantRulesStage(input, emptyTarget());
    assert.equal(snapshotOf(input), before, 'the input is unchanged');
    const eve = out.objects.find((o) => o.dn === EVE)!;
    assert.equal(eve.attrs.userPrincipalName, 'eve@contoso.onmicrosoft.com');
    assert.equal(eve.label, 'eve@contoso.onmicrosoft.com');
    assert.equal(eve.sortKey, 'eve@contoso.onmicrosoft.com');
    assert.match(eve.provenance.userPrincipalName!, /suffix unverified\.example is not a verified domain/);
    assert.equal(input.objects.find((o) => o.dn === EVE)!.attrs.userPrincipalName, 'eve@unverified.example');
  });

  it('member references point at the copies, nested groups included; the maps agree with the list', () => {
    const out = tenantRulesStage(deepFreeze(desired()), emptyTarget());
    const byDn = (dn: string) => out.objects.find((o) => o.dn === dn)!;
    const inner = byDn(INNER);
    const outer = out.objects.find((o) => o.label === 'Outer')!;
    assert.equal(inner.members![0], byDn(EVE), 'Inner holds the copy of Eve');
    assert.ok(outer.members!.includes(inner), 'Outer holds the copy of Inner');
    assert.ok(outer.members!.includes(byDn(ALICE)));
    for (const o of out.objects) {
      assert.equal(out.byAnchor.get(o.anchor), o, `byAnchor ${o.label}`);
      assert.equal(out.byDn.get(o.ndn), o, `byDn ${o.label}`);
    }
  });

  it('nothing to change (or no tenant read): the input itself', () => {
    const d = deepFreeze(buildDesired(s, [snapshot([user('Alice'), group('G', [ALICE])])], flows));
    assert.equal(tenantRulesStage(d, emptyTarget()), d);
    const e = deepFreeze(desired());
    assert.equal(tenantRulesStage(e, {}), e);
  });

  it('planFor over a frozen desired state plans the fallback UPN and returns the ruled state', () => {
    const input = deepFreeze(desired());
    const out = planFor({ spec: s, specPath: 'adsync.yaml', desired: input, target: emptyTarget(), toolVersion: 't' });
    const create = out.plan.changes.find((c) => c.action === 'create' && c.label.startsWith('eve'))!;
    assert.equal(create.label, 'eve@contoso.onmicrosoft.com');
    assert.equal(out.desired.objects.find((o) => o.dn === EVE)!.label, 'eve@contoso.onmicrosoft.com');
    const inner = out.plan.changes.find((c) => c.action === 'add-members' && c.label === 'Inner');
    assert.ok(inner, 'Inner gets its member');
  });
});
