import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFlows } from '../../src/engine/flows.js';
import { assemblePlan } from '../../src/engine/plan.js';
import type { Change } from '../../src/model/change.js';
import type { DirectoryEntry } from '../../src/model/entry.js';
import type { TargetObject, TargetSnapshot } from '../../src/model/target.js';
import type { Spec } from '../../src/spec/types.js';
import { anchorOf, dnOf, emptyTarget, entry, group, guid, snapshot, spec, user } from '../support/fixtures.js';

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

/** The target as apply would leave it: every desired object, owned, with the flowed attributes. */
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

const byAction = (changes: Change[], action: Change['action']) => changes.filter((c) => c.action === action);

describe('plan into an empty tenant', () => {
  const entries = [
    user('Alice Smith'),
    user('Bob Jones'),
    group('Engineering', [dnOf('Alice Smith'), dnOf('Bob Jones')]),
  ];

  it('creates users and groups, then adds members by anchor', () => {
    const p = plan(entries);
    assert.deepEqual(
      p.changes.map((c) => `${c.action} ${c.kind} ${c.label}`),
      [
        'create user alice.smith@contoso.example',
        'create user bob.jones@contoso.example',
        'create group Engineering',
        'add-members group Engineering',
      ],
    );
    const add = byAction(p.changes, 'add-members')[0]!;
    assert.equal(add.action === 'add-members' && add.id, undefined);
    assert.deepEqual(
      add.action === 'add-members' ? add.members.map((m) => m.anchor).sort() : [],
      [anchorOf('Alice Smith'), anchorOf('Bob Jones')].sort(),
    );
    assert.deepEqual(p.summary, {
      create: 3,
      adopt: 0,
      restore: 0,
      update: 0,
      delete: 0,
      membersAdded: 2,
      membersRemoved: 0,
      reports: 0,
    });
  });

  it('flows Entra Connect defaults: anchor to onPremisesImmutableId, security group constants', () => {
    const p = plan(entries);
    const alice = p.changes.find((c) => c.label === 'alice.smith@contoso.example');
    assert.ok(alice && alice.action === 'create');
    const attrs = Object.fromEntries(alice.attributes.map((a) => [a.name, a.after]));
    assert.equal(attrs.onPremisesImmutableId, Buffer.from(guid('Alice Smith')).toString('base64'));
    assert.equal(attrs.accountEnabled, true);
    assert.equal(attrs.displayName, 'Alice Smith');
    assert.equal(attrs.mailNickname, 'alice.smith');
    const eng = p.changes.find((c) => c.label === 'Engineering' && c.action === 'create');
    assert.ok(eng && eng.action === 'create');
    const g = Object.fromEntries(eng.attributes.map((a) => [a.name, a.after]));
    assert.deepEqual([g.securityEnabled, g.mailEnabled, g.groupTypes], [true, false, []]);
  });

  it('is deterministic whatever the input order', () => {
    const a = JSON.stringify(plan(entries));
    const b = JSON.stringify(plan([...entries].reverse()));
    assert.equal(a, b);
  });
});

describe('plan after apply', () => {
  const entries = [
    user('Alice Smith'),
    user('Bob Jones'),
    user('Carol White'),
    group('Engineering', [dnOf('Alice Smith'), dnOf('Bob Jones')]),
  ];
  const target = applied(entries);

  it('has no changes when nothing moved', () => {
    assert.deepEqual(plan(entries, target).changes, []);
  });

  it('shows a rename as exactly one attribute update', () => {
    const renamed = entries.map((e) =>
      e.dn === dnOf('Bob Jones') ? user('Bob Jones', { displayName: 'Robert Jones' }) : e,
    );
    const p = plan(renamed, target);
    assert.equal(p.changes.length, 1);
    const c = p.changes[0]!;
    assert.equal(c.action, 'update');
    assert.deepEqual(c.action === 'update' ? c.attributes : [], [
      { name: 'displayName', before: 'Bob Jones', after: 'Robert Jones', flow: 'default user.displayName' },
    ]);
  });

  it('shows a disable as accountEnabled false', () => {
    const p = plan(
      entries.map((e) => (e.dn === dnOf('Carol White') ? user('Carol White', { userAccountControl: '514' }) : e)),
      target,
    );
    assert.deepEqual(
      p.changes.map((c) =>
        c.action === 'update' ? c.attributes.map((a) => `${a.name}:${String(a.before)}→${String(a.after)}`) : c.action,
      ),
      [['accountEnabled:true→false']],
    );
  });

  it('removes a member as a set difference', () => {
    const p = plan(
      entries.map((e) => (e.dn.startsWith('CN=Engineering') ? group('Engineering', [dnOf('Alice Smith')]) : e)),
      target,
    );
    assert.equal(p.changes.length, 1);
    const c = p.changes[0]!;
    assert.ok(c.action === 'remove-members');
    assert.deepEqual(
      c.members.map((m) => [m.anchor, m.id]),
      [[anchorOf('Bob Jones'), `id-${anchorOf('Bob Jones')}`]],
    );
  });

  it('deletes an object gone from the source, without a membership removal for it', () => {
    const p = plan(
      entries
        .filter((e) => e.dn !== dnOf('Bob Jones'))
        .map((e) => (e.dn.startsWith('CN=Engineering') ? group('Engineering', [dnOf('Alice Smith')]) : e)),
      target,
    );
    assert.deepEqual(
      p.changes.map((c) => `${c.action} ${c.label}`),
      ['delete bob.jones@contoso.example'],
    );
    assert.equal(p.changes[0]!.action === 'delete' && p.changes[0].reason, 'no longer in the source');
  });

  it('deletes an object moved out of the scoped OU, and says why', () => {
    const s = spec({
      scope: { ous: { include: ['OU=Staff,DC=contoso,DC=example', 'OU=Groups,DC=contoso,DC=example'], exclude: [] } },
    });
    const t = applied(entries, s);
    const moved = entries.map((e) => (e.dn === dnOf('Carol White') ? user('Carol White', {}, 'OU=Leavers') : e));
    const p = plan(moved, t, s);
    assert.deepEqual(
      p.changes.map((c) => c.action),
      ['delete'],
    );
    assert.match(
      p.changes[0]!.action === 'delete' ? p.changes[0].reason : '',
      /out of scope: not under any OU in scope.ous.include/,
    );
  });

  it('never touches a cloud-only object and reports the collision', () => {
    const cloud: TargetObject = {
      id: 'cloud-1',
      kind: 'user',
      attrs: { userPrincipalName: 'dave.lee@contoso.example', displayName: 'Dave (cloud)' },
    };
    const t = emptyTarget([...target.objects, cloud]);
    const p = plan([...entries, user('Dave Lee')], t);
    assert.deepEqual(p.changes, []);
    assert.deepEqual(
      p.reports.map((r) => r.code),
      ['cloud-only-collision'],
    );
  });
});

describe('scope', () => {
  it("applies Entra Connect's default filters", () => {
    const p = plan(
      [
        user('Administrator', { isCriticalSystemObject: 'TRUE' }),
        user('MSOL_abc'),
        user('AAD_123'),
        user('NoSam', { sAMAccountName: [] as unknown as string }),
        user('Conflict\nCNF:1234'),
        user('Health', { mailNickname: 'SystemMailbox{abc}' }),
        user('Exch', { msExchRecipientTypeDetails: '8388608' }),
        user('Kept'),
      ].map((e) =>
        e.dn.includes('NoSam')
          ? { ...e, attrs: Object.fromEntries(Object.entries(e.attrs).filter(([k]) => k !== 'samaccountname')) }
          : e,
      ),
    );
    assert.deepEqual(
      p.changes.map((c) => c.label),
      ['kept@contoso.example'],
    );
  });

  it('OU exclude wins inside an included OU, most specific rule first', () => {
    const s = spec({
      scope: { ous: { include: ['DC=contoso,DC=example'], exclude: ['OU=Service Accounts,DC=contoso,DC=example'] } },
    });
    const p = plan([user('Svc', {}, 'OU=Service Accounts'), user('Staffer')], emptyTarget(), s);
    assert.deepEqual(
      p.changes.map((c) => c.label),
      ['staffer@contoso.example'],
    );
  });

  it('an LDAP filter with the AD bitwise rule excludes disabled users', () => {
    const s = spec({ scope: { filter: '(!(userAccountControl:1.2.840.113556.1.4.803:=2))' } });
    const p = plan([user('On'), user('Off', { userAccountControl: '514' })], emptyTarget(), s);
    assert.deepEqual(
      p.changes.map((c) => c.label),
      ['on@contoso.example'],
    );
  });

  it('pilot groups admit only their direct members', () => {
    const pilot = group('Pilot', [dnOf('In')]);
    const s = spec({ scope: { groups: [pilot.dn] } });
    const p = plan([user('In'), user('Out'), pilot], emptyTarget(), s);
    assert.deepEqual(
      p.changes.map((c) => c.label),
      ['in@contoso.example'],
    );
  });

  it('matches member DNs however the export escaped or cased them', () => {
    const odd = user('Smith, John');
    const g = group('Team', ['cn=smith\\2C john, ou=staff,dc=CONTOSO,dc=example']);
    const p = plan([odd, g]);
    const add = p.changes.find((c) => c.action === 'add-members');
    assert.ok(add && add.action === 'add-members');
    assert.deepEqual(
      add.members.map((m) => m.anchor),
      [anchorOf('Smith, John')],
    );
  });
});

describe('what Graph cannot write', () => {
  it('reports contacts and mail-enabled groups, and never plans changes for them', () => {
    const contact = entry('CN=Partner,OU=Contacts,DC=contoso,DC=example', {
      objectClass: ['top', 'person', 'contact'],
      cn: 'Partner',
      mail: 'p@partner.example',
      objectGUID: guid('Partner'),
    });
    const dl = group('All Staff', [dnOf('Alice')], { groupType: '8', mail: 'all@contoso.example' });
    const p = plan([user('Alice'), contact, dl]);
    assert.deepEqual(
      p.changes.map((c) => `${c.action} ${c.label}`),
      ['create alice@contoso.example'],
    );
    assert.deepEqual(p.reports.map((r) => r.code).sort(), [
      'graph-readonly-contact',
      'graph-readonly-distribution-list',
    ]);
    assert.equal(p.summary.reports, 2);
  });

  it('falls back to the initial domain for a UPN suffix the tenant has not verified', () => {
    const p = plan([user('Eve', { userPrincipalName: 'eve@unverified.example' })]);
    const c = p.changes[0]!;
    assert.equal(c.label, 'eve@contoso.onmicrosoft.com');
    assert.ok(c.action === 'create');
    assert.match(c.attributes.find((a) => a.name === 'userPrincipalName')!.flow, /not a verified domain/);
  });
});

describe('custom flows', () => {
  it('override a default, and null turns one off', () => {
    const s = spec({ flows: { user: { jobTitle: 'upper(trim(source.title))', mobilePhone: null } } });
    const p = plan([user('Tess', { title: ' engineer ', mobile: '555' })], emptyTarget(), s);
    const c = p.changes[0]!;
    assert.ok(c.action === 'create');
    const attrs = Object.fromEntries(c.attributes.map((a) => [a.name, a]));
    assert.equal(attrs.jobTitle?.after, 'ENGINEER');
    assert.equal(attrs.jobTitle?.flow, 'objects.user.flows.jobTitle');
    assert.equal(attrs.mobilePhone, undefined);
  });

  it('a failing flow holds the object: no change, no delete, a report', () => {
    const s = spec({ flows: { user: { jobTitle: 'source.title + "x"' } } });
    const t = applied([user('Hal', { title: 'x' })], spec());
    const p = plan([user('Hal')], t, s);
    assert.deepEqual(p.changes, []);
    assert.deepEqual(
      p.reports.map((r) => r.code),
      ['flow-error'],
    );
  });
});
