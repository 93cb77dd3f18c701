/** Shared checks of the parity table: given the plan of the cases, one assertion per case. */
import assert from 'node:assert/strict';
import type { DesiredState } from '../../src/engine/desired.js';
import { isObjectRef } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import type { ParityCase } from './cases.js';

export interface CaseContext {
  /** cn → anchor, as the source reported it. */
  anchors: Map<string, string>;
  managerCn: string;
}

export function checkCase(c: ParityCase, plan: Plan, desired: DesiredState, ctx: CaseContext): void {
  const anchor = ctx.anchors.get(c.cn);
  assert.ok(anchor, `${c.row}: the source has no object ${JSON.stringify(c.cn)}`);
  const expect = c.expect;
  if ('excluded' in expect) {
    const ex = desired.excluded.get(anchor);
    assert.equal(ex?.code, expect.excluded, `${c.row}: expected exclusion ${expect.excluded}, got ${ex ? `${ex.code} (${ex.reason})` : 'included'}`);
    assert.ok(ex.reason.length > 0, `${c.row}: an exclusion says why`);
    assert.ok(!plan.changes.some((ch) => ch.anchor === anchor), `${c.row}: no change for an excluded object`);
    return;
  }
  if ('report' in expect) {
    const r = plan.reports.find((x) => x.anchor === anchor);
    assert.equal(r?.code, expect.report, `${c.row}: expected report ${expect.report}, got ${r?.code ?? 'none'}`);
    assert.ok(!plan.changes.some((ch) => ch.anchor === anchor && ch.action === 'create'), `${c.row}: a read-only object is not created`);
    return;
  }
  const create = plan.changes.find((ch) => ch.anchor === anchor && ch.action === 'create');
  assert.ok(create && create.action === 'create', `${c.row}: expected a create, got ${JSON.stringify(plan.changes.filter((ch) => ch.anchor === anchor).map((ch) => ch.action))} ${JSON.stringify(plan.reports.filter((r) => r.anchor === anchor))}`);
  const got = Object.fromEntries(create.attributes.map((a) => [a.name, a.after]));
  for (const [name, want] of Object.entries(expect.values)) {
    let value = got[name];
    let expected = want;
    if (want === '@anchor') expected = anchor;
    if (want === '@manager') {
      expected = ctx.anchors.get(ctx.managerCn);
      value = isObjectRef(value) ? value.anchor : value;
    }
    assert.deepEqual(value, expected, `${c.row}: ${name}`);
  }
}
