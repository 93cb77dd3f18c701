/**
 * Shared checks of the parity table: given the plan of the cases, one assertion per case. Every runner (LDIF,
 * Samba AD) registers the same tests through `describeParityTable`, so they check exactly the same things.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DesiredState } from '../../src/engine/desired.js';
import { isObjectRef } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { FILTER_CASES, FLOW_CASES, type ParityCase } from './cases.js';

export interface CaseContext {
  /** cn → anchor, as the source reported it. */
  anchors: Map<string, string>;
  managerCn: string;
  /** The DNS name of the source's domain (what `{domain}` in expected values stands for). */
  domain: string;
}

/** What a runner hands over: the plan of every case it seeded, into an empty tenant. */
export interface ParityRun extends CaseContext {
  plan: Plan;
  desired: DesiredState;
}

/**
 * Registers the table: one test per filter and flow case, and the summary check. `setup` seeds the cases and
 * plans them (in `before`); `skipCase` says why a case can't be seeded in this runner's directory.
 */
export function describeParityTable(
  name: string,
  opts: {
    skip?: string | false;
    setup: () => Promise<ParityRun>;
    teardown?: () => Promise<void>;
    skipCase?: (c: ParityCase) => string | undefined;
  },
): void {
  describe(name, { skip: opts.skip ?? false }, () => {
    let run: ParityRun;
    before(async () => {
      run = await opts.setup();
    });
    after(async () => {
      await opts.teardown?.();
    });
    const test = (label: string, c: ParityCase) => {
      const skip = opts.skipCase?.(c);
      it(label, skip ? { skip } : {}, () => checkCase(c, run.plan, run.desired, run));
    };
    for (const c of FILTER_CASES) test(`filter — ${c.row}`, c);
    for (const c of FLOW_CASES) test(`flow — ${c.row}`, c);
    it('every read-only object is counted in the summary as a report item', () => {
      assert.equal(run.plan.summary.reports, run.plan.reports.length);
      assert.ok(run.plan.reports.filter((r) => r.code.startsWith('graph-readonly-')).length >= 4);
    });
  });
}

export function checkCase(c: ParityCase, plan: Plan, desired: DesiredState, ctx: CaseContext): void {
  const anchor = ctx.anchors.get(c.cn);
  assert.ok(anchor, `${c.row}: the source has no object ${JSON.stringify(c.cn)}`);
  const expect = c.expect;
  if ('excluded' in expect) {
    const ex = desired.excluded.get(anchor);
    assert.equal(
      ex?.code,
      expect.excluded,
      `${c.row}: expected exclusion ${expect.excluded}, got ${ex ? `${ex.code} (${ex.reason})` : 'included'}`,
    );
    assert.ok(ex.reason.length > 0, `${c.row}: an exclusion says why`);
    assert.ok(!plan.changes.some((ch) => ch.anchor === anchor), `${c.row}: no change for an excluded object`);
    return;
  }
  if ('report' in expect) {
    const r = plan.reports.find((x) => x.anchor === anchor);
    assert.equal(r?.code, expect.report, `${c.row}: expected report ${expect.report}, got ${r?.code ?? 'none'}`);
    assert.ok(
      !plan.changes.some((ch) => ch.anchor === anchor && ch.action === 'create'),
      `${c.row}: a read-only object is not created`,
    );
    return;
  }
  const create = plan.changes.find((ch) => ch.anchor === anchor && ch.action === 'create');
  assert.ok(
    create && create.action === 'create',
    `${c.row}: expected a create, got ${JSON.stringify(plan.changes.filter((ch) => ch.anchor === anchor).map((ch) => ch.action))} ${JSON.stringify(plan.reports.filter((r) => r.anchor === anchor))}`,
  );
  const got = Object.fromEntries(create.attributes.map((a) => [a.name, a.after]));
  for (const [name, want] of Object.entries(expect.values)) {
    let value = got[name];
    let expected = typeof want === 'string' ? want.replaceAll('{domain}', ctx.domain) : want;
    if (want === '@anchor') expected = anchor;
    if (want === '@manager') {
      expected = ctx.anchors.get(ctx.managerCn);
      value = isObjectRef(value) ? value.anchor : value;
    }
    assert.deepEqual(value, expected, `${c.row}: ${name}`);
  }
}
