/**
 * Stage: membership diff (src/engine/stages/membership-diff.ts), on plain data: set differences by anchor, what
 * it leaves alone (members adsync doesn't own, held objects, objects this plan deletes, lists read in part), and
 * the groups a restored user stays in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDesired, type DesiredObject } from '../../src/engine/desired.js';
import { compileFlows } from '../../src/engine/flows.js';
import { membershipDiff, type MembershipInput } from '../../src/engine/stages/membership-diff.js';
import type { RestoreChange } from '../../src/model/change.js';
import type { TargetObject } from '../../src/model/target.js';
import { anchorOf, dnOf, group, snapshot, spec, user } from '../support/fixtures.js';

const s = spec();
const ownedUser = (cn: string): TargetObject => ({
  id: `id-${cn}`,
  kind: 'user',
  anchor: anchorOf(cn),
  attrs: { userPrincipalName: `${cn}@contoso.example` },
});

/** Ann, Bob and Cid exist; Eng exists with `members` (target ids); the desired Eng has `want`. */
function setup(want: string[], members: string[], extra: Partial<MembershipInput> = {}) {
  const desired = buildDesired(
    s,
    [
      snapshot([
        user('Ann'),
        user('Bob'),
        user('Cid'),
        group(
          'Eng',
          want.map((cn) => dnOf(cn)),
        ),
      ]),
    ],
    compileFlows(s),
  );
  const owned = new Map<string, TargetObject>();
  for (const cn of ['Ann', 'Bob', 'Cid']) owned.set(anchorOf(cn), ownedUser(cn));
  owned.set(anchorOf('Eng'), { id: 'id-Eng', kind: 'group', anchor: anchorOf('Eng'), attrs: {}, members });
  const present = new Map<DesiredObject, string | undefined>(
    desired.objects.map((o) => [o, owned.get(o.anchor)?.id] as const),
  );
  const rank = new Map(desired.objects.map((o, i) => [o, i] as const));
  const input: MembershipInput = {
    system: 'entra',
    desired,
    present,
    owned,
    adopted: new Map(),
    anchorOfId: new Map([...owned].map(([a, t]) => [t.id, a] as const)),
    deleting: new Set(),
    byRank: (a, b) => rank.get(a)! - rank.get(b)!,
    restores: [],
    ...extra,
  };
  return { desired, input };
}

const summary = (out: ReturnType<typeof membershipDiff>): string[] =>
  out.changes.flatMap((c) =>
    c.action === 'add-members' || c.action === 'remove-members'
      ? [`${c.action} ${c.label}: ${c.members.map((m) => m.label).join(', ')}`]
      : [],
  );

describe('stage: membership diff', () => {
  it('adds and removes the set differences, by anchor; cloud-only members stay', () => {
    const { input } = setup(['Ann', 'Bob'], ['id-Bob', 'id-Cid', 'cloud-only-1']);
    assert.deepEqual(summary(membershipDiff(input)), [
      'add-members Eng: ann@contoso.example',
      'remove-members Eng: cid@contoso.example',
    ]);
  });

  it('removes no member this plan deletes, nor a held one', () => {
    const { input } = setup([], ['id-Ann', 'id-Bob', 'id-Cid'], { deleting: new Set([anchorOf('Ann')]) });
    input.desired.held.add(anchorOf('Bob'));
    assert.deepEqual(summary(membershipDiff(input)), ['remove-members Eng: cid@contoso.example']);
  });

  it('a list read in part adds and removes nothing, with a report', () => {
    const { desired, input } = setup(['Ann'], ['id-Cid']);
    const eng = desired.byAnchor.get(anchorOf('Eng'))!;
    const partial: DesiredObject = { ...eng, membersUnread: 'range retrieval stopped' };
    const present = new Map([...input.present].map(([o, id]) => [o === eng ? partial : o, id] as const));
    const out = membershipDiff({ ...input, present });
    assert.deepEqual(summary(out), ['add-members Eng: ann@contoso.example']);
    assert.deepEqual(
      out.reports.map((r) => r.code),
      ['members-unread'],
    );
  });

  it('a restored user is told which adsync groups it stays in', () => {
    const restore: RestoreChange = {
      action: 'restore',
      kind: 'user',
      anchor: anchorOf('Ann'),
      target: 'entra',
      label: 'ann@contoso.example',
      rule: 'test',
      id: 'id-Ann',
      attributes: [],
    };
    const { input } = setup(['Ann'], ['id-Ann'], { restores: [restore] });
    const out = membershipDiff(input);
    assert.deepEqual(summary(out), []);
    assert.deepEqual(
      restore.memberships?.map((g) => g.label),
      ['Eng'],
    );
  });

  it('leaves its inputs as they were and gives the same answer twice', () => {
    const { input } = setup(['Ann', 'Bob'], ['id-Bob', 'id-Cid']);
    const before = JSON.stringify(
      input.desired.objects.map((o) => ({ ...o, members: o.members?.map((m) => m.anchor) })),
    );
    const first = membershipDiff(input);
    assert.deepEqual(membershipDiff(input), first);
    assert.equal(
      JSON.stringify(input.desired.objects.map((o) => ({ ...o, members: o.members?.map((m) => m.anchor) }))),
      before,
    );
  });
});
