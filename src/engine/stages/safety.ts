/**
 * Stage: guard rails. The plan, its managed counts and the spec's `safety:` give the verdict once: the
 * renderers show it where the plan is reviewed and apply refuses on it (UnsafePlanError), so the check
 * people read is the check apply runs.
 */
import { AdsyncError } from '../../errors.js';
import type { Plan } from '../../model/plan.js';
import type { SafetySpec } from '../../spec/types.js';
import { checkSafety, type SafetyViolation } from '../safety.js';

export type { SafetyViolation } from '../safety.js';

/** The rails the plan crosses (none without a `safety:` section). */
export function safetyStage(
  plan: Pick<Plan, 'summary' | 'managed' | 'changes'>,
  safety: SafetySpec | undefined,
  /** Memberships adsync manages, counted from the snapshots read now (never from a saved plan). */
  managedMembers: number | undefined,
): readonly SafetyViolation[] {
  if (safety === undefined) return [];
  return checkSafety(plan, safety, managedMembers === undefined ? {} : { managedMembers });
}

/** A plan over the guard rails: apply stops before any write unless the operator passes --force. */
export class UnsafePlanError extends AdsyncError {
  readonly violations: readonly SafetyViolation[];
  constructor(violations: readonly SafetyViolation[]) {
    super('safety_threshold', `apply stopped before any write: ${violations.map((v) => v.message).join('; ')}`);
    this.name = 'UnsafePlanError';
    this.violations = violations;
  }
}

/** Raises UnsafePlanError for a verdict with violations; `force` (the operator's --force) lets it through. */
export function assertSafe(violations: readonly SafetyViolation[], force: boolean): void {
  if (violations.length > 0 && !force) throw new UnsafePlanError(violations);
}
