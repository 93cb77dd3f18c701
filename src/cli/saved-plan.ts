/**
 * Saved plans: apply runs exactly what was reviewed. A saved plan is refused when the spec changed since,
 * or when a fresh plan made now would differ (the directories moved on): the objects that differ are named.
 */
import { readFile } from 'node:fs/promises';
import { AdsyncError } from '../errors.js';
import type { Change } from '../model/change.js';
import type { Plan } from '../model/plan.js';

export async function readSavedPlan(path: string): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AdsyncError('plan_unreadable', `cannot read the saved plan ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: 'make one with `adsync plan --out PLAN.json`',
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new AdsyncError('plan_invalid', `${path} is not a saved adsync plan: ${(err as Error).message}`, { hint: 'make one with `adsync plan --out PLAN.json`' });
  }
  const plan = data as Partial<Plan>;
  if (typeof plan !== 'object' || plan === null || plan.formatVersion !== 1 || !Array.isArray(plan.changes) || !plan.spec || typeof plan.spec.digest !== 'string') {
    throw new AdsyncError('plan_invalid', `${path} is not a saved adsync plan (formatVersion 1)`, { hint: 'make one with `adsync plan --out PLAN.json`' });
  }
  return plan as Plan;
}

const key = (c: Change) => `${c.action} ${c.kind} ${c.anchor}`;

/** Throws a stale-plan error naming what differs between the saved plan and a fresh one. */
export function assertNotStale(saved: Plan, fresh: Plan, specDigest: string, path: string): void {
  if (saved.spec.digest !== specDigest) {
    throw new AdsyncError('plan_stale', `the saved plan ${path} was made from a different version of the spec`, {
      hint: 'run `adsync plan --out` again and review the new plan',
    });
  }
  const before = new Map(saved.changes.map((c) => [key(c), JSON.stringify(c)]));
  const after = new Map(fresh.changes.map((c) => [key(c), JSON.stringify(c)]));
  const differing: string[] = [];
  for (const [k, v] of before) if (after.get(k) !== v) differing.push(labelOf(saved.changes, k));
  for (const k of after.keys()) if (!before.has(k)) differing.push(labelOf(fresh.changes, k));
  if (differing.length > 0) {
    const shown = [...new Set(differing)].sort();
    const list = shown.slice(0, 10).join(', ') + (shown.length > 10 ? `, and ${shown.length - 10} more` : '');
    throw new AdsyncError('plan_stale', `the saved plan ${path} is stale: ${shown.length} object(s) changed since it was made: ${list}`, {
      hint: 'run `adsync plan --out` again and review the new plan',
    });
  }
}

function labelOf(changes: Change[], k: string): string {
  const c = changes.find((x) => key(x) === k);
  return c ? `${c.kind} ${c.label}` : k;
}
