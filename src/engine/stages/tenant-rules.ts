/**
 * Stage: tenant rules. What the tenant does to an object on its own, applied before matching so the plan
 * shows what Entra will hold: a UPN whose suffix is not a verified domain falls back to the initial domain
 * (applyTenantRules in src/engine/diff.ts). Pure: a new desired state, the input unchanged.
 */
import type { TargetSnapshot } from '../../model/target.js';
import type { DesiredState } from '../desired.js';
import { applyTenantRules } from '../diff.js';

export function tenantRulesStage(desired: DesiredState, target: Pick<TargetSnapshot, 'tenant'>): DesiredState {
  return applyTenantRules(desired, target.tenant);
}
