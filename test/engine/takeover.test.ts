/**
 * Objects a sync client masters, and takeover / release waves (issue 13), through the pure plan assembly:
 * src/engine/takeover.ts around the diff. Plain data in, the plan out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFlows } from '../../src/engine/flows.js';
import { assemblePlan } from '../../src/engine/plan.js';
import { checkSafety } from '../../src/engine/safety.js';
import type { DirectoryEntry } from '../../src/model/entry.js';
import { sidToBytes } from '../../src/model/sid.js';
import type { TargetObject, TargetSnapshot } from '../../src/model/target.js';
import { semanticProblems } from '../../src/spec/rules.js';
import type { Spec } from '../../src/spec/types.js';
import { anchorOf, dnOf, emptyTarget, group, snapshot, spec, user } from '../support/fixtures.js';

const SID = (rid: number): string => `S-1-5-21-1004336348-1177238915-682003330-${rid}`;
const sidAttr = (rid: number): { objectSid: Uint8Array } => ({ objectSid: sidToBytes(SID(rid))! });

function withMatching(m: Partial<Spec['matching']>): Spec {
  const s = spec();
  s.matching = { ...s.matching, ...m };
  return s;
}

function plan(entries: DirectoryEntry[], target: TargetSnapshot, s: Spec = spec()) {
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

/** A user Entra Connect synchronized: its immutableId is the AD anchor, its SID the AD objectSid. */
function syncedUser(cn: string, rid: number, extra: Partial<TargetObject> = {}): TargetObject {
  const sam = cn.replace(/[^A-Za-z0-9_]+/g, '.').toLowerCase();
  return {
    id: `u-${rid}`,
    kind: 'user',
    attrs: {
      userPrincipalName: `${sam}@contoso.example`,
      displayName: cn,
      onPremisesImmutableId: anchorOf(cn),
      jobTitle: 'Old',
    },
    syncClientMastered: true,
    onPremisesSid: SID(rid),
    ...extra,
  };
}

function syncedGroup(cn: string, rid: number, members: string[], extra: Partial<TargetObject> = {}): TargetObject {
  return {
    id: `g-${rid}`,
    kind: 'group',
    attrs: { displayName: cn, mailEnabled: false, securityEnabled: true, groupTypes: [] },
    members,
    syncClientMastered: true,
    onPremisesSid: SID(rid),
    ...extra,
  };
}

const PILOT = "dn.contains('OU=Pilot')";

describe('objects a sync client masters', () => {
  it('are reported, never adopted: hard match by onPremisesImmutableId no longer adopts a mastered user', () => {
    const p = plan([user('Ann Lee', sidAttr(1101))], emptyTarget([syncedUser('Ann Lee', 1101)]));
    assert.deepEqual(p.changes, []);
    assert.deepEqual(
      p.reports.map((r) => [r.code, r.anchor]),
      [['mastered-by-sync-client', anchorOf('Ann Lee')]],
    );
    assert.match(p.reports[0]!.reason, /matched on onPremisesImmutableId/);
  });

  it('a mastered group matched by objectSid is neither created nor written, nor are its members', () => {
    const p = plan(
      [user('Ann Lee', sidAttr(1101)), group('Finance', [dnOf('Ann Lee')], sidAttr(2201))],
      emptyTarget([syncedUser('Ann Lee', 1101), syncedGroup('Finance', 2201, [])]),
    );
    assert.deepEqual(p.changes, []);
    const g = p.reports.find((r) => r.kind === 'group')!;
    assert.equal(g.code, 'mastered-by-sync-client');
    assert.match(g.reason, /matched on onPremisesSecurityIdentifier S-1-5-21-\d+-\d+-\d+-2201.*nor its members/);
  });

  it('a mastered member of a group adsync owns is not added, and the group says so', () => {
    const owned: TargetObject = {
      id: 'g-own',
      kind: 'group',
      anchor: anchorOf('Finance'),
      attrs: { displayName: 'Finance', mailEnabled: false, securityEnabled: true, groupTypes: [] },
      members: [],
    };
    const p = plan(
      [user('Ann Lee', sidAttr(1101)), group('Finance', [dnOf('Ann Lee')])],
      emptyTarget([syncedUser('Ann Lee', 1101), owned]),
    );
    assert.deepEqual(
      p.changes.filter((c) => c.action === 'add-members'),
      [],
    );
    assert.ok(p.reports.some((r) => r.code === 'mastered-member' && /ann\.lee@contoso\.example/.test(r.reason)));
  });

  it('soft match never adopts a mastered user with the same UPN', () => {
    const other = syncedUser('Ann Lee', 1101, { attrs: { userPrincipalName: 'ann.lee@contoso.example' } });
    delete other.onPremisesSid;
    const p = plan([user('Ann Lee')], emptyTarget([other]), spec({ softMatch: 'upn' }));
    assert.deepEqual(p.changes, []);
    assert.equal(p.reports[0]!.code, 'mastered-by-sync-client');
  });
});

describe('matching.takeover', () => {
  it('selected objects get a takeover change with the attribute diff; the others stay reported', () => {
    const p = plan(
      [
        user('Ann Lee', { title: 'Engineer', ...sidAttr(1101) }, 'OU=Pilot'),
        user('Bob Ortiz', { title: 'Engineer', ...sidAttr(1102) }),
      ],
      emptyTarget([syncedUser('Ann Lee', 1101), syncedUser('Bob Ortiz', 1102)]),
      withMatching({ takeover: PILOT }),
    );
    assert.deepEqual(
      p.changes.map((c) => (c.action === 'takeover' ? [c.action, c.id, c.match, c.rule] : [c.action])),
      [['takeover', 'u-1101', 'immutable-id', 'matching.takeover']],
    );
    const t = p.changes[0]!;
    assert.ok(t.action === 'takeover' && t.attributes.some((a) => a.name === 'jobTitle' && a.after === 'Engineer'));
    assert.equal(p.summary.takeover, 1);
    assert.deepEqual(
      p.reports.map((r) => [r.code, r.label]),
      [['mastered-by-sync-client', 'bob.ortiz@contoso.example']],
    );
  });

  it('a group is taken over by objectSid, its membership diffed as for any group', () => {
    const p = plan(
      [
        user('Ann Lee', sidAttr(1101), 'OU=Pilot'),
        user('Cho Park', sidAttr(1103), 'OU=Pilot'),
        group('Finance', [dnOf('Ann Lee', 'OU=Pilot')], sidAttr(2201), 'OU=Pilot'),
      ],
      emptyTarget([
        syncedUser('Ann Lee', 1101),
        syncedUser('Cho Park', 1103),
        syncedGroup('Finance', 2201, ['u-1103']),
      ]),
      withMatching({ takeover: PILOT }),
    );
    const g = p.changes.filter((c) => c.kind === 'group');
    assert.deepEqual(
      g.map((c) => [
        c.action,
        c.action === 'takeover'
          ? c.match
          : c.action === 'add-members' || c.action === 'remove-members'
            ? c.members.map((m) => m.id)
            : [],
      ]),
      [
        ['takeover', 'sid'],
        ['add-members', ['u-1101']],
        ['remove-members', ['u-1103']],
      ],
    );
  });

  it('never a directory role holder unless matching.allowAdmins names it; nor a user whose roles are unknown', () => {
    const admin = syncedUser('Ann Lee', 1101, { adminRoles: ['Global Administrator'] });
    const src = [user('Ann Lee', sidAttr(1101), 'OU=Pilot')];
    const blocked = plan(src, emptyTarget([admin]), withMatching({ takeover: PILOT }));
    assert.deepEqual(blocked.changes, []);
    assert.equal(blocked.reports[0]!.code, 'takeover-admin');
    const allowed = plan(
      src,
      emptyTarget([admin]),
      withMatching({ takeover: PILOT, allowAdmins: ['ann.lee@contoso.example'] }),
    );
    assert.deepEqual(
      allowed.changes.map((c) => c.action),
      ['takeover'],
    );
    const unknown = plan(
      src,
      { ...emptyTarget([syncedUser('Ann Lee', 1101)]), adminRolesUnread: '403 Authorization_RequestDenied' },
      withMatching({ takeover: PILOT }),
    );
    assert.deepEqual(unknown.changes, []);
    assert.equal(unknown.reports[0]!.code, 'takeover-roles-unread');
  });

  it('an interrupted takeover (switched, not yet stamped) is taken over again, a group not re-created', () => {
    const { syncClientMastered: _m, ...half } = syncedGroup('Finance', 2201, []);
    const p = plan(
      [group('Finance', [], sidAttr(2201), 'OU=Pilot')],
      emptyTarget([half]),
      withMatching({ takeover: PILOT }),
    );
    assert.deepEqual(
      p.changes.map((c) => [c.action, 'id' in c ? c.id : undefined]),
      [['takeover', 'g-2201']],
    );
  });

  it('a manager the sync client still masters is left as it is, not cleared', () => {
    const p = plan(
      [user('Ann Lee', { manager: dnOf('Bob Ortiz'), ...sidAttr(1101) }, 'OU=Pilot'), user('Bob Ortiz', sidAttr(1102))],
      emptyTarget([
        syncedUser('Ann Lee', 1101, { attrs: { ...syncedUser('Ann Lee', 1101).attrs, manager: 'u-1102' } }),
        syncedUser('Bob Ortiz', 1102),
      ]),
      withMatching({ takeover: PILOT }),
    );
    const t = p.changes.find((c) => c.action === 'takeover')!;
    assert.ok(t.action === 'takeover' && !t.attributes.some((a) => a.name === 'manager'));
  });

  it('a selector that fails on an object puts it in no wave, and says why', () => {
    const p = plan(
      [user('Ann Lee', sidAttr(1101))],
      emptyTarget([syncedUser('Ann Lee', 1101)]),
      withMatching({ takeover: 'int(source.department) > 3' }),
    );
    assert.deepEqual(p.changes, []);
    assert.ok(p.reports.some((r) => r.code === 'wave-selector-error'));
  });

  it('safety.maxTakeovers stops a wave that is too big', () => {
    const entries = [1, 2, 3].map((i) => user(`User ${i}`, sidAttr(1100 + i), 'OU=Pilot'));
    const p = plan(
      entries,
      emptyTarget([1, 2, 3].map((i) => syncedUser(`User ${i}`, 1100 + i))),
      withMatching({ takeover: PILOT }),
    );
    const safety = { maxDeletes: 500, deleteMode: 'delete' as const, deleteGraceDays: 7, maxTakeovers: 2 };
    assert.deepEqual(
      checkSafety(p, safety).map((v) => v.code),
      ['too-many-takeovers'],
    );
    assert.deepEqual(checkSafety(p, { ...safety, maxTakeovers: 3 }), []);
  });

  it('the spec rejects a selector that is not CEL, or not boolean, with its path', () => {
    const problems = semanticProblems({ matching: { takeover: 'dn.endsWith(', release: '"text"' } });
    assert.deepEqual(
      problems.map((p) => p.path.join('.')),
      ['matching.takeover', 'matching.release'],
    );
  });
});

describe('matching.release', () => {
  const owned = (extra: Partial<TargetObject> = {}, without: (keyof TargetObject)[] = []): TargetObject => {
    const { syncClientMastered: _m, ...rest } = syncedUser('Ann Lee', 1101);
    const o: TargetObject = { ...rest, anchor: anchorOf('Ann Lee'), ...extra };
    for (const k of without) delete o[k];
    return o;
  };

  it('hands a taken-over object back, stating the hard-match prerequisite for users', () => {
    const p = plan(
      [user('Ann Lee', { title: 'New', ...sidAttr(1101) }, 'OU=Pilot')],
      {
        ...emptyTarget([owned()]),
        directorySync: { enabled: true, features: { blockCloudObjectTakeoverThroughHardMatchEnabled: true } },
      },
      withMatching({ takeover: PILOT, release: PILOT }),
    );
    assert.deepEqual(
      p.changes.map((c) => c.action),
      ['release'],
    );
    const r = p.changes[0]!;
    assert.ok(
      r.action === 'release' &&
        /turn blockCloudObjectTakeoverThroughHardMatchEnabled off .*it is on/.test(r.prerequisites[0]!),
    );
    assert.equal(p.summary.release, 1);
  });

  it('once handed back, the object is reported while it waits for the sync client, never adopted again', () => {
    const released = owned({}, ['anchor']);
    const p = plan(
      [user('Ann Lee', sidAttr(1101), 'OU=Pilot')],
      emptyTarget([released]),
      withMatching({ release: PILOT }),
    );
    assert.deepEqual(p.changes, []);
    assert.equal(p.reports[0]!.code, 'released-to-sync-client');
  });

  it('an object adsync created (no sync client ever mastered it) has nothing to hand back', () => {
    const p = plan(
      [user('Ann Lee', {}, 'OU=Pilot')],
      emptyTarget([owned({}, ['onPremisesSid'])]),
      withMatching({ release: PILOT }),
    );
    assert.ok(p.reports.some((r) => r.code === 'release-not-synced'));
    assert.ok(!p.changes.some((c) => c.action === 'release'));
  });
});

describe('coexistence with a running sync client', () => {
  it('while directory sync is on and the hard-match block is not known on, adsync creates no user', () => {
    const on = { ...emptyTarget(), directorySync: { enabled: true, featuresUnread: '403' } };
    const held = plan([user('Ann Lee'), group('Finance', [])], on);
    assert.deepEqual(
      held.changes.map((c) => [c.action, c.kind]),
      [['create', 'group']],
    );
    assert.equal(held.reports[0]!.code, 'sync-client-may-hard-match');
    const blocked = plan([user('Ann Lee')], {
      ...emptyTarget(),
      directorySync: { enabled: true, features: { blockCloudObjectTakeoverThroughHardMatchEnabled: true } },
    });
    assert.deepEqual(
      blocked.changes.map((c) => c.action),
      ['create'],
    );
  });
});
