/**
 * Guard rails (issue 6): a plan over the delete or update thresholds stops apply before any write unless
 * --force, saying what tripped and how many; an OU rename or a scope-filter typo that would delete 60% of
 * the managed objects writes nothing. Two-step deletes: disable and mark first, delete after the grace period.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  applyDeleteMode,
  checkSafety,
  countDeletes,
  DISABLE_FIRST_RULE,
  pendingDeleteProperty,
} from '../../src/engine/safety.js';
import type { Change } from '../../src/model/change.js';
import { summarize, type Plan } from '../../src/model/plan.js';
import type { TargetSnapshot } from '../../src/model/target.js';
import {
  DEFAULT_DELETE_GRACE_DAYS,
  DEFAULT_MAX_DELETE_PERCENT,
  DEFAULT_MAX_MEMBER_REMOVAL_PERCENT,
  DEFAULT_MAX_MEMBER_REMOVALS,
} from '../../src/spec/normalize.js';
import type { SafetySpec } from '../../src/spec/types.js';
import { canonicalSnapshot, smallLdif, startTenant, type Tenant } from '../support/tenant.js';

const SAFETY: SafetySpec = { maxDeletes: 500, deleteMode: 'delete', deleteGraceDays: 7 };

function planOf(changes: Change[], managed: number): Plan {
  return {
    formatVersion: 1,
    tool: { name: 'adsync', version: 'test' },
    createdAt: new Date(0).toISOString(),
    spec: { path: 's', digest: 'd' },
    target: { system: 'entra' },
    changes,
    reports: [],
    summary: summarize(changes, []),
    managed,
  };
}
const del = (n: number): Change => ({
  action: 'delete',
  kind: 'user',
  anchor: `a${n}`,
  target: 'entra',
  label: `u${n}@x`,
  rule: 'ownership',
  id: `id${n}`,
  reason: 'no longer in the source',
});
const upd = (n: number): Change => ({
  action: 'update',
  kind: 'user',
  anchor: `b${n}`,
  target: 'entra',
  label: `v${n}@x`,
  rule: 'r',
  id: `jd${n}`,
  attributes: [{ name: 'jobTitle', after: 'x', flow: 'f' }],
});
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('checkSafety', () => {
  it('trips on the count, the percentage and updates, saying how many', () => {
    assert.deepEqual(
      checkSafety(planOf(range(500).map(del), 5000), SAFETY),
      [],
      'exactly the default limit is allowed',
    );
    const over = checkSafety(planOf(range(501).map(del), 5000), SAFETY);
    assert.deepEqual(
      over.map((v) => v.code),
      ['too-many-deletes'],
    );
    assert.equal(over[0]!.message, 'the plan deletes 501 objects, over safety.maxDeletes (500)');
    const pct = checkSafety(planOf(range(6).map(del), 10), { ...SAFETY, maxDeletePercent: 25 });
    assert.deepEqual(
      pct.map((v) => v.message),
      ['the plan deletes 6 of 10 managed objects (60.0%), over safety.maxDeletePercent (25%)'],
    );
    const updates = checkSafety(planOf(range(11).map(upd), 100), { ...SAFETY, maxUpdates: 10 });
    assert.deepEqual(
      updates.map((v) => v.message),
      ['the plan updates 11 objects, over safety.maxUpdates (10)'],
    );
  });

  it('counts membership removals against their count and the managed memberships read now', () => {
    const remove = (n: number): Change => ({
      action: 'remove-members',
      kind: 'group',
      anchor: `g${n}`,
      target: 'entra',
      label: `G${n}`,
      rule: 'r',
      id: `gid${n}`,
      members: range(n).map((i) => ({ kind: 'user' as const, anchor: `m${i}`, label: `m${i}`, id: `mid${i}` })),
    });
    const rails: SafetySpec = { ...SAFETY, maxMemberRemovals: 5, maxMemberRemovalPercent: 50 };
    assert.deepEqual(
      checkSafety(planOf([remove(5)], 10), rails, { managedMembers: 10 }),
      [],
      'exactly the limits are allowed',
    );
    assert.deepEqual(
      checkSafety(planOf([remove(6), remove(1)], 10), rails, { managedMembers: 100 }).map((v) => v.message),
      ['the plan removes 7 group memberships, over safety.maxMemberRemovals (5)'],
    );
    assert.deepEqual(
      checkSafety(planOf([remove(3)], 10), rails, { managedMembers: 5 }).map((v) => v.message),
      ['the plan removes 3 of 5 managed group memberships (60.0%), over safety.maxMemberRemovalPercent (50%)'],
    );
  });

  it('counts disable-first disables as deletes, not as updates', () => {
    const disable: Change = { ...(upd(1) as Extract<Change, { action: 'update' }>), rule: DISABLE_FIRST_RULE };
    const plan = planOf([disable, del(2)], 4);
    assert.equal(countDeletes(plan), 2);
    const v = checkSafety(plan, { ...SAFETY, maxDeletes: 1, maxUpdates: 0 });
    assert.deepEqual(
      v.map((x) => x.message),
      ['the plan deletes or disables (disable-first) 2 objects, over safety.maxDeletes (1)'],
    );
  });

  it('the schema documents the grace period default that normalization applies', async () => {
    const schema = JSON.parse(
      await readFile(new URL('../../../schemas/adsync.schema.json', import.meta.url), 'utf8'),
    ) as { properties: { safety: { properties: Record<string, { default?: unknown }> } } };
    assert.equal(schema.properties.safety.properties['deleteGraceDays']!.default, DEFAULT_DELETE_GRACE_DAYS);
    assert.equal(schema.properties.safety.properties['deleteMode']!.default, 'delete');
    // Issue 17: the percentage rail is on by default, and memberships have rails of their own.
    assert.equal(schema.properties.safety.properties['maxDeletePercent']!.default, DEFAULT_MAX_DELETE_PERCENT);
    assert.equal(schema.properties.safety.properties['maxMemberRemovals']!.default, DEFAULT_MAX_MEMBER_REMOVALS);
    assert.equal(
      schema.properties.safety.properties['maxMemberRemovalPercent']!.default,
      DEFAULT_MAX_MEMBER_REMOVAL_PERCENT,
    );
    assert.equal(schema.properties.safety.properties['allowEmptySource']!.default, false);
  });
});

describe('applyDeleteMode (pure)', () => {
  const mark = pendingDeleteProperty('extension_0123456789abcdef0123456789abcdef_adsyncAnchor')!;
  const now = new Date('2026-01-10T00:00:00.000Z');
  const snapshot = (attrs: Record<string, unknown>): TargetSnapshot => ({
    system: 'entra',
    deleted: [],
    objects: [
      { id: 'id1', kind: 'user', anchor: 'a1', attrs: { userPrincipalName: 'u1@x', accountEnabled: true, ...attrs } },
    ],
  });
  const mode: SafetySpec = { ...SAFETY, deleteMode: 'disable-first', deleteGraceDays: 7 };

  it('turns a first delete into a disable plus mark', () => {
    const p = applyDeleteMode(planOf([del(1)], 1), snapshot({ [mark]: null }), mode, mark, now);
    assert.equal(mark, 'extension_0123456789abcdef0123456789abcdef_adsyncDeleteAfter');
    assert.equal(p.changes.length, 1);
    const c = p.changes[0]!;
    assert.ok(c.action === 'update');
    assert.equal(c.rule, DISABLE_FIRST_RULE);
    assert.deepEqual(
      c.attributes.map((a) => [a.name, a.after]),
      [
        ['accountEnabled', false],
        [mark, '2026-01-17T00:00:00.000Z'],
      ],
    );
    assert.equal(p.summary.delete, 0);
  });

  it('reports a marked object within its grace period, deletes it after', () => {
    const within = applyDeleteMode(
      planOf([del(1)], 1),
      snapshot({ accountEnabled: false, [mark]: '2026-01-12T00:00:00.000Z' }),
      mode,
      mark,
      now,
    );
    assert.deepEqual(within.changes, []);
    assert.deepEqual(
      within.reports.map((r) => r.code),
      ['pending-delete'],
    );
    const afterGrace = applyDeleteMode(
      planOf([del(1)], 1),
      snapshot({ accountEnabled: false, [mark]: '2026-01-09T00:00:00.000Z' }),
      mode,
      mark,
      now,
    );
    assert.deepEqual(
      afterGrace.changes.map((c) => c.action),
      ['delete'],
    );
  });

  it('clears the mark of an object that came back', () => {
    const p = applyDeleteMode(planOf([], 1), snapshot({ [mark]: '2026-01-12T00:00:00.000Z' }), mode, mark, now);
    assert.deepEqual(
      p.changes.map((c) => c.action === 'update' && c.attributes.map((a) => [a.name, a.after ?? null])),
      [[[mark, null]]],
    );
  });

  it('leaves plans alone in the default mode', () => {
    const plan = planOf([del(1)], 1);
    assert.equal(applyDeleteMode(plan, snapshot({}), SAFETY, mark, now), plan);
  });
});

describe('guard rails end to end (CLI against a tenant)', () => {
  let dir: string;
  let t: Tenant;
  // 12 users (9 in Sales, in OU=Staff) and 3 groups: 15 managed objects, of which Sales is 60%.
  const users = [
    ...range(9).map((i) => ({ cn: `Sales Person ${i}`, ou: 'Staff', department: 'Sales' })),
    ...range(3).map((i) => ({ cn: `Engineer ${i}`, ou: 'Contractors', department: 'Engineering' })),
  ];
  const groups = [
    { cn: 'Sales', members: users.slice(0, 9).map((u) => u.cn) },
    { cn: 'Engineering', members: users.slice(9).map((u) => u.cn) },
    { cn: 'Everyone', members: users.map((u) => u.cn) },
  ];
  const scope = (filter: string) => `ous:
  include: ["OU=Staff,DC=corp,DC=example", "OU=Contractors,DC=corp,DC=example", "OU=Groups,DC=corp,DC=example"]
filter: "${filter}"`;
  const FILTER = '(|(objectClass=group)(department=Sales)(department=Engineering))';
  const SAFETY_YAML = 'safety:\n  maxDeletePercent: 25\n';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-guard-'));
    t = await startTenant(dir);
    await writeFile(join(dir, 'corp.ldif'), smallLdif(users, groups));
    await t.writeSpec({ ldif: 'corp.ldif', scope: scope(FILTER), extra: SAFETY_YAML });
    const applied = await t.cli(['apply', '-c', t.spec, '--auto-approve']);
    assert.equal(applied.code, 0, applied.stderr);
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function expectStoppedWithNoWrite(expected: RegExp): Promise<void> {
    const before = canonicalSnapshot(await t.read());
    const plan = await t.cli(['plan', '-c', t.spec, '--format', 'json']);
    assert.equal(plan.code, 0, plan.stderr);
    const p = JSON.parse(plan.stdout) as Plan;
    assert.equal(p.summary.delete, 9);
    assert.equal(p.managed, 15);
    for (const args of [
      ['apply', '-c', t.spec, '--auto-approve'],
      ['apply', '-c', t.spec, '--auto-approve', '--log-format', 'json'],
    ]) {
      const r = await t.cli(args);
      assert.equal(r.code, 1, r.stdout);
      if (args.includes('json')) {
        // JSON logs: the error is a JSON line too (code and hint), like every other line on stderr.
        const error = r.stderr
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, string>)
          .find((l) => l['event'] === 'error');
        assert.equal(error?.['code'], 'safety_threshold');
        assert.match(`Error: ${error?.['msg']}\nHint: ${error?.['hint']}`, expected);
      } else {
        assert.match(r.stderr, expected);
      }
      assert.doesNotMatch(r.stdout, /Apply complete/);
    }
    const saved = join(dir, 'big.json');
    assert.equal((await t.cli(['plan', '-c', t.spec, '--out', saved])).code, 0);
    const r = await t.cli(['apply', '-c', t.spec, saved]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, expected);
    assert.equal(canonicalSnapshot(await t.read()), before, 'the tenant is exactly as it was: no write');
  }

  it('a scope-filter typo that would delete 60% of the managed objects stops apply with no write', async () => {
    await t.writeSpec({
      ldif: 'corp.ldif',
      scope: scope(FILTER.replace('department=Sales', 'department=Slaes')),
      extra: SAFETY_YAML,
    });
    await expectStoppedWithNoWrite(
      /Error: apply stopped before any write: the plan deletes 9 of 15 managed objects \(60\.0%\), over safety\.maxDeletePercent \(25%\)\nHint: .*--force/,
    );
  });

  it('an OU rename does the same, and the count threshold names its number', async () => {
    await t.writeSpec({
      ldif: 'corp.ldif',
      scope: scope(FILTER),
      extra: 'safety:\n  maxDeletes: 5\n  maxDeletePercent: 25\n',
    });
    const original = await readFile(join(dir, 'corp.ldif'), 'utf8');
    await writeFile(join(dir, 'corp.ldif'), original.replaceAll(',OU=Staff,', ',OU=Employees,'));
    await expectStoppedWithNoWrite(
      /the plan deletes 9 objects, over safety\.maxDeletes \(5\); the plan deletes 9 of 15 managed objects \(60\.0%\)/,
    );
    await writeFile(join(dir, 'corp.ldif'), original);
  });

  it('--force acknowledges it and applies', async () => {
    await t.writeSpec({
      ldif: 'corp.ldif',
      scope: scope(FILTER.replace('department=Sales', 'department=Slaes')),
      extra: SAFETY_YAML,
    });
    const r = await t.cli(['apply', '-c', t.spec, '--auto-approve', '--force']);
    assert.equal(r.code, 0, r.stderr);
    const owned = (await t.read()).objects.filter((o) => o.anchor !== undefined);
    assert.equal(owned.length, 6);
    // back as it was
    await t.writeSpec({ ldif: 'corp.ldif', scope: scope(FILTER), extra: SAFETY_YAML });
    assert.equal((await t.cli(['apply', '-c', t.spec, '--auto-approve'])).code, 0);
  });

  it('disable-first: the first apply disables and marks, a later one (after the grace period) deletes', async () => {
    const ldif = await readFile(join(dir, 'corp.ldif'), 'utf8');
    await writeFile(join(dir, 'corp.ldif'), ldif.replace(/dn: CN=Engineer 2,[\s\S]*?\n\n/, ''));
    const disableFirst = (days: number) =>
      t.writeSpec({
        ldif: 'corp.ldif',
        scope: scope(FILTER),
        extra: `safety:\n  deleteMode: disable-first\n  deleteGraceDays: ${days}\n`,
      });
    const engineer2 = async () =>
      (await t.read()).objects.find(
        (o) => o.kind === 'user' && o.attrs['userPrincipalName'] === 'engineer.2@corp.example',
      );
    await disableFirst(7);
    const p1 = JSON.parse((await t.cli(['plan', '-c', t.spec, '--format', 'json'])).stdout) as Plan;
    assert.deepEqual(
      p1.changes.map((c) => `${c.action} ${c.label} ${c.rule}`),
      [`update engineer.2@corp.example ${DISABLE_FIRST_RULE}`],
    );
    assert.equal((await t.cli(['apply', '-c', t.spec, '--auto-approve'])).code, 0);
    const disabled = await engineer2();
    assert.equal(disabled?.attrs['accountEnabled'], false, 'disabled, not deleted');
    // within the grace period: nothing to do, and the plan says when it goes
    const p2 = JSON.parse((await t.cli(['plan', '-c', t.spec, '--format', 'json'])).stdout) as Plan;
    assert.deepEqual(p2.changes, []);
    assert.match(
      p2.reports.find((r) => r.code === 'pending-delete')?.reason ?? '',
      /disabled by adsync, deleted by the first apply after \d{4}-/,
    );
    // grace period over (a zero-day grace stands in for the passing days)
    await disableFirst(0);
    const p3 = JSON.parse((await t.cli(['plan', '-c', t.spec, '--format', 'json'])).stdout) as Plan;
    // the mark says "after 7 days", so it still waits: the grace period is fixed when the object is marked
    assert.deepEqual(p3.changes, []);
    // a fresh mark with a zero-day grace: put the user back (mark cleared), then remove again
    await writeFile(join(dir, 'corp.ldif'), ldif);
    const back = JSON.parse((await t.cli(['plan', '-c', t.spec, '--format', 'json'])).stdout) as Plan;
    assert.deepEqual(
      back.changes.map(
        (c) =>
          c.action === 'update' &&
          c.attributes.map((a) => `${a.name.replace(/^extension_\w+_/, '')}=${JSON.stringify(a.after ?? null)}`).sort(),
      ),
      [['accountEnabled=true', 'adsyncDeleteAfter=null']],
    );
    assert.equal((await t.cli(['apply', '-c', t.spec, '--auto-approve'])).code, 0);
    assert.equal((await engineer2())?.attrs['accountEnabled'], true);
    await writeFile(join(dir, 'corp.ldif'), ldif.replace(/dn: CN=Engineer 2,[\s\S]*?\n\n/, ''));
    assert.equal((await t.cli(['apply', '-c', t.spec, '--auto-approve'])).code, 0);
    assert.equal((await engineer2())?.attrs['accountEnabled'], false);
    const p4 = JSON.parse((await t.cli(['plan', '-c', t.spec, '--format', 'json'])).stdout) as Plan;
    assert.deepEqual(
      p4.changes.map((c) => `${c.action} ${c.label}`),
      ['delete engineer.2@corp.example'],
    );
    assert.equal((await t.cli(['apply', '-c', t.spec, '--auto-approve'])).code, 0);
    assert.equal(await engineer2(), undefined, 'deleted');
  });
});
