/**
 * Held restores (src/engine/stages/restores.ts), on plain data: a restore needs the UPN and addresses it had to
 * be free once the deletes and updates have run and the restores before it (in plan order) are done.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { holdRestores } from '../../src/engine/stages/restores.js';
import type { Change, RestoreChange, UpdateChange } from '../../src/model/change.js';
import type { TargetObject, TargetSnapshot } from '../../src/model/target.js';

const user = (id: string, upn: string, mail?: string, anchor?: string): TargetObject => ({
  id,
  kind: 'user',
  ...(anchor !== undefined ? { anchor } : {}),
  attrs: { userPrincipalName: upn, ...(mail !== undefined ? { mail, proxyAddresses: [`SMTP:${mail}`] } : {}) },
});
const restore = (gone: TargetObject, newUpn?: string): RestoreChange => ({
  action: 'restore',
  kind: 'user',
  anchor: gone.anchor!,
  target: 'entra',
  label: String(newUpn ?? gone.attrs.userPrincipalName),
  rule: 'test',
  id: gone.id,
  attributes:
    newUpn === undefined
      ? []
      : [{ name: 'userPrincipalName', before: gone.attrs.userPrincipalName, after: newUpn, flow: 'test' }],
});
const upnUpdate = (t: TargetObject, after: string): UpdateChange => ({
  action: 'update',
  kind: 'user',
  anchor: t.anchor!,
  target: 'entra',
  label: String(t.attrs.userPrincipalName),
  rule: 'test',
  id: t.id,
  attributes: [{ name: 'userPrincipalName', before: t.attrs.userPrincipalName, after, flow: 'test' }],
});

function run(changes: Change[], live: TargetObject[], gone: TargetObject[], deletedFirst: string[] = []) {
  const target: TargetSnapshot = { system: 'entra', objects: live, deleted: gone };
  const held: string[] = [];
  const kept: string[] = [];
  const restored = holdRestores(
    changes,
    target,
    new Map(gone.map((g) => [g.anchor!, g] as const)),
    (a) => deletedFirst.includes(a),
    (c, holder, v) => held.push(`${c.anchor} by ${holder.id} on ${v.value}`),
    (c, a, holder) => kept.push(`${c.anchor} keeps ${a.name} (${holder.id})`),
  );
  return { left: changes.map((c) => `${c.action} ${c.anchor}`), held, kept, restored };
}

describe('stage: held restores', () => {
  it('a live user keeping the old UPN holds the restore back; one this plan deletes first does not', () => {
    const ann = user('ann', 'x@c', undefined, 'A');
    const bob = user('bob-deleted', 'x@c', undefined, 'B');
    assert.deepEqual(run([restore(bob)], [ann], [bob]).held, ['B by ann on x@c']);
    assert.deepEqual(run([restore(bob)], [ann], [bob], ['A']).left, ['restore B']);
  });

  it('an update of this apply that frees the old UPN lets it go ahead; one that takes it holds it back', () => {
    const ann = user('ann', 'x@c', undefined, 'A');
    const bob = user('bob-deleted', 'x@c', undefined, 'B');
    const frees = run([upnUpdate(ann, 'y@c'), restore(bob)], [ann], [bob]);
    assert.deepEqual(frees.held, []);
    assert.deepEqual(frees.left, ['update A', 'restore B']);
    const cid = user('cid', 'z@c', undefined, 'C');
    const takes = run([upnUpdate(cid, 'x@c'), restore(bob)], [cid], [bob]);
    assert.deepEqual(takes.held, ['B by cid on x@c']);
  });

  it('an old address a cloud-only user took holds it back (Graph refuses a restore on proxyAddresses too)', () => {
    const carl = user('carl', 'carl@c', 'shared@c');
    const bob = user('bob-deleted', 'bob@c', 'shared@c', 'B');
    assert.deepEqual(run([restore(bob)], [carl], [bob]).held, ['B by carl on shared@c']);
  });

  it('restores go one at a time in plan order: one gives up the UPN the next comes back with', () => {
    const r1 = user('r1', 'x@c', undefined, 'R1');
    const r2 = user('r2', 'x@c', undefined, 'R2');
    // R1 (first by label) comes back as x@c and moves to w@c; R2 then comes back as x@c
    const out = run([restore(r2), restore(r1, 'a-w@c')], [], [r1, r2]);
    assert.deepEqual(out.held, []);
    // ...but when R1 keeps x@c, R2 waits
    const kept = run([restore(r2, 'zz@c'), restore(r1)], [], [r1, r2]);
    assert.deepEqual(kept.held, ['R2 by r1 on x@c']);
  });

  it("a restore's own update does not take a UPN another object keeps: it keeps its old one", () => {
    const ann = user('ann', 'y@c', undefined, 'A');
    const bob = user('bob-deleted', 'x@c', undefined, 'B');
    const out = run([restore(bob, 'y@c')], [ann], [bob]);
    assert.deepEqual(out.kept, ['B keeps userPrincipalName (ann)']);
    assert.equal(out.restored.get('x@c')?.id, 'bob-deleted');
  });
});
