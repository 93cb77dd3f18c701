/**
 * Regressions found by the model-based convergence test (test/convergence), each named for what broke and
 * shrunk to the smallest plain-data case.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSavedPlan } from '../../src/cli/saved-plan.js';
import { compileFlows } from '../../src/engine/flows.js';
import { renderJson } from '../../src/render/json.js';
import { renderMarkdown } from '../../src/render/markdown.js';
import { PLAIN } from '../../src/render/style.js';
import { renderText } from '../../src/render/text.js';
import { assemblePlan } from '../../src/engine/plan.js';
import type { DirectoryEntry } from '../../src/model/entry.js';
import type { TargetObject, TargetSnapshot } from '../../src/model/target.js';
import type { Change } from '../../src/model/change.js';
import { anchorOf, dnOf, emptyTarget, group, snapshot, spec, user } from '../support/fixtures.js';
import { applyPlan } from '../../src/apply/loop.js';

function plan(entries: DirectoryEntry[], target: TargetSnapshot) {
  const s = spec();
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

const owned = (cn: string, attrs: Record<string, unknown>): TargetObject => ({
  id: `id-${cn}`,
  kind: 'user',
  anchor: anchorOf(cn),
  attrs,
});

describe('regressions found by the convergence test', () => {
  // seed 20261202: u0's UPN changed in AD to one a cloud-only user had taken; apply's PATCH failed with 400
  // (conflict on userPrincipalName) and every later apply failed again.
  it('an owned user whose new UPN a cloud-only user holds keeps its UPN; the rest flows; a report says why', () => {
    const ann = owned('Ann Lee', {
      userPrincipalName: 'ann.lee@contoso.example',
      displayName: 'Ann Lee',
      accountEnabled: true,
      mailNickname: 'ann.lee',
    });
    const holder: TargetObject = {
      id: 'cloud-1',
      kind: 'user',
      attrs: { userPrincipalName: 'bob@contoso.example', displayName: 'Bob (cloud)' },
    };
    const p = plan(
      [user('Ann Lee', { userPrincipalName: 'bob@contoso.example', title: 'Lead' })],
      emptyTarget([ann, holder]),
    );
    const u = p.changes.find((c) => c.anchor === anchorOf('Ann Lee'));
    assert.ok(u && u.action === 'update', JSON.stringify(p.changes));
    assert.ok(!u.attributes.some((a) => a.name === 'userPrincipalName'), 'the UPN is not written');
    assert.ok(
      u.attributes.some((a) => a.name === 'jobTitle' && a.after === 'Lead'),
      'the rest flows',
    );
    const r = p.reports.find((x) => x.code === 'cloud-only-collision');
    assert.equal(r?.other?.id, 'cloud-1');
    assert.match(r.reason, /userPrincipalName \(bob@contoso\.example\)/);
  });

  it('the same for a mail address a cloud-only object holds', () => {
    const ann = owned('Ann Lee', {
      userPrincipalName: 'ann.lee@contoso.example',
      displayName: 'Ann Lee',
      accountEnabled: true,
      mailNickname: 'ann.lee',
      mail: 'ann@contoso.example',
      onPremisesImmutableId: anchorOf('Ann Lee'),
    });
    const holder: TargetObject = {
      id: 'cloud-2',
      kind: 'user',
      attrs: { userPrincipalName: 'x@contoso.example', mail: 'shared@contoso.example' },
    };
    const p = plan([user('Ann Lee', { mail: 'shared@contoso.example' })], emptyTarget([ann, holder]));
    const u = p.changes.find((c) => c.anchor === anchorOf('Ann Lee'));
    assert.ok(
      u === undefined || (u.action === 'update' && !u.attributes.some((a) => a.name === 'mail')),
      JSON.stringify(u),
    );
    assert.equal(p.reports.find((x) => x.code === 'cloud-only-collision')?.other?.id, 'cloud-2');
  });

  // seed 20261202: the manager was deleted in the cloud, and a new AD user computed the same UPN (duplicate in
  // source, so the manager is not restored); the plan set the report's manager to the deleted id every time and
  // apply failed with 404.
  // (Since duplicate-attribute resiliency, a duplicate UPN no longer holds an object: a flow error does.)
  it('a manager left in deleted items (held by a flow error) is unset, never set to the deleted id', () => {
    const bob = owned('Bob Jones', {
      userPrincipalName: 'bob.jones@contoso.example',
      displayName: 'Bob Jones',
      accountEnabled: true,
      mailNickname: 'bob.jones',
    });
    const target = emptyTarget([{ ...bob, manager: undefined } as TargetObject]);
    target.deleted = [owned('Ann Lee', { userPrincipalName: 'ann.lee@contoso.example' })];
    const p = plan(
      [user('Ann Lee', { displayName: 'x'.repeat(300) }), user('Bob Jones', { manager: dnOf('Ann Lee') })],
      target,
    );
    const forBob = p.changes.filter((c) => c.anchor === anchorOf('Bob Jones'));
    assert.ok(
      forBob.every((c) => c.action !== 'update' || !c.attributes.some((a) => a.name === 'manager')),
      JSON.stringify(forBob),
    );
    assert.ok(!p.changes.some((c) => c.action === 'restore'), 'the blocked manager is not restored');
  });

  it('a new user whose manager a cloud-only collision blocks is created without a manager', () => {
    const holder: TargetObject = {
      id: 'cloud-3',
      kind: 'user',
      attrs: { userPrincipalName: 'ann.lee@contoso.example' },
    };
    const p = plan([user('Ann Lee'), user('Bob Jones', { manager: dnOf('Ann Lee') })], emptyTarget([holder]));
    const create = p.changes.find((c) => c.anchor === anchorOf('Bob Jones'));
    assert.ok(create && create.action === 'create');
    assert.ok(!create.attributes.some((a) => a.name === 'manager'), JSON.stringify(create.attributes));
    assert.ok(!p.changes.some((c) => c.anchor === anchorOf('Ann Lee')));
  });
  // seed 20261202 (200 runs): u1 moved to u0's UPN (both held as duplicates, u1 keeps bob in the tenant) while
  // a new u4 took u1's old UPN bob; the create failed with 400 on every apply.
  // Since duplicate-attribute resiliency: Cid is created with Entra's quarantine UPN instead of Bob's.
  it('a new user is not created with a UPN an owned user keeps: it gets the quarantine UPN', () => {
    const ann = owned('Ann Lee', {
      userPrincipalName: 'ann@contoso.example',
      displayName: 'Ann Lee',
      accountEnabled: true,
    });
    const bob = owned('Bob Jones', {
      userPrincipalName: 'bob@contoso.example',
      displayName: 'Bob Jones',
      accountEnabled: true,
    });
    const p = plan(
      [
        user('Ann Lee', { userPrincipalName: 'ann@contoso.example' }),
        user('Bob Jones', { userPrincipalName: 'ann@contoso.example' }),
        user('Cid New', { userPrincipalName: 'bob@contoso.example' }),
      ],
      emptyTarget([ann, bob]),
    );
    const cid = p.changes.find((c) => c.action === 'create');
    assert.ok(cid && cid.action === 'create', JSON.stringify(p.changes.map((c) => `${c.action} ${c.label}`)));
    const upn = cid.attributes.find((a) => a.name === 'userPrincipalName')?.after;
    assert.match(String(upn), /^bob\d{4}@contoso\.onmicrosoft\.com$/);
    const r = p.reports.find((x) => x.anchor === anchorOf('Cid New'));
    assert.equal(r?.code, 'duplicate-value-quarantined');
    assert.equal(r?.other?.id, 'id-Bob Jones');
  });
  // seed 20261202 (200 runs): u0 dropped its mail and u4 took it in the same step; Graph keeps every address a
  // user had in its proxyAddresses, so the create failed with 400 (proxyAddresses) on every apply.
  it('an address an owned user once had (still in its proxyAddresses) is neither created on a new user nor moved to another', () => {
    const ann = owned('Ann Lee', {
      userPrincipalName: 'ann@contoso.example',
      displayName: 'Ann Lee',
      accountEnabled: true,
      proxyAddresses: ['smtp:old@contoso.example'],
    });
    const bob = owned('Bob Jones', {
      userPrincipalName: 'bob@contoso.example',
      displayName: 'Bob Jones',
      accountEnabled: true,
    });
    const created = plan(
      [
        user('Ann Lee', { userPrincipalName: 'ann@contoso.example' }),
        user('Bob Jones', { userPrincipalName: 'bob@contoso.example' }),
        user('Cid New', { userPrincipalName: 'cid@contoso.example', mail: 'OLD@contoso.example' }),
      ],
      emptyTarget([ann, bob]),
    );
    // duplicate-attribute resiliency: Cid is created without the address (quarantined), not left out
    const cid = created.changes.find((c) => c.action === 'create');
    assert.ok(cid && cid.action === 'create' && cid.anchor === anchorOf('Cid New'), 'Cid is created');
    assert.ok(!cid.attributes.some((a) => a.name === 'mail'), 'without the address Ann keeps');
    assert.equal(created.reports.find((r) => r.anchor === anchorOf('Cid New'))?.code, 'duplicate-value-quarantined');
    const p = plan(
      [
        user('Ann Lee', { userPrincipalName: 'ann@contoso.example' }),
        user('Bob Jones', { userPrincipalName: 'bob@contoso.example', mail: 'old@contoso.example' }),
      ],
      emptyTarget([ann, bob]),
    );
    assert.ok(
      !p.changes.some((c) => c.action === 'update' && c.attributes.some((a) => a.name === 'mail')),
      'Bob keeps his mail',
    );
    assert.equal(p.reports.find((r) => r.anchor === anchorOf('Bob Jones'))?.other?.id, 'id-Ann Lee');
  });
  it('an address of a user this plan deletes is free for another user in the same plan (one apply converges)', () => {
    const ann = owned('Ann Lee', {
      userPrincipalName: 'ann@contoso.example',
      displayName: 'Ann Lee',
      accountEnabled: true,
      mail: 'a@contoso.example',
      proxyAddresses: ['SMTP:a@contoso.example'],
    });
    const bob = owned('Bob Jones', {
      userPrincipalName: 'bob@contoso.example',
      displayName: 'Bob Jones',
      accountEnabled: true,
    });
    const p = plan(
      [user('Bob Jones', { userPrincipalName: 'bob@contoso.example', mail: 'a@contoso.example' })],
      emptyTarget([ann, bob]),
    );
    assert.ok(p.changes.some((c) => c.action === 'delete' && c.anchor === anchorOf('Ann Lee')));
    assert.ok(
      p.changes.some(
        (c) => c.action === 'update' && c.attributes.some((a) => a.name === 'mail' && a.after === 'a@contoso.example'),
      ),
      JSON.stringify(p.changes),
    );
  });
  // seed 20261202 (run 141): u0 held (its mail duplicated by a new u4) keeps UPN ann; u1 moved to UPN ann in
  // AD; the update failed with 400 on every apply.
  it('an owned user does not take the UPN a held user keeps; the rest of its update flows', () => {
    const ann = owned('Ann Lee', {
      userPrincipalName: 'ann@contoso.example',
      displayName: 'Ann Lee',
      accountEnabled: true,
      mail: 'm@contoso.example',
    });
    const bob = owned('Bob Jones', {
      userPrincipalName: 'bob@contoso.example',
      displayName: 'Bob Jones',
      accountEnabled: true,
    });
    const p = plan(
      [
        // held by a flow error (a duplicate mail no longer holds an object)
        user('Ann Lee', { userPrincipalName: 'ann2@contoso.example', displayName: 'x'.repeat(300) }),
        user('Bob Jones', { userPrincipalName: 'ann@contoso.example', title: 'Lead' }),
      ],
      emptyTarget([ann, bob]),
    );
    const u = p.changes.find((c) => c.anchor === anchorOf('Bob Jones'));
    assert.ok(
      u &&
        u.action === 'update' &&
        !u.attributes.some((a) => a.name === 'userPrincipalName') &&
        u.attributes.some((a) => a.name === 'jobTitle'),
      JSON.stringify(u),
    );
    assert.ok(p.reports.some((r) => r.anchor === anchorOf('Bob Jones') && r.other?.id === 'id-Ann Lee'));
  });
});

describe('regressions found by the convergence test: values nobody can hold', () => {
  // seed 20261202, run 282: two new users computed the UPN a cloud-only user holds. Resiliency picked one to keep
  // it (never created: the cloud-only collision) and quarantined the other, which was created; the next plan
  // then picked the one that now existed and created the first with a quarantine UPN: one create per apply.
  it("two new users with a cloud-only user's UPN are both left out as collisions, with no quarantine", () => {
    const cloud: TargetObject = {
      id: 'cloud-1',
      kind: 'user',
      attrs: { userPrincipalName: 'dee@contoso.example', displayName: 'Dee (cloud)' },
    };
    const p = plan(
      [
        user('Dee One', { userPrincipalName: 'dee@contoso.example' }),
        user('Dee Two', { userPrincipalName: 'dee@contoso.example' }),
      ],
      emptyTarget([cloud]),
    );
    assert.deepEqual(
      p.changes.map((c) => `${c.action} ${c.label}`),
      [],
    );
    assert.deepEqual(
      p.reports.map((r) => `${r.code} ${r.anchor}`).sort(),
      [`cloud-only-collision ${anchorOf('Dee One')}`, `cloud-only-collision ${anchorOf('Dee Two')}`].sort(),
    );
  });
});

describe('regressions found by the convergence test: claims of objects that are never created', () => {
  // seed 4, run 6: u4 (UPN dee, and the mail a cloud-only user holds) and u6 (UPN dee) were both new. u4 won
  // the UPN but is never created (its mail collides), u6 was created with a quarantine UPN, and the next plan
  // moved u6 to dee: one update per apply.
  it('a new user blocked by a cloud-only collision claims no UPN: the other new user gets it', () => {
    const cloud: TargetObject = {
      id: 'cloud-1',
      kind: 'user',
      attrs: { userPrincipalName: 'cloud@contoso.example', mail: 'shared@contoso.example', displayName: 'Cloud' },
    };
    const p = plan(
      [
        user('Dee One', { userPrincipalName: 'dee@contoso.example', mail: 'shared@contoso.example' }),
        user('Dee Two', { userPrincipalName: 'dee@contoso.example' }),
      ],
      emptyTarget([cloud]),
    );
    const creates = p.changes.filter((c) => c.action === 'create');
    assert.deepEqual(
      creates.map((c) => c.anchor),
      [anchorOf('Dee Two')],
    );
    const c = creates[0]!;
    assert.ok(c.action === 'create');
    assert.equal(c.attributes.find((a) => a.name === 'userPrincipalName')?.after, 'dee@contoso.example');
    assert.deepEqual(
      p.reports.map((r) => `${r.code} ${r.anchor}`),
      [`cloud-only-collision ${anchorOf('Dee One')}`],
    );
  });
});

describe('regressions found by the convergence test: restores', () => {
  const live = (cn: string, upn: string): TargetObject =>
    owned(cn, { userPrincipalName: upn, displayName: cn, accountEnabled: true });
  const inDeletedItems = (cn: string, upn: string): TargetSnapshot['deleted'][number] => ({
    ...live(cn, upn),
    id: `deleted-${cn}`,
  });
  const withDeleted = (objects: TargetObject[], deleted: TargetObject[]): TargetSnapshot => ({
    ...emptyTarget(objects),
    deleted,
  });

  // seed 20261202, run 175: u0 took u1's UPN in AD while u1 was deleted; u1 was then restored in AD. Graph v1.0
  // restores a user under the UPN it had, which u0 held: the restore failed (400) on every apply.
  it('a restore whose old UPN a live user keeps is held in deleted items, with a report naming the holder', () => {
    const target = withDeleted(
      [live('Ann Lee', 'bob@contoso.example')],
      [inDeletedItems('Bob Jones', 'bob@contoso.example')],
    );
    const p = plan(
      [
        user('Ann Lee', { userPrincipalName: 'bob@contoso.example' }),
        user('Bob Jones', { userPrincipalName: 'bob@contoso.example' }),
      ],
      target,
    );
    // nothing touches Bob (in deleted items), and Ann keeps the UPN
    assert.ok(!p.changes.some((c) => c.anchor === anchorOf('Bob Jones')), JSON.stringify(p.changes));
    assert.ok(
      !p.changes.some((c) => 'attributes' in c && c.attributes.some((a) => a.name === 'userPrincipalName')),
      JSON.stringify(p.changes),
    );
    const held = p.reports.find((r) => r.code === 'restore-held');
    assert.equal(held?.anchor, anchorOf('Bob Jones'));
    assert.equal(held?.other?.id, 'id-Ann Lee');
    assert.match(held.reason, /deleted items \(deleted-Bob Jones\)/);
  });

  // seed 1, run 192: u0 took u1's UPN in AD (u1 keeps it) and was deleted in the cloud; a new u4 took u0's old
  // UPN. u0 came back under its old UPN (it loses the duplicate) and u4's create failed on every apply.
  it('a new user does not take the UPN a restored user comes back with: it gets the quarantine UPN', () => {
    const target = withDeleted(
      [live('Bob Jones', 'bob@contoso.example')],
      [inDeletedItems('Ann Lee', 'ann@contoso.example')],
    );
    const p = plan(
      [
        user('Ann Lee', { userPrincipalName: 'bob@contoso.example' }),
        user('Bob Jones', { userPrincipalName: 'bob@contoso.example' }),
        user('Cid New', { userPrincipalName: 'ann@contoso.example' }),
      ],
      target,
    );
    const restore = p.changes.find((c) => c.action === 'restore');
    assert.equal(restore?.anchor, anchorOf('Ann Lee'));
    const cid = p.changes.find((c) => c.action === 'create');
    assert.ok(cid && cid.action === 'create');
    assert.match(
      String(cid.attributes.find((a) => a.name === 'userPrincipalName')?.after),
      /^ann\d{4}@contoso\.onmicrosoft\.com$/,
    );
    assert.equal(p.reports.find((r) => r.anchor === anchorOf('Cid New'))?.other?.id, 'deleted-Ann Lee');
  });

  it('a restore whose old UPN is freed by an update of the same apply goes ahead (restores run after updates)', () => {
    const target = withDeleted(
      [live('Ann Lee', 'bob@contoso.example')],
      [inDeletedItems('Bob Jones', 'bob@contoso.example')],
    );
    const p = plan(
      [
        user('Ann Lee', { userPrincipalName: 'ann@contoso.example' }),
        user('Bob Jones', { userPrincipalName: 'bob@contoso.example' }),
      ],
      target,
    );
    assert.deepEqual(
      p.changes.map((c) => `${c.action} ${c.label}`),
      ['update ann@contoso.example', 'restore bob@contoso.example'],
    );
    assert.ok(!p.reports.some((r) => r.code === 'restore-held'));
  });

  it('a restore whose old address a cloud-only user took is held; its group adds and manager references wait too', () => {
    const target = withDeleted(
      [
        {
          id: 'cloud-1',
          kind: 'user',
          attrs: { userPrincipalName: 'carl@contoso.example', mail: 'bob@contoso.example', displayName: 'Carl' },
        },
      ],
      [
        {
          ...inDeletedItems('Bob Jones', 'bob.jones@contoso.example'),
          attrs: { ...live('Bob Jones', 'bob.jones@contoso.example').attrs, mail: 'bob@contoso.example' },
        },
      ],
    );
    const p = plan(
      [
        user('Bob Jones', { userPrincipalName: 'bob.jones@contoso.example', mail: 'bob@contoso.example' }),
        user('Ann Lee', { userPrincipalName: 'ann@contoso.example', manager: dnOf('Bob Jones') }),
        group('Staff', [dnOf('Bob Jones'), dnOf('Ann Lee')]),
      ],
      target,
    );
    assert.ok(!p.changes.some((c) => c.anchor === anchorOf('Bob Jones')), JSON.stringify(p.changes));
    const ann = p.changes.find((c) => c.action === 'create' && c.anchor === anchorOf('Ann Lee'));
    assert.ok(ann && ann.action === 'create');
    assert.ok(!ann.attributes.some((a) => a.name === 'manager'));
    const adds = p.changes.find((c) => c.action === 'add-members');
    assert.ok(adds && adds.action === 'add-members');
    assert.deepEqual(
      adds.members.map((m) => m.anchor),
      [anchorOf('Ann Lee')],
    );
    assert.equal(p.reports.find((r) => r.code === 'restore-held')?.other?.id, 'cloud-1');
  });
});

describe('regressions found by the convergence test: apply order', () => {
  // seed 20261202: u4 computed u0's UPN (both held as duplicates); u0 was then deleted in AD, so the plan
  // deleted u0 and created u4 — and apply created before deleting: 400, UPN taken.
  it('a user delete frees its UPN for a create in the same apply', async () => {
    const { startEmulator } = await import('../../src/emulator/index.js');
    const { connectEmulator } = await import('../../src/connectors/entra/index.js');
    const support = await import('../connectors/entra/support.js');
    const emu = await startEmulator({ domains: ['contoso.example'] });
    const target = await connectEmulator(emu);
    try {
      const first = await applyPlan(
        { entra: target },
        support.makePlan([support.createUser(support.anchor(), 'ann@contoso.example')]),
      );
      assert.deepEqual(first.failed, []);
      const oldId = Object.values(first.createdIds)[0]!;
      const del: Change = {
        action: 'delete',
        kind: 'user',
        anchor: Object.keys(first.createdIds)[0]!,
        target: 'entra',
        label: 'ann@contoso.example',
        rule: 'test',
        id: oldId,
        reason: 'no longer in the source',
      };
      const result = await applyPlan(
        { entra: target },
        support.makePlan([support.createUser(support.anchor(), 'ann@contoso.example'), del]),
      );
      assert.deepEqual(
        result.failed.map((f) => f.message),
        [],
      );
      assert.equal(result.applied, 2);
    } finally {
      await target.close();
      await emu.close();
    }
  });

  // seed 20261202, run 177: a user deleted in the cloud whose UPN changed in AD, and a new user with its old
  // UPN: the create ran first, then the restore (under the old UPN) failed on every apply.
  it('a restore runs after the updates and before the creates: a create takes the UPN its own update gives up', async () => {
    const { startEmulator } = await import('../../src/emulator/index.js');
    const { connectEmulator } = await import('../../src/connectors/entra/index.js');
    const support = await import('../connectors/entra/support.js');
    const emu = await startEmulator({ domains: ['contoso.example'] });
    const target = await connectEmulator(emu);
    try {
      const a = support.anchor();
      const first = await applyPlan(
        { entra: target },
        support.makePlan([support.createUser(a, 'ann@contoso.example')]),
      );
      assert.deepEqual(first.failed, []);
      const id = first.createdIds[a]!;
      const gone = await applyPlan(
        { entra: target },
        support.makePlan([
          {
            action: 'delete',
            kind: 'user',
            anchor: a,
            target: 'entra',
            label: 'ann@contoso.example',
            rule: 'test',
            id,
            reason: 'deleted in the cloud',
          },
        ]),
      );
      assert.deepEqual(gone.failed, []);
      const restore: Change = {
        action: 'restore',
        kind: 'user',
        anchor: a,
        target: 'entra',
        label: 'ann@contoso.example',
        rule: 'test',
        id,
        attributes: [
          { name: 'userPrincipalName', before: 'ann@contoso.example', after: 'ann.lee@contoso.example', flow: 'test' },
        ],
      };
      // listed so that running in plan order loses: the create first
      const result = await applyPlan(
        { entra: target },
        support.makePlan([support.createUser(support.anchor(), 'ann@contoso.example'), restore]),
        { concurrency: 1 },
      );
      assert.deepEqual(
        result.failed.map((f) => f.message),
        [],
      );
      assert.equal(result.applied, 2);
    } finally {
      await target.close();
      await emu.close();
    }
  });

  // Samba run, seed 20261202: u4 took u0's UPN in the same step as u0's UPN fell back to sAMAccountName@domain;
  // the create raced the update and lost (400, UPN taken). The same for two updates trading places in a chain.
  it('updates that free a UPN run before the create and the update that take it', async () => {
    const { startEmulator } = await import('../../src/emulator/index.js');
    const { connectEmulator } = await import('../../src/connectors/entra/index.js');
    const support = await import('../connectors/entra/support.js');
    const emu = await startEmulator({ domains: ['contoso.example'] });
    const target = await connectEmulator(emu);
    try {
      const [a, b] = [support.anchor(), support.anchor()];
      const first = await applyPlan(
        { entra: target },
        support.makePlan([support.createUser(a, 'ann@contoso.example'), support.createUser(b, 'bob@contoso.example')]),
      );
      assert.deepEqual(first.failed, []);
      const update = (anchor: string, from: string, to: string): Change => ({
        action: 'update',
        kind: 'user',
        anchor,
        target: 'entra',
        label: from,
        rule: 'test',
        id: first.createdIds[anchor]!,
        attributes: [{ name: 'userPrincipalName', before: from, after: to, flow: 'test' }],
      });
      // listed in the order that loses the race when run as listed: the taker first
      const plan = support.makePlan([
        support.createUser(support.anchor(), 'ann@contoso.example'),
        update(b, 'bob@contoso.example', 'cid@contoso.example'),
        update(a, 'ann@contoso.example', 'bob@contoso.example'),
      ]);
      plan.changes.unshift(plan.changes.splice(2, 1)[0]!); // a's update (takes bob) first
      const result = await applyPlan({ entra: target }, plan, { concurrency: 1 });
      assert.deepEqual(
        result.failed.map((f) => f.message),
        [],
      );
      assert.equal(result.applied, 3);
    } finally {
      await target.close();
      await emu.close();
    }
  });

  // seed 20261202 (200 runs): a user restored in the same apply that clears its manager: the DELETE of the
  // manager reference answered 404 "Resource 'manager' does not exist" (a restored user has none) and apply
  // took it for replication lag, retrying it 9 times over a minute, each one a write.
  it('clearing the manager of a user restored in the same apply is one write, not a lag retry loop', async () => {
    const { startEmulator } = await import('../../src/emulator/index.js');
    const { connectEmulator } = await import('../../src/connectors/entra/index.js');
    const support = await import('../connectors/entra/support.js');
    const writes: string[] = [];
    const emu = await startEmulator({
      domains: ['contoso.example'],
      onWrite: (w) => writes.push(`${w.method} ${w.path}`),
    });
    const target = await connectEmulator(emu);
    try {
      const [a, m] = [support.anchor(), support.anchor()];
      const first = await applyPlan(
        { entra: target },
        support.makePlan([support.createUser(a, 'ann@contoso.example'), support.createUser(m, 'max@contoso.example')]),
      );
      const id = first.createdIds[a]!;
      const del: Change = {
        action: 'delete',
        kind: 'user',
        anchor: a,
        target: 'entra',
        label: 'ann@contoso.example',
        rule: 'test',
        id,
        reason: 'gone',
      };
      assert.deepEqual((await applyPlan({ entra: target }, support.makePlan([del]))).failed, []);
      writes.length = 0;
      const restore: Change = {
        action: 'restore',
        kind: 'user',
        anchor: a,
        target: 'entra',
        label: 'ann@contoso.example',
        rule: 'test',
        id,
        attributes: [
          {
            name: 'manager',
            before: { anchor: m, kind: 'user', id: first.createdIds[m]!, label: 'max@contoso.example' },
            flow: 'test',
          },
        ],
      };
      const result = await applyPlan({ entra: target }, support.makePlan([restore]));
      assert.deepEqual(
        result.failed.map((f) => f.message),
        [],
      );
      assert.deepEqual(
        writes.filter((w) => w.includes('/manager/')),
        [`DELETE /users/${id}/manager/$ref`],
      );
    } finally {
      await target.close();
      await emu.close();
    }
  });

  // seed 20261202: a user soft-deleted in the cloud, then deleted and reanimated in AD (same objectGUID, no
  // linked attributes): Graph restored it into the groups it was in at deletion, and the next plan removed it.
  it("a restored user names the adsync groups it stays in (AD's), for apply to prune the others", async () => {
    const target = emptyTarget([
      { id: 'id-Sales', kind: 'group', anchor: anchorOf('Sales'), attrs: { displayName: 'Sales' }, members: [] },
      { id: 'id-Ops', kind: 'group', anchor: anchorOf('Ops'), attrs: { displayName: 'Ops' }, members: [] },
    ] as TargetObject[]);
    target.deleted = [owned('Ann Lee', { userPrincipalName: 'ann.lee@contoso.example', displayName: 'Ann Lee' })];
    const p = plan([user('Ann Lee'), group('Sales', [dnOf('Ann Lee')]), group('Ops', [])], target);
    const r = p.changes.find((c) => c.action === 'restore');
    assert.ok(r && r.action === 'restore', JSON.stringify(p.changes));
    assert.deepEqual(r.memberships, [{ anchor: anchorOf('Sales'), kind: 'group', id: 'id-Sales', label: 'Sales' }]);
    // the review shows it, and the saved plan (schema-checked) carries it
    assert.match(
      renderText(p, PLAIN),
      /restore user .*\n.*memberships outside its AD groups are removed after the restore \(it stays in Sales\)/,
    );
    assert.match(
      renderMarkdown(p),
      /restore.* from deleted items \(memberships outside its AD groups are removed after the restore\)/,
    );
    const dir = await mkdtemp(join(tmpdir(), 'adsync-restore-'));
    try {
      await writeFile(join(dir, 'plan.json'), renderJson(p));
      const saved = await readSavedPlan(join(dir, 'plan.json'));
      assert.deepEqual(
        saved.changes.find((c) => c.action === 'restore'),
        r,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('apply removes a restored user from the adsync groups the plan does not keep it in, in the same change', async () => {
    const { startEmulator } = await import('../../src/emulator/index.js');
    const { connectEmulator } = await import('../../src/connectors/entra/index.js');
    const support = await import('../connectors/entra/support.js');
    const writes: string[] = [];
    const emu = await startEmulator({
      domains: ['contoso.example'],
      onWrite: (w) => writes.push(`${w.method} ${w.path}`),
    });
    const target = await connectEmulator(emu);
    try {
      const [a, keep, drop] = [support.anchor(), support.anchor(), support.anchor()];
      const first = await applyPlan(
        { entra: target },
        support.makePlan([
          support.createUser(a, 'ann@contoso.example'),
          support.createGroup(keep, 'Sales'),
          support.createGroup(drop, 'Ops'),
          support.addMembers(keep, 'Sales', [support.member(a, 'user', 'ann@contoso.example')]),
          support.addMembers(drop, 'Ops', [support.member(a, 'user', 'ann@contoso.example')]),
        ]),
      );
      assert.deepEqual(first.failed, []);
      const [id, keepId, dropId] = [first.createdIds[a]!, first.createdIds[keep]!, first.createdIds[drop]!];
      const del: Change = {
        action: 'delete',
        kind: 'user',
        anchor: a,
        target: 'entra',
        label: 'ann@contoso.example',
        rule: 'test',
        id,
        reason: 'gone',
      };
      assert.deepEqual((await applyPlan({ entra: target }, support.makePlan([del]))).failed, []);
      writes.length = 0;
      const restore: Change = {
        action: 'restore',
        kind: 'user',
        anchor: a,
        target: 'entra',
        label: 'ann@contoso.example',
        rule: 'test',
        id,
        attributes: [],
        memberships: [support.member(keep, 'group', 'Sales', keepId)],
      };
      // the plan adds her to Sales (the target listed no deleted member); the restore brought that back already
      const result = await applyPlan(
        { entra: target },
        support.makePlan([
          restore,
          support.addMembers(keep, 'Sales', [support.member(a, 'user', 'ann@contoso.example', id)], keepId),
        ]),
      );
      assert.deepEqual(
        result.failed.map((f) => f.message),
        [],
      );
      assert.deepEqual(result.restoredMemberships, [{ anchor: a, id, removed: [dropId], kept: [keepId] }]);
      assert.deepEqual(
        writes.sort(),
        [`DELETE /groups/${dropId}/members/${id}/$ref`, `POST /directory/deletedItems/${id}/restore`].sort(),
      );
      const snap = await target.read({ userProperties: [], groupProperties: [], readMembers: true });
      const members = (gid: string): string[] => snap.objects.find((o) => o.id === gid)?.members ?? [];
      assert.deepEqual(members(keepId), [id]);
      assert.deepEqual(members(dropId), []);
    } finally {
      await target.close();
      await emu.close();
    }
  });
});

describe('plan prerequisites are what apply registers', () => {
  // The saved plan says everything apply writes: a prerequisite the plan lists is registered even when no change
  // of the plan would have made apply register it on its own.
  it("apply registers the plan's extensions before its changes", async () => {
    const { startEmulator } = await import('../../src/emulator/index.js');
    const { connectEmulator } = await import('../../src/connectors/entra/index.js');
    const support = await import('../connectors/entra/support.js');
    const emu = await startEmulator({ domains: ['contoso.example'] });
    const target = await connectEmulator(emu);
    try {
      const plan = support.makePlan([support.createUser(support.anchor(), 'ann@contoso.example')]);
      plan.prerequisites = [
        { action: 'register-extension', target: 'entra', name: 'adsyncDeleteAfter', reason: 'test' },
      ];
      const result = await applyPlan({ entra: target }, plan);
      assert.deepEqual(result.failed, []);
      assert.ok(
        [...target.extensions].some((e) => e.endsWith('_adsyncDeleteAfter')),
        `registered: ${[...target.extensions].join(', ')}`,
      );
    } finally {
      await target.close();
      await emu.close();
    }
  });
});
