/**
 * Security defects of the engine (issues 10 and 17), with plain data: an emptied group keeps no members in
 * the cloud; a member list read only in part removes nothing; hard match never takes over a role holder
 * unless matching.allowAdmins names it; held objects keep their memberships (inbound and in writeback).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDesired } from '../../src/engine/desired.js';
import { compileFlows } from '../../src/engine/flows.js';
import { assemblePlan } from '../../src/engine/plan.js';
import { planWriteback, type AdGroup } from '../../src/engine/writeback.js';
import type { Change } from '../../src/model/change.js';
import type { DirectoryEntry } from '../../src/model/entry.js';
import type { TargetObject, TargetSnapshot } from '../../src/model/target.js';
import type { Spec, WritebackRuleSpec } from '../../src/spec/types.js';
import { anchorOf, dnOf, emptyTarget, group, snapshot, spec, user } from '../support/fixtures.js';

function plan(entries: DirectoryEntry[], target: TargetSnapshot = emptyTarget(), s: Spec = spec()) {
  return assemblePlan({
    spec: s,
    specPath: 'adsync.yaml',
    flows: compileFlows(s),
    sources: [snapshot(entries)],
    target,
    toolVersion: 'test',
    now: new Date(0),
  }).plan;
}

/** The tenant after applying a plan into an empty one (ids are `id-<anchor>`). */
function applied(entries: DirectoryEntry[], s: Spec = spec()): TargetSnapshot {
  const p = plan(entries, emptyTarget(), s);
  const objects = new Map<string, TargetObject>();
  for (const c of p.changes) {
    if (c.action === 'create') {
      objects.set(c.anchor, {
        id: `id-${c.anchor}`,
        kind: c.kind,
        anchor: c.anchor,
        attrs: Object.fromEntries(c.attributes.map((a) => [a.name, a.after ?? null])),
        ...(c.kind === 'group' ? { members: [] } : {}),
      });
    }
  }
  for (const c of p.changes)
    if (c.action === 'add-members') objects.get(c.anchor)!.members!.push(...c.members.map((m) => `id-${m.anchor}`));
  return emptyTarget([...objects.values()]);
}

const show = (cs: Change[]): string[] =>
  cs.map(
    (c) => `${c.action} ${c.kind} ${c.label}${'members' in c ? ` [${c.members.map((m) => m.label).join(', ')}]` : ''}`,
  );

describe('emptied groups', () => {
  const people = [user('Isabel Ito'), user('Jonas Jung'), user('Kate Kim')];
  const full = group(
    'Contractors',
    people.map((p) => dnOf(p.attrs['cn']![0] as string)),
  );
  const tenant = applied([...people, full]);

  it('a group whose every member was removed (no member attribute) loses every member it has in the cloud', () => {
    const p = plan([...people, group('Contractors', [])], tenant);
    assert.deepEqual(show(p.changes), [
      'remove-members group Contractors [isabel.ito@contoso.example, jonas.jung@contoso.example, kate.kim@contoso.example]',
    ]);
  });

  it('the last member removed: the one remaining member goes', () => {
    const t = applied([...people, group('Contractors', [dnOf('Kate Kim')])]);
    const p = plan([...people, group('Contractors', [])], t);
    assert.deepEqual(show(p.changes), ['remove-members group Contractors [kate.kim@contoso.example]']);
  });

  it('the last member deleted: the user is deleted (which ends its memberships), no stale remove is planned', () => {
    const t = applied([user('Kate Kim'), group('Contractors', [dnOf('Kate Kim')])]);
    const p = plan([group('Contractors', [])], t);
    assert.deepEqual(show(p.changes), ['delete user kate.kim@contoso.example']);
  });

  it('nested: a group whose only member was a group loses that group', () => {
    const inner = group('Inner', [dnOf('Kate Kim')]);
    const t = applied([user('Kate Kim'), inner, group('Outer', [inner.dn])]);
    const p = plan([user('Kate Kim'), inner, group('Outer', [])], t);
    assert.deepEqual(show(p.changes), ['remove-members group Outer [Inner]']);
  });

  it('every desired group carries a member list, [] when it has none', () => {
    const s = spec();
    const d = buildDesired(s, [snapshot([group('Empty', [])])], compileFlows(s));
    assert.deepEqual(d.byAnchor.get(anchorOf('Empty'))!.members, []);
    assert.equal(d.byAnchor.get(anchorOf('Empty'))!.membersUnread, undefined);
  });

  it('members read only in part (entry.unread.member): adds what was read, removes nothing, and says why', () => {
    const partial = group('Contractors', [dnOf('Kate Kim'), dnOf('Lea Lund')]);
    partial.unread = { member: 'member changed while its values were read in ranges; 2 read' };
    const p = plan([...people, user('Lea Lund'), partial], tenant);
    assert.deepEqual(show(p.changes), [
      'create user lea.lund@contoso.example',
      'add-members group Contractors [lea.lund@contoso.example]',
    ]);
    const r = p.reports.filter((x) => x.code === 'members-unread');
    assert.equal(r.length, 1);
    assert.match(
      r[0]!.reason,
      /could not read the group's members in full \(member changed while its values were read in ranges; 2 read\); members are added, none removed/,
    );
  });

  it('a pilot group read only in part: objects outside the part read are held, not deleted', () => {
    const pilot = group('Pilot', [dnOf('Isabel Ito')]);
    const s = spec({ scope: { groups: [pilot.dn] } });
    const t = applied([...people, pilot], spec({ scope: { groups: [] } }));
    const partial = { ...pilot, unread: { member: 'range lost' } };
    const p = plan([...people, partial], t, s);
    assert.deepEqual(
      p.changes.filter((c) => c.action === 'delete'),
      [],
      'nobody is deleted on a partial pilot list',
    );
    assert.ok(p.reports.some((r) => r.code === 'members-unread' && r.sourceDn === pilot.dn));
    // With the whole list, the others are out of scope and go.
    assert.equal(plan([...people, pilot], t, s).changes.filter((c) => c.action === 'delete').length, 3);
  });
});

describe('held means held: memberships too', () => {
  const members = [user('Hal Held'), user('Ann Other')];
  const g = group('Staff', [dnOf('Hal Held'), dnOf('Ann Other')]);
  const tenant = applied([...members, g]);

  it('a user held back by a flow error stays in its groups (no remove-members)', () => {
    const s = spec({ flows: { user: { jobTitle: 'source.title + "x"' } } });
    const p = plan([user('Hal Held'), user('Ann Other', { title: 'y' }), g], tenant, s);
    assert.deepEqual(
      show(p.changes).filter((c) => c.startsWith('remove-members')),
      [],
    );
    assert.ok(p.reports.some((r) => r.code === 'flow-error' && r.anchor === anchorOf('Hal Held')));
  });

  it('a user held back by a duplicate anchor stays in its groups', () => {
    const twin = {
      ...user('Hal Twin'),
      attrs: { ...user('Hal Twin').attrs, objectguid: user('Hal Held').attrs['objectguid']! },
    };
    const p = plan([...members, twin, group('Staff', [dnOf('Ann Other')])], tenant);
    assert.deepEqual(show(p.changes), []);
    assert.ok(p.reports.some((r) => r.code === 'duplicate-anchor'));
  });

  it('a user removed from the group in AD and not held is still removed', () => {
    const p = plan([...members, group('Staff', [dnOf('Ann Other')])], tenant);
    assert.deepEqual(show(p.changes), ['remove-members group Staff [hal.held@contoso.example]']);
  });

  it('writeback: a held user stays in the AD group its cloud group no longer lists', () => {
    const s = spec({ flows: { user: { jobTitle: 'source.title + "x"' } } });
    const desired = buildDesired(s, [snapshot([user('Hal Held'), user('Ann Other', { title: 'y' })])], compileFlows(s));
    const ou = 'OU=Cloud Groups,DC=contoso,DC=example';
    const rules: WritebackRuleSpec[] = [
      { rule: 'group', index: 0, source: 'corp', ou, filter: 'true', groupType: 'universal-security', flows: {} },
    ];
    const existing: AdGroup[] = [
      {
        dn: `CN=Group_g1,${ou}`,
        attrs: {
          admindescription: ['Group_g1'],
          displayname: ['Cloud'],
          member: [dnOf('Hal Held'), dnOf('Ann Other')],
        },
      },
    ];
    const cloud: TargetObject = {
      id: 'g1',
      kind: 'group',
      attrs: { displayName: 'Cloud', description: null },
      members: [],
    };
    const out = planWriteback({
      spec: { sources: s.sources, writeback: rules },
      desired,
      facts: new Map(),
      entra: { system: 'entra', objects: [cloud], deleted: [] },
      groups: new Map([[0, { ou, existing }]]),
    });
    const removes = out.changes.filter((c) => c.action === 'remove-members');
    assert.deepEqual(
      removes.map((c) => (c.action === 'remove-members' ? c.members.map((m) => m.label) : [])),
      [['ann.other@contoso.example']],
    );
  });
});

describe('writeback groups: emptied vs unread', () => {
  const ou = 'OU=Cloud Groups,DC=contoso,DC=example';
  const rules: WritebackRuleSpec[] = [
    { rule: 'group', index: 0, source: 'corp', ou, filter: 'true', groupType: 'universal-security', flows: {} },
  ];
  const s = spec();
  const desired = buildDesired(s, [snapshot([user('Ann Other')])], compileFlows(s));
  const existing: AdGroup[] = [
    {
      dn: `CN=Group_g1,${ou}`,
      attrs: { admindescription: ['Group_g1'], displayname: ['Cloud'], member: [dnOf('Ann Other')] },
    },
  ];
  const run = (members: string[] | undefined) =>
    planWriteback({
      spec: { sources: s.sources, writeback: rules },
      desired,
      facts: new Map(),
      entra: {
        system: 'entra',
        objects: [
          {
            id: 'g1',
            kind: 'group',
            attrs: { displayName: 'Cloud', description: null },
            ...(members ? { members } : {}),
          },
        ],
        deleted: [],
      },
      groups: new Map([[0, { ou, existing }]]),
    });

  it('a cloud group emptied: its AD group loses the last member', () => {
    assert.deepEqual(show(run([]).changes.filter((c) => c.action === 'remove-members')), [
      'remove-members group Cloud [ann.other@contoso.example]',
    ]);
  });

  it('a cloud group whose members were not read: nothing is removed, and the plan says so', () => {
    const out = run(undefined);
    assert.deepEqual(
      out.changes.filter((c) => c.action === 'remove-members'),
      [],
    );
    assert.ok(out.reports.some((r) => r.code === 'members-unread' && r.target === 'ad'));
  });
});

describe('hard match never takes over a privileged account', () => {
  const GA = ['Global Administrator'];
  const holder = (extra: Partial<TargetObject> = {}): TargetObject => ({
    id: 'm1',
    kind: 'user',
    attrs: {
      userPrincipalName: 'old.upn@contoso.example',
      displayName: 'Old',
      onPremisesImmutableId: anchorOf('Ann Lee'),
    },
    ...extra,
  });
  const allowing = (list: string[]): Spec => ({ ...spec(), matching: { softMatch: 'off', allowAdmins: list } });

  it('a role holder carrying the anchor as onPremisesImmutableId is refused and reported (hard-match-admin), never changed', () => {
    const p = plan([user('Ann Lee')], emptyTarget([holder({ adminRoles: GA })]));
    assert.deepEqual(p.changes, [], 'no adopt, no update, no create over it');
    assert.deepEqual(
      p.reports.map((r) => r.code),
      ['hard-match-admin'],
    );
    assert.equal(p.reports[0]!.other?.id, 'm1');
    assert.match(
      p.reports[0]!.reason,
      /holds an admin role \(Global Administrator\); hard match never takes over a privileged account.*matching\.allowAdmins/,
    );
  });

  it('nor through soft match on the same user, with soft match on', () => {
    const p = plan(
      [user('Ann Lee')],
      emptyTarget([
        holder({
          adminRoles: GA,
          attrs: { userPrincipalName: 'ann.lee@contoso.example', onPremisesImmutableId: anchorOf('Ann Lee') },
        }),
      ]),
      { ...spec({ softMatch: 'both' }) },
    );
    assert.deepEqual(p.changes, []);
    assert.deepEqual(
      p.reports.map((r) => r.code),
      ['hard-match-admin'],
    );
  });

  it('role holders unknown (the read failed): hard match adopts nobody the spec does not name', () => {
    const p = plan([user('Ann Lee')], { ...emptyTarget([holder()]), adminRolesUnread: 'Insufficient privileges' });
    assert.deepEqual(p.changes, []);
    assert.deepEqual(
      p.reports.map((r) => r.code),
      ['hard-match-roles-unread'],
    );
    const allowed = plan(
      [user('Ann Lee')],
      { ...emptyTarget([holder()]), adminRolesUnread: 'Insufficient privileges' },
      allowing(['m1']),
    );
    assert.deepEqual(
      allowed.changes.map((c) => c.action),
      ['adopt'],
    );
  });

  for (const [what, name] of [
    ['userPrincipalName (any case)', 'OLD.UPN@contoso.example'],
    ['object id', 'm1'],
    ['anchor', anchorOf('Ann Lee')],
  ] as const) {
    it(`matching.allowAdmins naming it by ${what} adopts it, and the plan says it is an admin`, () => {
      const p = plan([user('Ann Lee')], emptyTarget([holder({ adminRoles: GA })]), allowing([name]));
      assert.deepEqual(
        p.changes.map((c) => (c.action === 'adopt' ? `${c.action} ${c.id} ${c.match}` : c.action)),
        ['adopt m1 immutable-id'],
      );
      assert.deepEqual(
        p.reports.map((r) => r.code),
        ['hard-match-admin-allowed'],
      );
    });
  }

  it('matching.allowAdmins naming someone else changes nothing for this one; it never enables soft match of an admin', () => {
    assert.deepEqual(
      plan([user('Ann Lee')], emptyTarget([holder({ adminRoles: GA })]), allowing(['someone@contoso.example'])).changes,
      [],
    );
    const soft = { ...spec({ softMatch: 'upn' }), matching: { softMatch: 'upn' as const, allowAdmins: ['c1'] } };
    const p = plan(
      [user('Ann Lee')],
      emptyTarget([
        { id: 'c1', kind: 'user', attrs: { userPrincipalName: 'ann.lee@contoso.example' }, adminRoles: GA },
      ]),
      soft,
    );
    assert.deepEqual(p.changes, []);
    assert.deepEqual(
      p.reports.map((r) => r.code),
      ['soft-match-admin'],
    );
  });

  it('a role held through a group counts like a direct one (the connector names it so)', () => {
    const p = plan(
      [user('Ann Lee')],
      emptyTarget([holder({ adminRoles: ['Global Administrator (through group Tier0 Admins)'] })]),
    );
    assert.deepEqual(p.changes, []);
    assert.match(p.reports[0]!.reason, /through group Tier0 Admins/);
  });
});
