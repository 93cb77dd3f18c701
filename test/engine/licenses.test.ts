/** The licence stage, pure: selection, each rule's verdict, seats, SKU resolution, guard rails and rendering. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileLicenseRules,
  licenseGroups,
  licenseVerdict,
  planLicenses,
  resolveRules,
  selectLicenses,
  type LicenseSelection,
} from '../../src/engine/licenses.js';
import type { DesiredObject, DesiredState } from '../../src/engine/desired.js';
import { checkSafety } from '../../src/engine/safety.js';
import { LicenseError } from '../../src/errors.js';
import type { Change, LicensesChange } from '../../src/model/change.js';
import type { DirectoryEntry } from '../../src/model/entry.js';
import type { LicenseAssignmentState, SubscribedSkuInfo } from '../../src/model/license.js';
import { summarize } from '../../src/model/plan.js';
import type { TargetObject, TargetSnapshot } from '../../src/model/target.js';
import { renderChange } from '../../src/render/text.js';
import type { LicenseRuleSpec } from '../../src/spec/types.js';

const E3 = 'e3e3e3e3-0000-4000-8000-000000000001';
const YAMMER = 'aaaaaaaa-0000-4000-8000-00000000000a';
const EXO = 'bbbbbbbb-0000-4000-8000-00000000000b';
const SKUS: SubscribedSkuInfo[] = [
  {
    skuId: E3,
    skuPartNumber: 'SPE_E3',
    prepaidEnabled: 3,
    consumedUnits: 1,
    servicePlans: [
      { servicePlanId: YAMMER, servicePlanName: 'YAMMER_ENTERPRISE' },
      { servicePlanId: EXO, servicePlanName: 'EXCHANGE_S_ENTERPRISE' },
    ],
  },
];

function rule(over: Partial<LicenseRuleSpec> = {}): LicenseRuleSpec {
  return {
    index: 0,
    sku: 'SPE_E3',
    disabledPlans: ['YAMMER_ENTERPRISE'],
    when: 'source.department == "Sales"',
    onDisable: 'keep',
    onLeave: 'keep',
    owned: false,
    overCapacity: 'fail',
    ...over,
  };
}

const plain = (): { [k: string]: (x: string) => string } =>
  Object.fromEntries(['green', 'red', 'yellow', 'cyan', 'bold', 'dim'].map((k) => [k, (x: string) => x]));

function withoutWhen(r: LicenseRuleSpec): LicenseRuleSpec {
  const { when: _when, ...rest } = r;
  return rest;
}

function entry(cn: string, dept: string): DirectoryEntry {
  return {
    dn: `CN=${cn},OU=Staff,DC=corp,DC=example`,
    attrs: { department: [dept], objectclass: ['user'] },
  };
}

describe('licence selection', () => {
  it('when over the source object, memberOf a group read from the sources, both', () => {
    const compiled = compileLicenseRules([
      rule(),
      { ...withoutWhen(rule({ index: 1, sku: 'EMS' })), memberOf: 'CN=Mobile,OU=Groups,DC=corp,DC=example' },
      rule({ index: 2, sku: 'VISIO', memberOf: 'CN=Gone,OU=Groups,DC=corp,DC=example' }),
    ])!;
    assert.deepEqual(compiled.sourceAttributes, new Map([['department', 'department']]));
    const groups = licenseGroups(compiled, [
      {
        source: 'corp',
        entries: [
          {
            dn: 'CN=Mobile,OU=Groups,DC=corp,DC=example',
            attrs: { member: ['cn=ann,ou=staff,dc=corp,dc=example'] },
          } as unknown as DirectoryEntry,
        ],
      } as never,
    ]);
    const ann = selectLicenses(compiled, entry('Ann', 'Sales'), 'A', 'cn=ann,ou=staff,dc=corp,dc=example', groups);
    const bob = selectLicenses(compiled, entry('Bob', 'IT'), 'B', 'cn=bob,ou=staff,dc=corp,dc=example', groups);
    assert.deepEqual(
      ann.map((s) => s.selected),
      [true, true, false],
    );
    assert.deepEqual(
      bob.map((s) => s.selected),
      [false, false, false],
    );
    assert.match(ann[0]!.why, /when source\.department == "Sales" is true/);
    assert.match(bob[1]!.why, /not a direct member of CN=Mobile/);
    // a group no source returned: nobody is selected, and nobody loses the SKU for it
    assert.match(ann[2]!.uncertain ?? '', /not read from any source/);
  });
});

describe('licence verdicts', () => {
  const [r] = resolveRules([rule()], SKUS);
  const owned = resolveRules([rule({ owned: true, onLeave: 'remove', onDisable: 'remove' })], SKUS)[0]!;
  const sel = (selected: boolean, extra: Partial<LicenseSelection> = {}): LicenseSelection => ({
    rule: 0,
    selected,
    why: selected ? 'selected' : 'when … is false',
    ...extra,
  });
  const on = { enabled: true, usageLocation: true };
  const off = { enabled: false, usageLocation: true };
  const direct = (disabledPlans: string[] = [YAMMER]): LicenseAssignmentState => ({
    skuId: E3,
    disabledPlans,
    assignedByGroup: null,
  });
  const group: LicenseAssignmentState = { skuId: E3, disabledPlans: [], assignedByGroup: 'g1' };
  const kind = (v: ReturnType<typeof licenseVerdict>): string =>
    v.kind === 'report' ? `report ${v.code}` : v.kind === 'remove' ? `remove: ${v.remove.reason}` : v.kind;

  it('follows the table', () => {
    const cases: [string, ReturnType<typeof licenseVerdict>, string][] = [
      ['joiner', licenseVerdict(r!, sel(true), on, []), 'add'],
      [
        'no usage location',
        licenseVerdict(r!, sel(true), { ...on, usageLocation: false }, []),
        'report license-no-usage-location',
      ],
      ['holds it from a group', licenseVerdict(r!, sel(true), on, [group]), 'none'],
      ['holds it, other plans, not owned', licenseVerdict(r!, sel(true), on, [direct([])]), 'none'],
      ['holds it, other plans, owned', licenseVerdict(owned, sel(true), on, [direct([])]), 'add'],
      ['holds it as the rule says, owned', licenseVerdict(owned, sel(true), on, [direct()]), 'none'],
      ['disabled, keep', licenseVerdict(r!, sel(true), off, [direct()]), 'none'],
      ['disabled joiner is not given a seat', licenseVerdict(r!, sel(true), off, []), 'none'],
      [
        'disabled, remove',
        licenseVerdict(owned, sel(true), off, [direct()]),
        'remove: disabled in AD (onDisable: remove)',
      ],
      ['left, not owned', licenseVerdict(r!, sel(false), on, [direct()]), 'none'],
      [
        'left, owned, onLeave remove',
        licenseVerdict(owned, sel(false), on, [direct()]),
        'remove: no longer selected: when … is false (onLeave: remove)',
      ],
      ['left, but from a group only', licenseVerdict(owned, sel(false), on, [group]), 'report license-inherited'],
      ['left, uncertain', licenseVerdict(owned, sel(false, { uncertain: 'part read' }), on, [direct()]), 'none'],
      [
        'when failed',
        licenseVerdict(owned, sel(false, { error: 'boom' }), on, [direct()]),
        'report license-rule-error',
      ],
    ];
    for (const [name, v, want] of cases) assert.equal(kind(v), want, name);
    const re = licenseVerdict(owned, sel(true), on, [direct([])]);
    assert.ok(re.kind === 'add');
    assert.deepEqual(
      [re.add.before, re.add.disabledPlans, re.add.disabledPlanIds],
      [[], ['YAMMER_ENTERPRISE'], [YAMMER]],
    );
  });
});

describe('planLicenses', () => {
  function user(name: string, over: Partial<DesiredObject> = {}, selected = true): DesiredObject {
    return {
      kind: 'user',
      anchor: `anchor-${name}`,
      source: 'corp',
      dn: `CN=${name},OU=Staff,DC=corp,DC=example`,
      ndn: `cn=${name},ou=staff,dc=corp,dc=example`,
      label: `${name}@corp.example`,
      sortKey: `${name}@corp.example`,
      attrs: { accountEnabled: true, usageLocation: 'US' },
      provenance: {},
      rule: 'r',
      licenses: [{ rule: 0, selected, why: selected ? 'selected' : 'not selected' }],
      ...over,
    };
  }
  function state(objs: DesiredObject[], held: string[] = []): DesiredState {
    return {
      objects: objs,
      byAnchor: new Map(objs.map((o) => [o.anchor, o])),
      byDn: new Map(),
      excluded: new Map(),
      held: new Set(held),
      reports: [],
    };
  }
  function target(objs: TargetObject[], skus = SKUS): TargetSnapshot {
    return { system: 'entra', objects: objs, deleted: [], skus };
  }
  const tUser = (name: string, states: unknown[] = []): TargetObject => ({
    id: `id-${name}`,
    kind: 'user',
    anchor: `anchor-${name}`,
    attrs: { userPrincipalName: `${name}@corp.example`, licenseAssignmentStates: states },
  });
  const withoutAnchor = (t: TargetObject): TargetObject => {
    const { anchor: _anchor, ...rest } = t;
    return rest;
  };
  const create = (name: string): Change => ({
    action: 'create',
    kind: 'user',
    anchor: `anchor-${name}`,
    target: 'entra',
    label: name,
    rule: 'r',
    attributes: [],
  });

  it('one change per user, by id or (created now) without; held users and strangers untouched', () => {
    const out = planLicenses({
      rules: [rule()],
      desired: state([user('ann'), user('bob'), user('cy'), user('dee')], ['anchor-cy']),
      target: target([tUser('bob'), tUser('cy'), withoutAnchor(tUser('dee'))]),
      changes: [create('ann')],
    });
    assert.deepEqual(
      out.changes.map((c) => [c.label, c.id, c.add.map((a) => a.sku), c.rule]),
      [
        ['ann@corp.example', undefined, ['SPE_E3'], 'licenses[0] (SPE_E3)'],
        ['bob@corp.example', 'id-bob', ['SPE_E3'], 'licenses[0] (SPE_E3)'],
      ],
    );
    assert.deepEqual(summarize(out.changes, []).licensesAdded, 2);
  });

  it('more new seats than free ones stops the plan, naming the SKU and the shortfall', () => {
    const input = {
      rules: [rule()],
      desired: state([user('a'), user('b'), user('c')]),
      target: target([tUser('a'), tUser('b'), tUser('c')]),
      changes: [],
    };
    assert.throws(
      () => planLicenses(input),
      (e: unknown) =>
        e instanceof LicenseError &&
        e.code === 'license_capacity' &&
        /SKU SPE_E3 has 2 free seats \(prepaid 3, consumed 1\) but the plan assigns 3: 1 short/.test(e.message) &&
        /overCapacity: report/.test(e.hint ?? ''),
    );
    // re-assigning a held SKU (other disabled plans) needs no seat
    const held = planLicenses({
      ...input,
      rules: [rule({ owned: true })],
      target: target([tUser('a', [{ skuId: E3, disabledPlans: [], assignedByGroup: null }]), tUser('b'), tUser('c')]),
    });
    assert.equal(held.changes.length, 3);
    // overCapacity: report gives the free seats in plan order and reports the rest
    const rep = planLicenses({ ...input, rules: [rule({ overCapacity: 'report' })] });
    assert.deepEqual(
      rep.changes.map((c) => c.label),
      ['a@corp.example', 'b@corp.example'],
    );
    assert.deepEqual(
      rep.reports.map((x) => [x.label, x.code]),
      [['c@corp.example', 'license-no-seat']],
    );
  });

  it('an SKU or a service plan the tenant lacks stops the plan and lists what it has', () => {
    const base = { desired: state([user('a')]), target: target([tUser('a')]), changes: [] };
    assert.throws(
      () => planLicenses({ ...base, rules: [rule({ sku: 'SPE_E5' })] }),
      /licenses\[0\]\.sku: the tenant has no subscribed SKU SPE_E5 \(subscribedSkus: SPE_E3\)/,
    );
    assert.throws(
      () => planLicenses({ ...base, rules: [rule({ disabledPlans: ['TEAMS1'] })] }),
      /SKU SPE_E3 has no service plan TEAMS1 \(its plans: EXCHANGE_S_ENTERPRISE, YAMMER_ENTERPRISE\)/,
    );
  });

  it('removals count against safety.maxLicenseRemovals; the text plan shows + and - licence lines with the rule', () => {
    const users = Array.from({ length: 3 }, (_, i) => user(`u${i}`, {}, false));
    const out = planLicenses({
      rules: [rule({ owned: true, onLeave: 'remove' })],
      desired: state(users),
      target: target(
        users.map((u) =>
          tUser(u.label.split('@')[0]!, [{ skuId: E3, disabledPlans: [YAMMER], assignedByGroup: null }]),
        ),
      ),
      changes: [],
    });
    const plan = { changes: out.changes as Change[], summary: summarize(out.changes, []), managed: 3 };
    assert.equal(plan.summary.licensesRemoved, 3);
    const safety = { maxDeletes: 500, deleteMode: 'delete' as const, deleteGraceDays: 7 };
    assert.deepEqual(
      checkSafety(plan, { ...safety, maxLicenseRemovals: 2 }).map((v) => v.code),
      ['too-many-license-removals'],
    );
    assert.deepEqual(checkSafety(plan, { ...safety, maxLicenseRemovals: 3 }), []);
    const lines = renderChange(out.changes[0]!, plain() as never);
    assert.deepEqual(lines, [
      '  ~ licences user u0@corp.example (CN=u0,OU=Staff,DC=corp,DC=example)',
      '      - licence SPE_E3  # licenses[0] (SPE_E3): no longer selected: not selected (onLeave: remove)',
    ]);
    const add: LicensesChange = {
      ...(out.changes[0] as LicensesChange),
      add: [
        {
          skuId: E3,
          sku: 'SPE_E3',
          disabledPlans: ['YAMMER_ENTERPRISE'],
          disabledPlanIds: [YAMMER],
          rule: 'licenses[0] (SPE_E3)',
        },
      ],
      remove: [],
    };
    assert.equal(
      renderChange(add, plain() as never)[1],
      '      + licence SPE_E3 (disabled: YAMMER_ENTERPRISE)  # licenses[0] (SPE_E3)',
    );
  });
});
