/** Stage: guard rails (src/engine/stages/safety.ts), on plain data; and planFor carries its verdict. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDesired } from '../../src/engine/desired.js';
import { compileFlows } from '../../src/engine/flows.js';
import { planFor } from '../../src/engine/plan.js';
import { assertSafe, safetyStage, UnsafePlanError } from '../../src/engine/stages/safety.js';
import type { Change } from '../../src/model/change.js';
import { summarize } from '../../src/model/plan.js';
import { anchorOf, emptyTarget, snapshot, spec, user } from '../support/fixtures.js';

const del = (i: number): Change => ({
  action: 'delete',
  kind: 'user',
  anchor: `a${i}`,
  target: 'entra',
  label: `u${i}@x`,
  id: `id${i}`,
  rule: 'sources.corp.scope',
  reason: 'out of scope',
});
const planOf = (changes: Change[], managed: number) => ({ changes, summary: summarize(changes, []), managed });
const RAILS = { maxDeletes: 2, deleteMode: 'delete' as const, deleteGraceDays: 7 };

describe('stage: guard rails', () => {
  it('no safety section: no verdict', () => {
    assert.deepEqual(safetyStage(planOf([del(1), del(2), del(3)], 3), undefined, undefined), []);
  });

  it('over maxDeletes: one violation saying by how much; at the limit: none', () => {
    assert.deepEqual(safetyStage(planOf([del(1), del(2)], 10), RAILS, undefined), []);
    assert.deepEqual(
      safetyStage(planOf([del(1), del(2), del(3)], 10), RAILS, undefined).map((v) => v.code),
      ['too-many-deletes'],
    );
  });

  it('the membership percentage needs the managed memberships counted from the snapshot', () => {
    const remove: Change = {
      action: 'remove-members',
      kind: 'group',
      anchor: 'g',
      target: 'entra',
      label: 'G',
      id: 'gid',
      rule: 'r',
      members: [
        { id: 'm1', label: 'm1' },
        { id: 'm2', label: 'm2' },
      ],
    } as Change;
    const rails = { ...RAILS, maxMemberRemovalPercent: 10 };
    assert.deepEqual(safetyStage(planOf([remove], 1), rails, undefined), []);
    assert.deepEqual(
      safetyStage(planOf([remove], 1), rails, 4).map((v) => v.code),
      ['too-many-member-removal-percent'],
    );
  });

  it('assertSafe raises UnsafePlanError (safety_threshold, exit 1, the --force hint) unless forced', () => {
    const violations = safetyStage(planOf([del(1), del(2), del(3)], 10), RAILS, undefined);
    assert.throws(
      () => assertSafe(violations, false),
      (e: unknown) =>
        e instanceof UnsafePlanError &&
        e.code === 'safety_threshold' &&
        e.exitCode === 1 &&
        /--force/.test(e.hint ?? '') &&
        e.message === 'apply stopped before any write: the plan deletes 3 objects, over safety.maxDeletes (2)' &&
        e.violations === violations,
    );
    assert.doesNotThrow(() => assertSafe(violations, true));
    assert.doesNotThrow(() => assertSafe([], false));
  });

  it('planFor carries the verdict of the plan it made', () => {
    const s = { ...spec(), safety: { ...RAILS, maxDeletes: 0 } };
    const target = emptyTarget([
      { id: 'bob-id', kind: 'user', anchor: anchorOf('Bob Jones'), attrs: { userPrincipalName: 'bob@x' } },
    ]);
    const run = (safety: typeof s.safety) =>
      planFor({
        spec: { ...s, safety },
        specPath: 'adsync.yaml',
        desired: buildDesired(s, [snapshot([user('Alice Smith')])], compileFlows(s)),
        target,
        toolVersion: 'test',
        now: new Date('2026-01-10T00:00:00.000Z'),
      });
    assert.deepEqual(
      run(s.safety).violations.map((v) => v.message),
      ['the plan deletes 1 objects, over safety.maxDeletes (0)'],
    );
    assert.deepEqual(run({ ...s.safety, maxDeletes: 1 }).violations, []);
  });
});
