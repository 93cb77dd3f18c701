/**
 * Stage: delete mode. Under `safety.deleteMode: disable-first` the inbound deletes of users and groups become
 * a disable (users) and a dated mark; a marked object past its grace period is deleted, one before it is a
 * report item, and one back in scope has its mark cleared. Under `delete` the changes pass through.
 */
import type { Change, ReportItem } from '../../model/change.js';
import type { TargetSnapshot } from '../../model/target.js';
import type { SafetySpec } from '../../spec/types.js';
import { applyDeleteMode, type ClockWindow } from '../safety.js';

export function deleteModeStage(
  inbound: { changes: readonly Change[]; reports: readonly ReportItem[] },
  target: TargetSnapshot,
  safety: Pick<SafetySpec, 'deleteMode' | 'deleteGraceDays'>,
  /** The target's property for the mark (pendingDeleteProperty); undefined: the target has none. */
  markProperty: string | undefined,
  now: Date,
  /** Narrowed to the clocks that give the same result (absent: not tracked). */
  window?: ClockWindow,
): { changes: readonly Change[]; reports: readonly ReportItem[] } {
  if (safety.deleteMode !== 'disable-first' || markProperty === undefined) return inbound;
  // applyDeleteMode builds new lists and new changes (the summary is the sort stage's).
  const out = applyDeleteMode(
    { changes: [...inbound.changes], reports: [...inbound.reports], summary: undefined as never },
    target,
    safety,
    markProperty,
    now,
    window,
  );
  return { changes: out.changes, reports: out.reports };
}
