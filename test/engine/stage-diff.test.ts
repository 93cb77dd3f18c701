/**
 * Stages tenant rules → match → object diff → membership diff (src/engine/stages/diff.ts), on plain data: the
 * same inputs give the same output, run after run, and the diff leaves no marks on the desired objects.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDesired } from '../../src/engine/desired.js';
import { compileFlows } from '../../src/engine/flows.js';
import { diffStage } from '../../src/engine/stages/diff.js';
import { anchorOf, dnOf, emptyTarget, group, snapshot, spec, user } from '../support/fixtures.js';
import { deepFreeze } from '../support/freeze.js';

const s = spec();
const desired = () =>
  buildDesired(
    s,
    [snapshot([user('Alice Smith'), user('Bob Jones'), group('Eng', [dnOf('Alice Smith'), dnOf('Bob Jones')])])],
    compileFlows(s),
  );

describe('stage: diff (match, objects, memberships)', () => {
  it('creates, then adds members by anchor, in plan order', () => {
    const out = diffStage(desired(), emptyTarget(), s.matching, false);
    assert.deepEqual(
      out.changes.map((c) => `${c.action} ${c.label}`),
      ['create alice.smith@contoso.example', 'create bob.jones@contoso.example', 'create Eng', 'add-members Eng'],
    );
    const add = out.changes.find((c) => c.action === 'add-members');
    assert.ok(add?.action === 'add-members');
    assert.deepEqual(
      add.members.map((m) => m.label),
      ['alice.smith@contoso.example', 'bob.jones@contoso.example'],
    );
  });

  it('run twice on the same desired state: the same plan, and no scratch fields left on its objects', () => {
    const d = desired();
    const keys = d.objects.map((o) => Object.keys(o).sort().join(','));
    const first = diffStage(d, emptyTarget(), s.matching, true);
    const second = diffStage(d, emptyTarget(), s.matching, true);
    assert.deepEqual(second.changes, first.changes);
    assert.deepEqual([...second.matches], [...first.matches]);
    assert.deepEqual(
      d.objects.map((o) => Object.keys(o).sort().join(',')),
      keys,
      'the diff adds no field to a desired object',
    );
  });

  it('leaves a deep-frozen desired state as it was: values it settles (a quarantined UPN) are on the copies it returns', () => {
    const d = deepFreeze(
      buildDesired(
        s,
        [
          snapshot([
            user('Ann Lee', { userPrincipalName: 'x@contoso.example' }),
            user('Bob Jones', { userPrincipalName: 'x@contoso.example' }),
            group('Eng', [dnOf('Ann Lee'), dnOf('Bob Jones')]),
          ]),
        ],
        compileFlows(s),
      ),
    );
    const ann = {
      id: 'id-ann',
      kind: 'user' as const,
      anchor: anchorOf('Ann Lee'),
      attrs: { userPrincipalName: 'x@contoso.example', displayName: 'Ann Lee' },
    };
    const out = diffStage(d, emptyTarget([ann]), s.matching, false);
    const bob = out.desired.byAnchor.get(anchorOf('Bob Jones'));
    assert.match(String(bob?.attrs.userPrincipalName), /^x\d{4}@contoso\.onmicrosoft\.com$/);
    assert.equal(d.byAnchor.get(anchorOf('Bob Jones'))?.attrs.userPrincipalName, 'x@contoso.example');
    // the returned state is whole: its groups point at the copies
    assert.ok(out.desired.byAnchor.get(anchorOf('Eng'))?.members?.includes(bob!));
    assert.ok(out.desired.objects.includes(bob!));
  });

  it("a reference to an object adsync doesn't own names it by its cloud id, with no source anchor", () => {
    const d = buildDesired(s, [snapshot([user('Ann Lee')])], compileFlows(s));
    const boss = {
      id: 'cloud-boss',
      kind: 'user' as const,
      attrs: { userPrincipalName: 'boss@contoso.example', displayName: 'Boss' },
    };
    const ann = {
      id: 'id-ann',
      kind: 'user' as const,
      anchor: anchorOf('Ann Lee'),
      attrs: { ...d.byAnchor.get(anchorOf('Ann Lee'))!.attrs, manager: 'cloud-boss' },
    };
    const out = diffStage(d, emptyTarget([ann, boss]), s.matching, false);
    const u = out.changes.find((c) => c.action === 'update');
    assert.ok(u && u.action === 'update', JSON.stringify(out.changes));
    assert.deepEqual(u.attributes, [
      {
        name: 'manager',
        flow: 'default user.manager',
        before: { kind: 'user', id: 'cloud-boss', label: 'boss@contoso.example' },
      },
    ]);
  });

  it('records how each object joined only when asked (explain)', () => {
    assert.equal(diffStage(desired(), emptyTarget(), s.matching, false).matches.size, 0);
    assert.equal(diffStage(desired(), emptyTarget(), s.matching, true).matches.size, 3);
  });
});
