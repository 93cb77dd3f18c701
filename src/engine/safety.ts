/**
 * Guard rails: a plan that deletes or updates more than the spec allows stops apply before any write,
 * unless the operator acknowledges it with --force. Entra Connect's default is 500 deletes per export.
 */
import type { Plan } from '../model/plan.js';
import type { SafetySpec } from '../spec/types.js';

export interface SafetyViolation {
  code: 'too-many-deletes' | 'too-many-delete-percent' | 'too-many-updates';
  message: string;
}

export function checkSafety(plan: Pick<Plan, 'summary' | 'managed'>, safety: SafetySpec): SafetyViolation[] {
  const out: SafetyViolation[] = [];
  const { delete: deletes, update: updates } = plan.summary;
  if (deletes > safety.maxDeletes) {
    out.push({ code: 'too-many-deletes', message: `the plan deletes ${deletes} objects, over safety.maxDeletes (${safety.maxDeletes})` });
  }
  if (safety.maxDeletePercent !== undefined && plan.managed > 0) {
    const pct = (deletes / plan.managed) * 100;
    if (pct > safety.maxDeletePercent) {
      out.push({ code: 'too-many-delete-percent', message: `the plan deletes ${deletes} of ${plan.managed} managed objects (${pct.toFixed(1)}%), over safety.maxDeletePercent (${safety.maxDeletePercent}%)` });
    }
  }
  if (safety.maxUpdates !== undefined && updates > safety.maxUpdates) {
    out.push({ code: 'too-many-updates', message: `the plan updates ${updates} objects, over safety.maxUpdates (${safety.maxUpdates})` });
  }
  return out;
}
