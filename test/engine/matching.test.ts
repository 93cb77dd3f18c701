import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFlows } from '../../src/engine/flows.js';
import { assemblePlan } from '../../src/engine/plan.js';
import type { DirectoryEntry } from '../../src/model/entry.js';
import type { TargetObject, TargetSnapshot } from '../../src/model/target.js';
import type { Spec } from '../../src/spec/types.js';
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

const cloudUser = (id: string, upn: string, extra: Partial<TargetObject> = {}): TargetObject => ({
  id,
  kind: 'user',
  attrs: { userPrincipalName: upn, displayName: id },
  ...extra,
});

describe('matching', () => {
  it('soft match is off by default: a UPN holder is a collision naming both objects', () => {
    const p = plan([user('Ann Lee')], emptyTarget([cloudUser('c1', 'ann.lee@contoso.example')]));
    assert.deepEqual(p.changes, []);
    assert.equal(p.reports[0]!.code, 'cloud-only-collision');
    assert.equal(p.reports[0]!.other?.id, 'c1');
  });

  it('softMatch: upn adopts the holder as its own action', () => {
    const p = plan(
      [user('Ann Lee')],
      emptyTarget([cloudUser('c1', 'ann.lee@contoso.example')]),
      spec({ softMatch: 'upn' }),
    );
    assert.deepEqual(
      p.changes.map((c) => (c.action === 'adopt' ? [c.action, c.id, c.match] : [c.action])),
      [['adopt', 'c1', 'soft-upn']],
    );
    assert.equal(p.summary.adopt, 1);
  });

  it('softMatch: mail adopts by primary SMTP address, not by UPN', () => {
    const holder = cloudUser('c2', 'someone.else@contoso.example', {
      attrs: { userPrincipalName: 'someone.else@contoso.example', proxyAddresses: ['SMTP:ann@contoso.example'] },
    });
    const p = plan(
      [user('Ann Lee', { mail: 'ann@contoso.example' })],
      emptyTarget([holder]),
      spec({ softMatch: 'mail' }),
    );
    assert.deepEqual(
      p.changes.map((c) => (c.action === 'adopt' ? [c.match, c.matchedOn] : [c.action])),
      [['soft-mail', 'address ann@contoso.example']],
    );
  });

  it('never soft-matches a holder of an admin role', () => {
    const p = plan(
      [user('Ann Lee')],
      emptyTarget([cloudUser('c1', 'ann.lee@contoso.example', { adminRoles: ['Global Administrator'] })]),
      spec({ softMatch: 'both' }),
    );
    assert.deepEqual(p.changes, []);
    assert.equal(p.reports[0]!.code, 'soft-match-admin');
  });

  it('onPremisesImmutableId equal to the anchor is a hard match: adopted even with soft match off', () => {
    const holder = cloudUser('m1', 'old.upn@contoso.example', {
      attrs: { userPrincipalName: 'old.upn@contoso.example', onPremisesImmutableId: anchorOf('Ann Lee') },
    });
    const p = plan([user('Ann Lee')], emptyTarget([holder]));
    const c = p.changes[0]!;
    assert.ok(c.action === 'adopt' && c.match === 'immutable-id' && c.id === 'm1');
    assert.ok(c.attributes.some((a) => a.name === 'userPrincipalName' && a.after === 'ann.lee@contoso.example'));
  });
});

describe('conflicts before they happen: duplicate-attribute resiliency (Entra quarantines the value only)', () => {
  it('two new users with the same UPN: the first by DN keeps it, the other is created with the quarantine UPN', () => {
    const p = plan([user('Ann Lee2', { userPrincipalName: 'ann.lee@contoso.example' }), user('Ann Lee')]);
    const creates = p.changes.filter((c) => c.action === 'create');
    assert.equal(creates.length, 2);
    const upnOf = (name: string) =>
      creates.find((c) => c.anchor === anchorOf(name))?.attributes.find((a) => a.name === 'userPrincipalName')?.after;
    assert.equal(upnOf('Ann Lee'), 'ann.lee@contoso.example');
    // S7: <OriginalPrefix><4 digits>@<initial domain>
    assert.match(String(upnOf('Ann Lee2')), /^ann\.lee\d{4}@contoso\.onmicrosoft\.com$/);
    assert.deepEqual(
      p.reports.map((r) => [r.code, r.anchor, r.other?.sourceDn]),
      [['duplicate-value-quarantined', anchorOf('Ann Lee2'), dnOf('Ann Lee')]],
    );
    assert.match(
      p.reports[0]!.reason,
      /userPrincipalName ann\.lee@contoso\.example .*ann\.lee@contoso\.example \(CN=Ann Lee,/,
    );
  });

  it('two new users with the same mail: the other is created without it, with everything else', () => {
    const p = plan([user('Ann Lee', { mail: 'x@contoso.example' }), user('Bob Jones', { mail: 'X@contoso.example' })]);
    assert.equal(p.changes.filter((c) => c.action === 'create').length, 2);
    const bob = p.changes.find((c) => c.anchor === anchorOf('Bob Jones'));
    assert.ok(bob && bob.action === 'create');
    assert.ok(!bob.attributes.some((a) => a.name === 'mail'));
    assert.ok(bob.attributes.some((a) => a.name === 'accountEnabled'));
    assert.deepEqual(
      p.reports.map((r) => r.code),
      ['duplicate-value-quarantined'],
    );
  });

  it('the one that holds the value in the cloud keeps it, whatever the DN order; a disable still flows', () => {
    const bob: TargetObject = {
      id: 'id-bob',
      kind: 'user',
      anchor: anchorOf('Bob Jones'),
      attrs: {
        userPrincipalName: 'bob.jones@contoso.example',
        mail: 'x@contoso.example',
        accountEnabled: true,
        displayName: 'Bob Jones',
      },
    };
    const ann: TargetObject = {
      id: 'id-ann',
      kind: 'user',
      anchor: anchorOf('Ann Lee'),
      attrs: {
        userPrincipalName: 'ann.lee@contoso.example',
        mail: 'ann@contoso.example',
        accountEnabled: true,
        displayName: 'Ann Lee',
      },
    };
    const p = plan(
      [
        user('Ann Lee', { mail: 'x@contoso.example', userAccountControl: '514' }),
        user('Bob Jones', { mail: 'x@contoso.example' }),
      ],
      emptyTarget([ann, bob]),
    );
    const a = p.changes.find((c) => c.anchor === anchorOf('Ann Lee'));
    assert.ok(a && a.action === 'update', JSON.stringify(p.changes));
    assert.ok(!a.attributes.some((x) => x.name === 'mail'), 'the quarantined mail is not written');
    assert.ok(
      a.attributes.some((x) => x.name === 'accountEnabled' && x.after === false),
      'the disable flows',
    );
    assert.ok(
      !p.changes.some(
        (c) =>
          c.anchor === anchorOf('Bob Jones') && c.action === 'update' && c.attributes.some((x) => x.name === 'mail'),
      ),
    );
    const r = p.reports.find((x) => x.anchor === anchorOf('Ann Lee'));
    assert.equal(r?.code, 'duplicate-value-quarantined');
    assert.equal(r?.other?.label, 'bob.jones@contoso.example');
  });
});

describe('lifecycle details', () => {
  const owned = (name: string, kind: 'user' | 'group', attrs: Record<string, unknown> = {}): TargetObject => ({
    id: `id-${name}`,
    kind,
    anchor: anchorOf(name),
    attrs,
    ...(kind === 'group' ? { members: [] } : {}),
  });

  it('a security group is deleted permanently, a user is soft-deleted', () => {
    const p = plan(
      [],
      emptyTarget([
        owned('Gone Group', 'group', { displayName: 'Gone Group', groupTypes: [] }),
        owned('Gone User', 'user', { userPrincipalName: 'gone@contoso.example' }),
      ]),
    );
    const byKind = Object.fromEntries(
      p.changes.map((c) => [c.kind, c.action === 'delete' ? (c.permanent ?? false) : null]),
    );
    assert.deepEqual(byKind, { group: true, user: false });
  });

  it('an existing group that grows over the member limit is kept and reported, not deleted; a new one is not created', () => {
    const members = [user('A1'), user('A2'), user('A3')];
    const big = group(
      'Big',
      members.map((m) => m.dn),
    );
    const s = spec({ memberLimit: 2 });
    const fresh = plan([...members, big], emptyTarget(), s);
    assert.ok(!fresh.changes.some((c) => c.label === 'Big'));
    const existing = plan([...members, big], emptyTarget([owned('Big', 'group', { displayName: 'Big' })]), s);
    assert.ok(!existing.changes.some((c) => c.action === 'delete'));
    assert.ok(existing.reports.some((r) => r.code === 'group-too-large'));
  });

  it('manager: a DN reference becomes the manager object; a change of manager is one attribute update', () => {
    const boss = user('Boss One');
    const boss2 = user('Boss Two');
    const emp = user('Emp Loyee', { manager: dnOf('Boss One') });
    const created = plan([boss, boss2, emp]).changes.find((c) => c.label === 'emp.loyee@contoso.example');
    assert.ok(created && created.action === 'create');
    const m = created.attributes.find((a) => a.name === 'manager');
    assert.deepEqual(m?.after, { anchor: anchorOf('Boss One'), kind: 'user', label: 'boss.one@contoso.example' });
    const target = emptyTarget([
      owned('Boss One', 'user', { userPrincipalName: 'boss.one@contoso.example' }),
      owned('Boss Two', 'user', { userPrincipalName: 'boss.two@contoso.example' }),
      owned('Emp Loyee', 'user', { userPrincipalName: 'emp.loyee@contoso.example', manager: 'id-Boss One' }),
    ]);
    const moved = plan([boss, boss2, user('Emp Loyee', { manager: dnOf('Boss Two') })], target);
    const upd = moved.changes.find((c) => c.label === 'emp.loyee@contoso.example');
    assert.ok(upd && upd.action === 'update');
    const ma = upd.attributes.find((a) => a.name === 'manager');
    assert.deepEqual(ma?.after, {
      anchor: anchorOf('Boss Two'),
      kind: 'user',
      id: 'id-Boss Two',
      label: 'boss.two@contoso.example',
    });
  });
});
