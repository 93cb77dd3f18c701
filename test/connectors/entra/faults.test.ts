/**
 * Apply under faults: throttling on Graph's budgets (Retry-After, also inside $batch), 10% random 503/504,
 * and 2 s replication lag. The tenant must end exactly as planned: nothing missing, nothing duplicated.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startEmulator } from '../../../src/emulator/index.js';
import type { RunningEmulator } from '../../../src/emulator/index.js';
import { connectEmulator } from '../../../src/connectors/entra/index.js';
import type { EntraTarget } from '../../../src/connectors/entra/index.js';
import type { Change, MemberRef } from '../../../src/model/change.js';
import { addMembers, anchor, createGroup, createUser, makePlan, member, memberAnchors, owned } from './support.js';
import { applyPlan } from '../../../src/apply/loop.js';

let emu: RunningEmulator;
let target: EntraTarget;

before(async () => {
  emu = await startEmulator({});
  target = await connectEmulator(emu);
});
after(async () => {
  await target?.close();
  await emu?.close();
});

/** `users` users, `groups` groups, each group with `perGroup` users (deterministic spread), one nested group. */
function bigPlan(
  domain: string,
  prefix: string,
  users: number,
  groups: number,
  perGroup: number,
): { changes: Change[]; expected: Map<string, string[]>; userAnchors: string[]; groupAnchors: string[] } {
  const userAnchors = Array.from({ length: users }, () => anchor());
  const groupAnchors = Array.from({ length: groups }, () => anchor());
  const changes: Change[] = [];
  userAnchors.forEach((a, i) =>
    changes.push(createUser(a, `${prefix}u${i}@${domain}`, { jobTitle: `Title ${i % 7}` })),
  );
  groupAnchors.forEach((a, i) => changes.push(createGroup(a, `${prefix} Group ${i}`)));
  const expected = new Map<string, string[]>();
  groupAnchors.forEach((g, gi) => {
    const members: MemberRef[] = [];
    for (let k = 0; k < perGroup; k++) {
      const ui = (gi * 37 + k * 13) % users;
      if (!members.some((m) => m.anchor === userAnchors[ui])) members.push(member(userAnchors[ui]!, 'user', `u${ui}`));
    }
    if (gi > 0) members.push(member(groupAnchors[gi - 1]!, 'group', `Group ${gi - 1}`)); // nesting on a created group
    expected.set(g, members.map((m) => m.anchor).sort());
    changes.push(addMembers(g, `Group ${gi}`, members));
  });
  return { changes, expected, userAnchors, groupAnchors };
}

async function applyAndCheck(prefix: string, users: number, groups: number, perGroup: number): Promise<void> {
  emu.setFaults({});
  const domain = target.tenant.initialDomain;
  const { changes, expected, userAnchors } = bigPlan(domain, prefix, users, groups, perGroup);
  emu.setFaults({ throttle: true, randomFailureRate: 0.1, replicationLagMs: 2000, seed: 1 });
  const result = await applyPlan({ entra: target }, makePlan(changes));
  emu.setFaults({});
  assert.deepEqual(
    result.failed.slice(0, 5).map((f) => `${f.operation}: ${f.message}`),
    [],
  );
  assert.deepEqual(result.skipped, []);
  assert.equal(result.applied, changes.length);
  assert.ok(result.retries > 0, 'the faults were exercised');

  const snap = await target.read({ userProperties: ['jobTitle'], groupProperties: [], readMembers: true });
  const mine = owned(snap);
  for (const [i, a] of userAnchors.entries()) {
    const u = mine.get(a);
    assert.ok(u, `user u${i} exists`);
    assert.equal(u.attrs['jobTitle'], `Title ${i % 7}`);
  }
  for (const [g, members] of expected) {
    const obj = mine.get(g);
    assert.ok(obj, 'group exists');
    assert.deepEqual(memberAnchors(snap, obj), members);
  }
  // Nothing duplicated: one object per anchor (owned() throws otherwise), one user per UPN.
  const upns = snap.objects.filter((o) => o.kind === 'user').map((o) => o.attrs['userPrincipalName']);
  assert.equal(new Set(upns).size, upns.length);

  console.log(
    `# faults apply: ${changes.length} changes, ${result.writes} writes, ${result.requests} requests, ${result.retries} retries, ${(result.durationMs / 1000).toFixed(1)} s`,
  );

  // Applying the same plan again leaves the tenant as it is (creates adopt their objects, members exist).
  const again = await applyPlan({ entra: target }, makePlan(changes));
  assert.deepEqual(
    again.failed.slice(0, 5).map((f) => `${f.operation}: ${f.message}`),
    [],
  );
  const snap2 = await target.read({ userProperties: [], groupProperties: [], readMembers: true });
  assert.equal(owned(snap2).size, mine.size);
}

test('under throttling, 10% 503/504 and 2 s replication lag, a few hundred objects end exactly as planned', async () => {
  await applyAndCheck('small', 300, 30, 25);
});

test('issue 4 acceptance: 2,000 users, 200 groups, 20,000 memberships under faults end exactly as planned', async () => {
  await applyAndCheck('big', 2000, 200, 100);
});
