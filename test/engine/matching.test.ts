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

describe('conflicts before they happen', () => {
  it('two source users with the same UPN: neither is created, both are reported naming the other', () => {
    const p = plan([user('Ann Lee'), user('Ann Lee2', { userPrincipalName: 'ann.lee@contoso.example' })]);
    assert.deepEqual(p.changes, []);
    assert.deepEqual(
      p.reports.map((r) => r.code),
      ['duplicate-in-source', 'duplicate-in-source'],
    );
    assert.deepEqual(p.reports.map((r) => r.other?.sourceDn).sort(), [dnOf('Ann Lee'), dnOf('Ann Lee2')].sort());
  });

  it('two source users with the same mail', () => {
    const p = plan([user('Ann Lee', { mail: 'x@contoso.example' }), user('Bob Jones', { mail: 'X@contoso.example' })]);
    assert.equal(p.changes.length, 0);
    assert.equal(p.reports.length, 2);
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
