/** planFor (src/engine/plan.ts): the stages composed; explain is its plan filtered to one object. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDesired } from '../../src/engine/desired.js';
import { explainObject } from '../../src/engine/explain.js';
import { compileFlows } from '../../src/engine/flows.js';
import { planFor } from '../../src/engine/plan.js';
import { objectDigest } from '../../src/engine/stages/observed.js';
import type { TargetSnapshot } from '../../src/model/target.js';
import { anchorOf, emptyTarget, snapshot, spec, user } from '../support/fixtures.js';

const MARK = 'extension_app_adsyncDeleteAfter';
const s = { ...spec(), safety: { maxDeletes: 500, deleteMode: 'disable-first' as const, deleteGraceDays: 7 } };
const flows = compileFlows(s);
const sources = [snapshot([user('Alice Smith')])];
// Bob is owned in the tenant and gone from AD: disable-first disables him.
const target: TargetSnapshot = emptyTarget([
  {
    id: 'bob-id',
    kind: 'user',
    anchor: anchorOf('Bob Jones'),
    attrs: { userPrincipalName: 'bob.jones@contoso.example', accountEnabled: true },
  },
]);

const run = (recordMatches = false) =>
  planFor({
    spec: s,
    specPath: 'adsync.yaml',
    desired: buildDesired(s, sources, flows),
    target,
    toolVersion: 'test',
    now: new Date('2026-01-10T00:00:00.000Z'),
    deleteMark: MARK,
    recordMatches,
  });

describe('planFor', () => {
  it('runs delete mode, stamps observed digests, sorts and summarizes', () => {
    const { plan } = run();
    assert.deepEqual(
      plan.changes.map((c) => `${c.action} ${c.label}`),
      ['create alice.smith@contoso.example', 'update bob.jones@contoso.example'],
    );
    assert.equal(plan.changes[1]!.observed, objectDigest(target.objects[0]!));
    assert.equal(plan.changes[0]!.observed, objectDigest(null));
    assert.equal(plan.summary.create, 1);
    assert.equal(plan.summary.update, 1);
    assert.equal(plan.summary.delete, 0);
  });

  it('explain with the plan filtered to one object says what the plan says', () => {
    const planned = run(true);
    const e = explainObject({ spec: s, flows, sources, planned, query: 'alice.smith@contoso.example' });
    assert.ok(e.found);
    assert.deepEqual(
      e.changes,
      planned.plan.changes.filter((c) => c.anchor === anchorOf('Alice Smith')),
    );
    assert.equal(e.match?.rule, 'none');
  });

  it('the same inputs give the same plan (no state kept between runs)', () => {
    assert.deepEqual(run().plan, run().plan);
  });
});
