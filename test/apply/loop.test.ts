/**
 * The apply loop (src/apply/loop.ts) over recording targets: the order of steps, one outcome per change,
 * Entra before AD, the signal, and a property test of the order against an oracle written here.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyPlan } from '../../src/apply/loop.js';
import type { ApplyOptions } from '../../src/model/apply.js';
import type { Change } from '../../src/model/change.js';
import type { ApplyReporter, ApplyStep, Target, TargetSystem } from '../../src/model/target.js';

interface Call {
  system: TargetSystem;
  label: string;
  step: ApplyStep;
}

/** A target that records each (change, step) it is given and finishes a change at its own step. */
function recorder(system: TargetSystem, calls: Call[], width = 3, failing = new Set<string>()): Target {
  return {
    system,
    capabilities: { width: () => width },
    begin(_plan, _options: ApplyOptions, report: ApplyReporter) {
      return Promise.resolve({
        async apply(change: Change, step: ApplyStep) {
          calls.push({ system, label: change.label, step });
          await Promise.resolve();
          if (step === 'references') return; // a second step of a change finished already
          if (failing.has(change.label)) {
            report.fail(change, `${change.action} ${change.label}`, 'refused');
            report.finish(change, 'failed');
          } else report.finish(change, 'applied', `id-${change.label}`);
        },
        end: () => ({ writes: 1, requests: 1, retries: 0, createdIds: {} }),
      });
    },
  };
}

const base = { anchor: 'a', rule: 'r', target: 'entra' as TargetSystem };
const attr = (name: string, before: unknown, after: unknown) => ({ name, before, after, flow: 'f' }) as never;
const ch = {
  create: (label: string, manager = false): Change => ({
    ...base,
    action: 'create',
    kind: 'user',
    label,
    attributes: manager ? [attr('manager', undefined, { anchor: 'm', label: 'm' })] : [],
  }),
  update: (label: string, upn?: [string, string]): Change => ({
    ...base,
    action: 'update',
    kind: 'user',
    id: label,
    label,
    attributes: upn ? [attr('userPrincipalName', upn[0], upn[1])] : [attr('department', 'a', 'b')],
  }),
  delete: (label: string, kind: 'user' | 'group'): Change => ({
    ...base,
    action: 'delete',
    kind,
    id: label,
    label,
    reason: 'gone',
  }),
  add: (label: string): Change => ({ ...base, action: 'add-members', kind: 'group', id: label, label, members: [] }),
  restore: (label: string): Change => ({
    ...base,
    action: 'restore',
    kind: 'user',
    id: label,
    label,
    attributes: [attr('userPrincipalName', 'old@x', 'new@x')],
  }),
  remove: (label: string): Change => ({
    ...base,
    action: 'remove-members',
    kind: 'group',
    id: label,
    label,
    members: [],
  }),
};

describe('apply loop', () => {
  it('runs the steps in order: user deletes, updates (takers last), creates, references, members, group deletes', async () => {
    const calls: Call[] = [];
    const changes = [
      ch.delete('g-del', 'group'),
      ch.remove('g-rm'),
      ch.add('g-add'),
      ch.create('new', true),
      ch.update('taker', ['b@x', 'a@x']),
      ch.update('leaver', ['a@x', 'z@x']),
      ch.delete('u-del', 'user'),
    ];
    const result = await applyPlan({ entra: recorder('entra', calls, 1) }, { target: { system: 'entra' }, changes });
    assert.deepEqual(
      calls.map((c) => `${c.step} ${c.label}`),
      [
        'delete-users u-del',
        'update leaver',
        'update-taking taker',
        'create new',
        'references new',
        'members g-add',
        'members g-rm',
        'delete-groups g-del',
      ],
    );
    assert.equal(result.applied, changes.length);
    assert.equal(result.writes, 1);
  });

  it('reports each change once to onChange and progress, and keeps failures', async () => {
    const calls: Call[] = [];
    const events: string[] = [];
    const progress: number[] = [];
    const changes = [ch.create('a'), ch.create('b'), ch.update('c')];
    const result = await applyPlan(
      { entra: recorder('entra', calls, 2, new Set(['b'])) },
      { target: { system: 'entra' }, changes },
      {
        onChange: (e) => events.push(`${e.change.label} ${e.outcome}`),
        onProgress: (d, t) => progress.push(d * 10 + t),
      },
    );
    assert.deepEqual(events.sort(), ['a applied', 'b failed', 'c applied']);
    assert.deepEqual(progress, [13, 23, 33]);
    assert.equal(result.applied, 2);
    assert.deepEqual(
      result.failed.map((f) => `${f.operation}: ${f.message}`),
      ['create b: refused'],
    );
  });

  it('applies Entra first, then AD; an aborted signal starts nothing more', async () => {
    const calls: Call[] = [];
    const ad = (c: Change): Change => ({ ...c, target: 'ad', source: 'corp' });
    const changes = [ad(ch.create('ad-group')), ch.update('cloud-user')];
    await applyPlan(
      { entra: recorder('entra', calls), ad: recorder('ad', calls) },
      { target: { system: 'entra' }, changes },
    );
    assert.deepEqual(
      calls.map((c) => `${c.system} ${c.label}`),
      ['entra cloud-user', 'ad ad-group'],
    );
    const none: Call[] = [];
    const ctl = new AbortController();
    ctl.abort();
    const r = await applyPlan(
      { entra: recorder('entra', none), ad: recorder('ad', none) },
      { target: { system: 'entra' }, changes },
      { signal: ctl.signal },
    );
    assert.deepEqual(none, []);
    assert.equal(r.applied, 0);
  });

  it('refuses a plan with changes for a target it was not given', async () => {
    const changes = [{ ...ch.create('g'), target: 'ad', source: 'corp' } as Change];
    await assert.rejects(
      applyPlan({ entra: recorder('entra', []) }, { target: { system: 'entra' }, changes }),
      (err: Error & { code?: string }) => err.code === 'apply_no_target',
    );
  });

  // Oracle, independent of src/: the rank of each change's own step.
  // Restores come back after every update (a UPN an update frees can be the one a user is restored under) and
  // before the creates (which can take the UPN a restore's own update gives up).
  const RANK = [
    'delete-users',
    'update',
    'update-taking',
    'restore',
    'create',
    'references',
    'members',
    'delete-groups',
  ];
  const ownRank = (c: Change, all: readonly Change[]): number => {
    if (c.action === 'delete') return c.kind === 'user' ? 0 : 7;
    if (c.action === 'add-members' || c.action === 'remove-members') return 6;
    if (c.action === 'restore') return 3;
    if (c.action !== 'update') return 4;
    const freed = new Set(
      all.flatMap((o) =>
        o.action === 'update'
          ? o.attributes.filter((a) => a.name === 'userPrincipalName').map((a) => String(a.before).toLowerCase())
          : [],
      ),
    );
    return c.attributes.some((a) => a.name === 'userPrincipalName' && freed.has(String(a.after).toLowerCase())) ? 2 : 1;
  };

  it('property: every change is finished once, at its own step, and the steps never go back (seeded)', async () => {
    const upn = fc.constantFrom('a@x', 'b@x', 'c@x');
    const change = fc.oneof(
      fc.boolean().map((m) => ch.create('c', m)),
      fc.option(fc.tuple(upn, upn), { nil: undefined }).map((u) => ch.update('u', u)),
      fc.constantFrom<'user' | 'group'>('user', 'group').map((k) => ch.delete('d', k)),
      fc.constant(ch.add('g')),
      fc.constant(ch.remove('g')),
      fc.constant(ch.restore('r')),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(change, { maxLength: 25 }), fc.integer({ min: 1, max: 4 }), async (raw, width) => {
        const changes = raw.map((c, i) => ({ ...c, label: `${c.label}${i}` }));
        const calls: Call[] = [];
        const result = await applyPlan(
          { entra: recorder('entra', calls, width) },
          { target: { system: 'entra' }, changes },
        );
        assert.equal(result.applied, changes.length);
        const ranks = calls.map((c) => RANK.indexOf(c.step));
        for (let i = 1; i < ranks.length; i++) assert.ok(ranks[i - 1]! <= ranks[i]!, 'steps go forward');
        for (const c of changes) {
          const own = calls.filter((k) => k.label === c.label && k.step !== 'references');
          assert.deepEqual(
            own.map((k) => RANK.indexOf(k.step)),
            [ownRank(c, changes)],
            c.label,
          );
        }
      }),
      { seed: 20261202, numRuns: 200 },
    );
  });
});
