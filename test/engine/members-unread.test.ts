/**
 * Issue 19: a group whose members could not be read (the AD connector marks its `member` unread and hands over
 * no member list) plans no membership change in Entra, and the plan says so. The emptied-group fix (issue 17)
 * makes an empty member list remove everyone: this is the case it must never apply to.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFlows } from '../../src/engine/flows.js';
import { assemblePlan } from '../../src/engine/plan.js';
import type { DirectoryEntry } from '../../src/model/entry.js';
import type { TargetObject, TargetSnapshot } from '../../src/model/target.js';
import { dnOf, emptyTarget, group, snapshot, spec, user } from '../support/fixtures.js';

describe('members unread', () => {
  const s = spec();
  const plan = (entries: DirectoryEntry[], target: TargetSnapshot = emptyTarget()) =>
    assemblePlan({
      spec: s,
      specPath: 'adsync.yaml',
      flows: compileFlows(s),
      sources: [snapshot(entries)],
      target,
      toolVersion: 'test',
      now: new Date(0),
    }).plan;

  it('a group read without its members changes no membership and is reported', () => {
    const whole = [
      user('Alice Smith'),
      user('Bob Jones'),
      group('Engineering', [dnOf('Alice Smith'), dnOf('Bob Jones')]),
    ];
    // The tenant as the first apply left it.
    const first = plan(whole);
    const objects = new Map<string, TargetObject>();
    for (const c of first.changes)
      if (c.action === 'create')
        objects.set(c.anchor, {
          id: `id-${c.anchor}`,
          kind: c.kind,
          anchor: c.anchor,
          attrs: Object.fromEntries(c.attributes.map((a) => [a.name, a.after ?? null])),
          ...(c.kind === 'group' ? { members: [] } : {}),
        });
    for (const c of first.changes)
      if (c.action === 'add-members') objects.get(c.anchor)!.members!.push(...c.members.map((m) => `id-${m.anchor}`));
    const target = emptyTarget([...objects.values()]);
    assert.deepEqual(plan(whole, target).changes, []);
    // The next read broke off in the middle of Engineering's member ranges.
    const unread = group('Engineering', []);
    delete unread.attrs['member'];
    unread.unread = { member: 'member changed while its values were read in ranges; 0 read' };
    const p = plan([user('Alice Smith'), user('Bob Jones'), unread], target);
    assert.deepEqual(
      p.changes.map((c) => `${c.action} ${c.label}`),
      [],
      'no member removed',
    );
    const r = p.reports.find((x) => x.code === 'members-unread');
    assert.ok(
      r && r.label === 'Engineering' && /could not read the group's members in full/.test(r.reason),
      JSON.stringify(p.reports),
    );
  });
});
