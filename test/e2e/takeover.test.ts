/**
 * Moving a tenant from Entra Connect to adsync (issue 13), end to end through the CLI against the emulator: a
 * tenant where Entra Connect masters 200 users and 20 groups (with memberships), generated with its AD export
 * (test/support/connect-tenant.ts).
 *   - no matching.takeover: the plan writes nothing to them and reports each; apply changes nothing;
 *   - a takeover selecting one OU converts exactly those objects, updates their attributes and memberships, the
 *     next plan is empty, and every other object reads byte-identical before and after;
 *   - a directory role holder is taken over only once matching.allowAdmins names it;
 *   - matching.release hands the objects back; after the sync client's next cycle the emulator shows them
 *     mastered again (for users only once the hard-match block is off).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Plan } from '../../src/model/plan.js';
import { connectSetup, fetchPatchFlag, rawRead, type ConnectSetup } from '../support/connect-setup.js';

const parse = (s: string): { o: Record<string, unknown>; isCloudManaged: boolean; members?: string[] } =>
  JSON.parse(s) as { o: Record<string, unknown>; isCloudManaged: boolean; members?: string[] };

describe('moving from Entra Connect: 200 users and 20 groups mastered by the sync client', () => {
  let s: ConnectSetup;
  let initial: Map<string, string>;
  const byUpn = (snap: Map<string, string>, upn: string): ReturnType<typeof parse> =>
    [...snap.values()].map(parse).find((x) => x.o['userPrincipalName'] === upn)!;
  const byName = (snap: Map<string, string>, name: string): ReturnType<typeof parse> =>
    [...snap.values()].map(parse).find((x) => x.o['displayName'] === name && x.members !== undefined)!;

  before(async () => {
    s = await connectSetup('adsync-takeover-');
    s.emu.setRoles([
      'User.ReadWrite.All',
      'Group.ReadWrite.All',
      'Application.ReadWrite.OwnedBy',
      'Organization.Read.All',
      'RoleManagement.Read.Directory',
      'User-OnPremisesSyncBehavior.ReadWrite.All',
      'Group-OnPremisesSyncBehavior.ReadWrite.All',
      'OnPremDirectorySynchronization.ReadWrite.All',
    ]);
    initial = await rawRead(s.emu);
    assert.equal(initial.size, 200 + 20 + 0, 'the fixture: 200 users and 20 groups');
  });
  after(async () => {
    await s.close();
  });

  it('without matching.takeover the plan writes nothing to them and reports each; apply changes nothing', async () => {
    await s.writeSpec('softMatch: off');
    const r = await s.cli(['plan', '-c', 'adsync.yaml', '--format', 'json', '--out', 'plan.json']);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(await readFile(join(s.dir, 'plan.json'), 'utf8')) as Plan;
    assert.deepEqual(plan.changes, [], 'no change at all');
    const mastered = plan.reports.filter((x) => x.code === 'mastered-by-sync-client');
    assert.equal(mastered.length, 220, 'each of the 220 objects is reported');
    assert.equal(new Set(mastered.map((x) => x.anchor)).size, 220);
    assert.ok(mastered.every((x) => /matched on onPremises(ImmutableId|SecurityIdentifier)/.test(x.reason)));
    const applied = await s.cli(['apply', '-c', 'adsync.yaml', '--auto-approve']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.deepEqual(await rawRead(s.emu), initial, 'nothing was written');
  });

  it("without the switch's permission the takeover fails naming it, and nothing is written", async () => {
    const roles = [
      'User.ReadWrite.All',
      'Group.ReadWrite.All',
      'Application.ReadWrite.OwnedBy',
      'Organization.Read.All',
      'RoleManagement.Read.Directory',
    ];
    s.emu.setRoles(roles);
    try {
      await s.writeSpec(`takeover: "dn.endsWith(',${s.gen.pilotOu}')"`);
      const r = await s.cli(['apply', '-c', 'adsync.yaml', '--auto-approve']);
      assert.equal(r.code, 1, r.stdout);
      assert.match(
        r.stdout + r.stderr,
        /403 Authorization_RequestDenied.*\(grant the application permission User-OnPremisesSyncBehavior\.ReadWrite\.All\)/,
      );
      // Only the takeovers failed: the membership changes of the groups still mastered were skipped, not tried.
      const failedLines = r.stderr.split('\n').filter((l) => l.startsWith('  failed: '));
      assert.equal(failedLines.length, 21, r.stderr);
      assert.ok(
        failedLines.every((l) => /: takeover (user|group): /.test(l)),
        r.stderr,
      );
    } finally {
      s.emu.setRoles([
        ...roles,
        'User-OnPremisesSyncBehavior.ReadWrite.All',
        'Group-OnPremisesSyncBehavior.ReadWrite.All',
        'OnPremDirectorySynchronization.ReadWrite.All',
      ]);
    }
    const after = await rawRead(s.emu);
    for (const [id, text] of after) {
      const was = JSON.parse(initial.get(id)!) as { full: Record<string, unknown> };
      const now = JSON.parse(text) as { full: Record<string, unknown> };
      // adsync's extensions were registered (a tenant-level step), nothing on the objects changed
      assert.deepEqual(now, was, 'no object changed');
    }
  });

  it('a takeover of one OU converts exactly those objects, writes their attributes and memberships; the next plan is empty', async () => {
    const ou = s.gen.pilotOu;
    await s.writeSpec(`takeover: "dn.endsWith(',${ou}')"`);
    const planned = await s.cli(['plan', '-c', 'adsync.yaml', '--format', 'json', '--out', 'plan.json']);
    assert.equal(planned.code, 0, planned.stderr);
    const plan = JSON.parse(await readFile(join(s.dir, 'plan.json'), 'utf8')) as Plan;
    const takeovers = plan.changes.filter((c) => c.action === 'takeover');
    const pilot = new Set([...s.gen.pilotUsers, ...s.gen.pilotGroups]);
    pilot.delete(s.gen.adminAnchor); // a role holder: not without matching.allowAdmins
    assert.deepEqual(new Set(takeovers.map((c) => c.anchor)), pilot);
    assert.ok(
      plan.changes.every((c) => pilot.has(c.anchor)),
      'nothing outside the OU is changed',
    );
    const admin = plan.reports.find((x) => x.anchor === s.gen.adminAnchor);
    assert.equal(admin?.code, 'takeover-admin');

    const r = await s.cli(['apply', '-c', 'adsync.yaml', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const after = await rawRead(s.emu);
    const converted = new Set<string>();
    for (const [id, text] of after) {
      const was = initial.get(id)!;
      const now = parse(text);
      if (now.o['onPremisesSyncEnabled'] === true) {
        assert.equal(text, was, `untouched objects read byte-identical (${String(now.o['displayName'])})`);
        continue;
      }
      assert.equal(now.isCloudManaged, true, 'converted: isCloudManaged');
      converted.add(id);
    }
    assert.equal(converted.size, pilot.size, 'exactly the OU (minus the role holder) was converted');
    // Attributes: the pilot's titles; memberships: G00 gained user009 and lost user012 (a pilot user too).
    assert.equal(byUpn(after, 'user000@corp.example').o['jobTitle'], 'Engineer 0');
    assert.equal(byUpn(after, 'user003@corp.example').o['jobTitle'], 'Trainee', 'the role holder is not written');
    const g00 = byName(after, 'G00');
    const id = (upn: string): string => String(byUpn(after, upn).o['id']);
    assert.ok(g00.members!.includes(id('user009@corp.example')));
    assert.ok(!g00.members!.includes(id('user012@corp.example')));
    assert.ok(g00.members!.includes(id('user020@corp.example')), 'a mastered member stays, not written');
    const next = await s.cli(['plan', '-c', 'adsync.yaml', '--detailed-exitcode']);
    assert.equal(next.code, 0, `the next plan is empty:\n${next.stdout}`);
  });

  it('a directory role holder is taken over only once matching.allowAdmins names it', async () => {
    const ou = s.gen.pilotOu;
    const before = await rawRead(s.emu);
    assert.equal(byUpn(before, s.gen.adminUpn).o['onPremisesSyncEnabled'], true);
    await s.writeSpec(`takeover: "dn.endsWith(',${ou}')"\nallowAdmins: [${s.gen.adminUpn}]`);
    const r = await s.cli(['apply', '-c', 'adsync.yaml', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const now = byUpn(await rawRead(s.emu), s.gen.adminUpn);
    assert.equal(now.o['onPremisesSyncEnabled'], null);
    assert.equal(now.o['jobTitle'], 'Engineer 3');
  });

  it('matching.release hands them back: after the sync cycle the emulator shows them mastered again', async () => {
    const ou = s.gen.pilotOu;
    await s.writeSpec(
      `takeover: "dn.endsWith(',${ou}')"\nrelease: "dn.endsWith(',${ou}')"\nallowAdmins: [${s.gen.adminUpn}]`,
    );
    const planned = await s.cli(['plan', '-c', 'adsync.yaml', '--format', 'json', '--out', 'plan.json']);
    assert.equal(planned.code, 0, planned.stderr);
    const plan = JSON.parse(await readFile(join(s.dir, 'plan.json'), 'utf8')) as Plan;
    const releases = plan.changes.filter((c) => c.action === 'release');
    assert.equal(releases.length, s.gen.pilotUsers.length + s.gen.pilotGroups.length);
    assert.ok(plan.changes.every((c) => c.action === 'release'));
    const user = releases.find((c) => c.kind === 'user');
    assert.ok(
      user?.action === 'release' &&
        user.prerequisites.some((p) => p.includes('blockCloudObjectTakeoverThroughHardMatchEnabled')),
      'the plan states the hard-match prerequisite for users',
    );
    const r = await s.cli(['apply', '-c', 'adsync.yaml', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The hard-match block is on: Entra Connect takes the groups back, not the users.
    const first = s.emu.syncCycle();
    assert.equal(first.tookOver.length, s.gen.pilotGroups.length);
    assert.equal(first.blocked.length, s.gen.pilotUsers.length);
    const doctor = await s.cli(['doctor', '-c', 'adsync.yaml']);
    assert.match(doctor.stdout, /blockCloudObjectTakeoverThroughHardMatchEnabled is on: Entra Connect can't take back/);
    await fetchPatchFlag(s.emu, false);
    const second = s.emu.syncCycle();
    assert.equal(second.tookOver.length, s.gen.pilotUsers.length);
    const snap = await rawRead(s.emu);
    for (const text of snap.values()) assert.equal(parse(text).o['onPremisesSyncEnabled'], true, 'mastered again');
    const next = await s.cli(['plan', '-c', 'adsync.yaml', '--format', 'json', '--out', 'plan.json']);
    assert.equal(next.code, 0, next.stderr);
    const after = JSON.parse(await readFile(join(s.dir, 'plan.json'), 'utf8')) as Plan;
    assert.deepEqual(after.changes, []);
  });
});
