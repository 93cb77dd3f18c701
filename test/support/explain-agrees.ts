/**
 * `adsync explain` must say what `adsync plan` says, object by object: both are planFor(), explain filtered to
 * one object. Runs the CLI: one plan, then one explain per object the plan changes or reports on (with
 * `members`, also per member a membership change names).
 */
import assert from 'node:assert/strict';
import type { Change, ReportItem } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { runCli } from './cli.js';

/** Timestamps (the disable-first mark's date) move between two runs; ids and digests don't. */
const stable = (v: unknown): unknown => JSON.parse(JSON.stringify(v).replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'TIME'));

export interface ExplainJson {
  found: boolean;
  object?: { kind: string; dn: string; source: string; anchor?: string };
  writeback?: { id: string; label: string; dn?: string; rules: string[] };
  changes: Change[];
  reports: ReportItem[];
}

/** Explains every object of the plan and asserts the same changes and report items; returns the plan. */
export async function assertExplainAgrees(
  spec: string,
  options: {
    env?: NodeJS.ProcessEnv;
    /** Every object must be found by explain (no object of the plan has left the sources). */
    requireFound?: boolean;
    /** Explain the members that add-members and remove-members name, too. */
    members?: boolean;
  } = {},
): Promise<{ plan: Plan; explained: Map<string, ExplainJson> }> {
  const env = options.env ?? {};
  const p = await runCli(['plan', '-c', spec, '--format', 'json'], { env });
  assert.equal(p.code, 0, p.stderr);
  const plan = JSON.parse(p.stdout) as Plan;
  const anchors = new Set<string>();
  for (const c of plan.changes) {
    anchors.add(c.anchor);
    if (options.members === true && (c.action === 'add-members' || c.action === 'remove-members'))
      for (const m of c.members) anchors.add(m.anchor);
  }
  for (const r of plan.reports) if (r.anchor !== undefined) anchors.add(r.anchor);
  assert.ok(anchors.size > 0, 'the plan has no object to explain');
  const explained = new Map<string, ExplainJson>();
  for (const anchor of [...anchors].sort()) {
    const e = await runCli(['explain', '-c', spec, anchor, '--json'], { env });
    const planned = plan.changes.filter((c) => c.anchor === anchor);
    const reported = plan.reports.filter((r) => r.anchor === anchor);
    if (e.code !== 0) {
      assert.ok(options.requireFound !== true, `explain can't find ${anchor}: ${e.stderr}${e.stdout}`);
      // Not in the sources any more: only its delete (or its mark) can be planned for it.
      assert.ok(
        planned.every((c) => c.action === 'delete' || c.action === 'update' || c.action === 'remove-members'),
        `explain can't find ${anchor} (${e.stderr}${e.stdout}), but the plan has ${JSON.stringify(planned)}`,
      );
      continue;
    }
    const result = JSON.parse(e.stdout) as ExplainJson;
    explained.set(anchor, result);
    assert.deepEqual(stable(result.changes), stable(planned), `explain and plan disagree on the changes of ${anchor}`);
    assert.deepEqual(stable(result.reports), stable(reported), `explain and plan disagree on the reports of ${anchor}`);
  }
  return { plan, explained };
}
