/**
 * Parity over time (issue 18), engine level: flows that know time, groups joined by SID, a changed source
 * anchor as a per-object error, UPN hygiene, and the spec's `{ value, when }` flow form.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sourceAnchorChanges, guidString } from '../../src/engine/anchor-change.js';
import { applyFlowTiming, sourceFingerprint, splitDigest, withSourceMemory } from '../../src/engine/flow-timing.js';
import { compileFlows } from '../../src/engine/flows.js';
import { pendingAdoptions, sidIndex } from '../../src/engine/match-sid.js';
import { assemblePlan } from '../../src/engine/plan.js';
import { quarantineUpn } from '../../src/engine/resiliency.js';
import { fallbackLocalPart, upnProblem } from '../../src/engine/upn.js';
import type { DirectoryEntry } from '../../src/model/entry.js';
import type { TargetObject, TargetSnapshot } from '../../src/model/target.js';
import { checkSpecText } from '../../src/spec/load.js';
import type { Spec } from '../../src/spec/types.js';
import { anchorOf, emptyTarget, group, guid, snapshot, spec, user } from '../support/fixtures.js';

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

/** S-1-5-21-1-2-3-<rid> as AD stores it. */
function sidBytes(rid: number): Uint8Array {
  const b = Buffer.alloc(28);
  b[0] = 1;
  b[1] = 5;
  b[7] = 5;
  [21, 1, 2, 3, rid].forEach((v, i) => b.writeUInt32LE(v, 8 + 4 * i));
  return new Uint8Array(b);
}
const sid = (rid: number) => `S-1-5-21-1-2-3-${rid}`;

describe('flows that know time (flow-timing.ts)', () => {
  const cloud = (attrs: Record<string, unknown>, digest?: string): TargetObject => ({
    id: 'x',
    kind: 'user',
    attrs,
    ...(digest !== undefined ? { digest } : {}),
  });

  it('initial: the cloud value stays; without one the flow sets it', () => {
    const o = { attrs: { mailNickname: 'new' }, timing: { mailNickname: 'initial' as const } };
    assert.deepEqual(applyFlowTiming(o, cloud({ mailNickname: 'old' })), ['mailNickname']);
    assert.equal(o.attrs.mailNickname, 'old');
    const fresh = { attrs: { mailNickname: 'new' }, timing: { mailNickname: 'initial' as const } };
    applyFlowTiming(fresh, cloud({ mailNickname: null }));
    assert.equal(fresh.attrs.mailNickname, 'new');
  });

  it('sourceHasValue: no source value keeps the cloud value; a source value wins', () => {
    const none = { attrs: { usageLocation: null as unknown }, timing: { usageLocation: 'sourceHasValue' as const } };
    applyFlowTiming(none, cloud({ usageLocation: 'NO' }));
    assert.equal(none.attrs.usageLocation, 'NO');
    const some = { attrs: { usageLocation: 'SE' as unknown }, timing: { usageLocation: 'sourceHasValue' as const } };
    applyFlowTiming(some, cloud({ usageLocation: 'NO' }));
    assert.equal(some.attrs.usageLocation, 'SE');
  });

  it('sourceChanged: a fallback name stays while its source value is the one remembered, and follows a change', () => {
    const desired = (onPrem: string) => ({
      attrs: { userPrincipalName: 'nick2@contoso.onmicrosoft.com', mailNickname: 'nick1' } as Record<string, unknown>,
      timing: { userPrincipalName: 'sourceChanged' as const, mailNickname: 'initial' as const },
      sourceValues: { userPrincipalName: onPrem },
      fallbackNames: ['userPrincipalName'],
    });
    const written = withSourceMemory('BASE', desired('a@legacy.example'));
    assert.equal(written, `BASE~userPrincipalName=${sourceFingerprint('a@legacy.example')}`);
    assert.equal(splitDigest(written).base, 'BASE');
    const current = cloud({ userPrincipalName: 'nick1@contoso.onmicrosoft.com', mailNickname: 'nick1' }, written);
    const same = desired('a@legacy.example');
    applyFlowTiming(same, current);
    assert.equal(same.attrs.userPrincipalName, 'nick1@contoso.onmicrosoft.com', 'an alias change renames nothing');
    const moved = desired('b@legacy.example');
    applyFlowTiming(moved, current);
    // recalculated from the alias the object keeps (initial), not the source's newer one
    assert.equal(moved.attrs.userPrincipalName, 'nick1@contoso.onmicrosoft.com');
    const moved2 = desired('b@legacy.example');
    applyFlowTiming(
      moved2,
      cloud({ userPrincipalName: 'old@contoso.onmicrosoft.com', mailNickname: 'nick9' }, written),
    );
    assert.equal(moved2.attrs.userPrincipalName, 'nick9@contoso.onmicrosoft.com');
  });

  it('sourceChanged without a record (a tenant another sync client built): a fallback name stands', () => {
    const o = {
      attrs: { userPrincipalName: 'nick2@contoso.onmicrosoft.com' } as Record<string, unknown>,
      timing: { userPrincipalName: 'sourceChanged' as const },
      sourceValues: { userPrincipalName: 'a@legacy.example' },
      fallbackNames: ['userPrincipalName'],
    };
    applyFlowTiming(o, cloud({ userPrincipalName: 'nick1@contoso.onmicrosoft.com' }));
    assert.equal(o.attrs.userPrincipalName, 'nick1@contoso.onmicrosoft.com');
    // not a fallback any more: the value flows
    const v = {
      attrs: { userPrincipalName: 'a@contoso.example' } as Record<string, unknown>,
      timing: { userPrincipalName: 'sourceChanged' as const },
      sourceValues: { userPrincipalName: 'a@contoso.example' },
    };
    applyFlowTiming(v, cloud({ userPrincipalName: 'nick1@contoso.onmicrosoft.com' }));
    assert.equal(v.attrs.userPrincipalName, 'a@contoso.example');
  });

  it('defaults: usageLocation set in the cloud survives when AD has none; a mail change leaves mailNickname', () => {
    const owned: TargetObject = {
      id: 'id-ann',
      kind: 'user',
      anchor: anchorOf('Ann Lee'),
      attrs: {
        userPrincipalName: 'ann.lee@contoso.example',
        displayName: 'Ann Lee',
        accountEnabled: true,
        mailNickname: 'ann.old',
        mail: 'ann.old@contoso.example',
        usageLocation: 'NO',
        onPremisesImmutableId: anchorOf('Ann Lee'),
      },
    };
    const p = plan([user('Ann Lee', { mail: 'ann.new@contoso.example' })], emptyTarget([owned]));
    assert.equal(p.changes.length, 1);
    const c = p.changes[0]!;
    assert.ok(c.action === 'update');
    assert.deepEqual(
      c.attributes.map((a) => [a.name, a.after]),
      [['mail', 'ann.new@contoso.example']],
    );
    // AD gets a usage location: it flows
    const p2 = plan([user('Ann Lee', { msExchUsageLocation: 'SE' })], emptyTarget([owned]));
    assert.ok(p2.changes.some((x) => x.action === 'update' && x.attributes.some((a) => a.name === 'usageLocation')));
  });

  it('a custom flow says when: { value, when: sourceHasValue } keeps the cloud jobTitle; a plain string clears it', () => {
    const owned: TargetObject = {
      id: 'id-ann',
      kind: 'user',
      anchor: anchorOf('Ann Lee'),
      attrs: {
        userPrincipalName: 'ann.lee@contoso.example',
        displayName: 'Ann Lee',
        accountEnabled: true,
        mailNickname: 'ann.lee',
        jobTitle: 'Set in the cloud',
        onPremisesImmutableId: anchorOf('Ann Lee'),
      },
    };
    const timed = spec({ flows: { user: { jobTitle: { value: 'trim(source.title)', when: 'sourceHasValue' } } } });
    assert.deepEqual(plan([user('Ann Lee')], emptyTarget([owned]), timed).changes, []);
    const plain = spec({ flows: { user: { jobTitle: 'trim(source.title)' } } });
    const c = plan([user('Ann Lee')], emptyTarget([owned]), plain).changes[0];
    assert.ok(c?.action === 'update' && c.attributes.some((a) => a.name === 'jobTitle' && a.after === undefined));
  });
});

describe('objects.*.flows { value, when } in the spec', () => {
  const MINIMAL = `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
target:
  emulator: { state: ./state.json }
objects:
  user:
    flows:
`;
  const problems = (flows: string) =>
    checkSpecText(`${MINIMAL}${flows}`, 'spec.yaml').problems.map((p) => `${p.line}:${p.col} ${p.message}`);

  it('accepts the object form and the plain string', () => {
    assert.deepEqual(
      problems('      jobTitle: { value: trim(source.title), when: sourceHasValue }\n      city: source.l\n'),
      [],
    );
  });

  it('a bad expression in the object form is reported at the value, FILE:LINE:COL', () => {
    const [p] = problems('      jobTitle: { value: "source.title +", when: initial }\n');
    assert.match(p!, /^10:26 objects\.user\.flows\.jobTitle\.value is not a valid CEL expression/);
  });

  it('an unknown timing is refused at its position', () => {
    const out = problems('      jobTitle: { value: source.title, when: sometimes }\n');
    assert.equal(out.length, 1, out.join('\n'));
    assert.match(out[0]!, /^10:/);
    assert.match(out[0]!, /when/);
  });
});

describe('groups join like users: by onPremisesSecurityIdentifier (match-sid.ts)', () => {
  const cloudGroup = (id: string, rid: number, extra: Partial<TargetObject> = {}): TargetObject => ({
    id,
    kind: 'group',
    attrs: { displayName: 'Engineering', mailNickname: 'SGabc123', securityEnabled: true, mailEnabled: false },
    onPremisesSid: sid(rid),
    members: [],
    ...extra,
  });

  it('a group adsync did not create, carrying the AD objectSid, is adopted with its object id and alias kept', () => {
    const p = plan([group('Engineering', [], { objectSid: sidBytes(1201) })], emptyTarget([cloudGroup('g-1', 1201)]));
    assert.equal(p.changes.length, 1, JSON.stringify(p.changes));
    const c = p.changes[0]!;
    assert.ok(c.action === 'adopt' && c.match === 'sid' && c.id === 'g-1');
    assert.deepEqual(c.attributes, [], 'mailNickname is Entra’s own (initial): not rewritten');
    assert.equal(c.matchedOn, `onPremisesSecurityIdentifier ${sid(1201)}`);
  });

  it('its members are compared, not added again', () => {
    const u: TargetObject = {
      id: 'u-1',
      kind: 'user',
      attrs: {
        userPrincipalName: 'ann.lee@contoso.example',
        displayName: 'Ann Lee',
        accountEnabled: true,
        mailNickname: 'ann.lee',
        onPremisesImmutableId: anchorOf('Ann Lee'),
      },
    };
    const g = cloudGroup('g-1', 1201, { members: ['u-1'] });
    const p = plan(
      [
        user('Ann Lee'),
        group('Engineering', ['CN=Ann Lee,OU=Staff,DC=contoso,DC=example'], { objectSid: sidBytes(1201) }),
      ],
      emptyTarget([u, g]),
    );
    assert.deepEqual(
      p.changes.map((c) => c.action),
      ['adopt', 'adopt'],
    );
  });

  it('not a group a sync client still masters (the takeover), nor one whose SID two objects record', () => {
    const mastered = plan(
      [group('Engineering', [], { objectSid: sidBytes(1201) })],
      emptyTarget([cloudGroup('g-1', 1201, { syncClientMastered: true })]),
    );
    assert.ok(mastered.changes.every((c) => c.action !== 'adopt'));
    const twice = sidIndex([cloudGroup('g-1', 1201), cloudGroup('g-2', 1201)]);
    assert.equal(twice.lookup('group', sid(1201)), undefined);
    const index = sidIndex([cloudGroup('g-1', 1201, { syncClientMastered: true })], true);
    assert.equal(index.lookup('group', sid(1201).toLowerCase())?.id, 'g-1', 'SIDs compare case-insensitively');
  });

  it('a user without an anchor match is matched by SID too, never an admin', () => {
    const holder: TargetObject = {
      id: 'u-9',
      kind: 'user',
      attrs: {
        userPrincipalName: 'someone@contoso.example',
        displayName: 'x',
        accountEnabled: true,
        mailNickname: 'x',
      },
      onPremisesSid: sid(1105),
    };
    const p = plan([user('Ann Lee', { objectSid: sidBytes(1105) })], emptyTarget([holder]));
    const c = p.changes[0]!;
    assert.ok(c.action === 'adopt' && c.match === 'sid' && c.id === 'u-9', JSON.stringify(c));
    const admin = plan(
      [user('Ann Lee', { objectSid: sidBytes(1105) })],
      emptyTarget([{ ...holder, adminRoles: ['Global Administrator'] }]),
    );
    assert.ok(!admin.changes.some((x) => x.action === 'adopt'));
    assert.equal(admin.reports[0]?.code, 'hard-match-admin');
  });

  it('pendingAdoptions names the object each cloud id will be adopted by', () => {
    const m = pendingAdoptions(
      [{ anchor: 'A', kind: 'group', sid: sid(7) }],
      new Map(),
      sidIndex([cloudGroup('g-7', 7)]),
    );
    assert.deepEqual([...m], [['g-7', 'A']]);
  });
});

describe('a changed source anchor is an error for that object (anchor-change.ts)', () => {
  const ownedAnn = (anchor: string, extra: Partial<TargetObject> = {}): TargetObject => ({
    id: 'id-ann',
    kind: 'user',
    anchor,
    attrs: {
      userPrincipalName: 'ann.lee@contoso.example',
      displayName: 'Ann Lee',
      accountEnabled: true,
      mailNickname: 'ann.lee',
      onPremisesImmutableId: anchor,
    },
    ...extra,
  });

  it('a changed mS-DS-ConsistencyGuid: one error naming both anchors and the fix; no delete, no create, no write', () => {
    const old = Buffer.from(guid('old consistency')).toString('base64');
    const fresh = guid('new consistency');
    const p = plan([user('Ann Lee', { 'mS-DS-ConsistencyGuid': fresh })], emptyTarget([ownedAnn(old)]));
    assert.deepEqual(p.changes, []);
    const r = p.reports.find((x) => x.code === 'source-anchor-changed');
    assert.ok(r, JSON.stringify(p.reports));
    assert.equal(r.other?.id, 'id-ann');
    assert.match(r.reason, new RegExp(`from ${old.replace(/[+/]/g, '\\$&')} \\(${guidString(old)}\\)`));
    assert.match(r.reason, /mS-DS-ConsistencyGuid/);
    assert.match(r.reason, /Resolve: set mS-DS-ConsistencyGuid back to/);
  });

  it('recognised by objectSid when the cloud object records it', () => {
    const old = Buffer.from(guid('old')).toString('base64');
    const p = plan(
      [
        user('Ann Lee', {
          userPrincipalName: 'renamed@contoso.example',
          objectSid: sidBytes(1101),
          'mS-DS-ConsistencyGuid': guid('n'),
        }),
      ],
      emptyTarget([ownedAnn(old, { onPremisesSid: sid(1101) })]),
    );
    assert.deepEqual(p.changes, []);
    assert.match(p.reports[0]!.reason, /same objectSid S-1-5-21-1-2-3-1101/);
  });

  it('a new AD user (objectGUID anchor) that takes a leaver’s UPN is a new object: delete and create', () => {
    const p = plan([user('Ann Lee')], emptyTarget([ownedAnn(Buffer.from(guid('leaver')).toString('base64'))]));
    assert.deepEqual(p.changes.map((c) => c.action).sort(), ['create', 'delete']);
  });

  it('the stage holds both anchors', () => {
    const held = new Set<string>();
    const d = {
      kind: 'user' as const,
      anchor: 'NEW',
      source: 'corp',
      dn: 'CN=a',
      ndn: 'cn=a',
      label: 'a',
      guid: 'OLD',
      attrs: {},
    };
    const out = sourceAnchorChanges(
      { objects: [d], byAnchor: new Map([['NEW', d]]), excluded: new Map(), held },
      new Map([['OLD', { id: 'x', kind: 'user', anchor: 'OLD', attrs: {} }]]),
      new Set(),
      'entra',
    );
    assert.equal(out.length, 1);
    assert.deepEqual([...held].sort(), ['NEW', 'OLD']);
  });
});

describe('UPN hygiene as Entra does it (upn.ts)', () => {
  it('names what Graph would refuse', () => {
    assert.equal(upnProblem('ann.lee@contoso.example'), undefined);
    assert.equal(upnProblem("o'hara_x!#^~-1@contoso.example"), undefined);
    assert.match(upnProblem('ann lee@contoso.example')!, /space/);
    assert.match(upnProblem(' ann@contoso.example')!, /space/);
    assert.match(upnProblem('ann(x)@contoso.example')!, /character/);
    assert.match(upnProblem('zoë@contoso.example')!, /character/);
    assert.match(upnProblem('ann.@contoso.example')!, /\. just before/);
    assert.match(upnProblem('a@b@contoso.example')!, /more than one @/);
    assert.match(upnProblem(`${'a'.repeat(65)}@contoso.example`)!, /64/);
    assert.equal(upnProblem(`${'a'.repeat(64)}@contoso.example`), undefined);
  });

  it('a fallback name keeps only UPN characters of the alias', () => {
    assert.equal(fallbackLocalPart('zoë.müller'), 'zoe.muller');
    assert.equal(fallbackLocalPart('a.'), 'a');
    assert.equal(fallbackLocalPart('(){}'), undefined);
  });

  it('a user whose UPN has a space gets the fallback name; provenance says why', () => {
    const p = plan([user('Ann Lee', { userPrincipalName: 'ann lee@contoso.example', mailNickname: 'annlee' })]);
    const c = p.changes[0]!;
    assert.ok(c.action === 'create');
    const upn = c.attributes.find((a) => a.name === 'userPrincipalName')!;
    assert.equal(upn.after, 'annlee@contoso.onmicrosoft.com');
    assert.match(upn.flow, /contains a space/);
  });

  it("the quarantine UPN is Entra's <prefix><4 digits>@<initial>, the same on every plan", () => {
    const q = quarantineUpn('ann@contoso.example', 'ANCHOR', 'contoso.onmicrosoft.com');
    assert.match(q, /^ann\d{4}@contoso\.onmicrosoft\.com$/);
    assert.equal(quarantineUpn('ann@contoso.example', 'ANCHOR', 'contoso.onmicrosoft.com'), q);
  });
});
