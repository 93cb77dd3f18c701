/**
 * Stages: match (hard, then soft) → object diff → membership diff. One pass over the desired
 * state and the target snapshot (src/engine/diff.ts), which gives the changes and report items of the inbound
 * plan, sorted, how many objects adsync owns, and (for explain) how each object joined the target.
 */
import type { TargetSnapshot } from '../../model/target.js';
import type { MatchingSpec } from '../../spec/types.js';
import type { DesiredState } from '../desired.js';
import { diff, type DiffResult } from '../diff.js';

export function diffStage(
  desired: DesiredState,
  target: TargetSnapshot,
  matching: Partial<MatchingSpec> | undefined,
  recordMatches: boolean,
  leaversStay = false,
): DiffResult {
  return diff(desired, target, target.system, {
    softMatch: matching?.softMatch ?? 'off',
    allowAdmins: matching?.allowAdmins ?? [],
    recordMatches,
    leaversStay,
  });
}
