/** Applies writeback changes (target ad) through the apply loop and the AD writeback target, as `adsync apply` does. */
import { applyPlan } from '../../src/apply/loop.js';
import { adWritebackTarget, type AdApplyContext } from '../../src/connectors/ad/executor.js';
import type { ApplyOptions, ApplyResult } from '../../src/model/apply.js';
import type { Change } from '../../src/model/change.js';

export function applyAdChanges(
  ctx: AdApplyContext,
  changes: readonly Change[],
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  return applyPlan({ ad: adWritebackTarget(ctx) }, { target: { system: 'ad' }, changes: [...changes] }, options);
}
