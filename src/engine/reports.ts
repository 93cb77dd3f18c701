/**
 * Report items about one object, in the one field order every plan prints them in (code, kind, target, anchor,
 * sourceDn, source, label, reason, other).
 */
import type { Change, ReportItem } from '../model/change.js';
import { targetLabel, type TargetObject, type TargetSystem } from '../model/target.js';
import type { DesiredObject } from './desired.js';

/** The other object a report names, by its label and cloud id. */
export const otherOf = (t: TargetObject): NonNullable<ReportItem['other']> => ({ label: targetLabel(t), id: t.id });

/** A report item about a desired object. */
export function reportOn(
  obj: Pick<DesiredObject, 'kind' | 'anchor' | 'dn' | 'source' | 'label'>,
  system: TargetSystem,
  code: string,
  reason: string,
  other?: ReportItem['other'],
): ReportItem {
  return {
    code,
    kind: obj.kind,
    target: system,
    anchor: obj.anchor,
    sourceDn: obj.dn,
    source: obj.source,
    label: obj.label,
    reason,
    ...(other !== undefined ? { other } : {}),
  };
}

/** A report item about the object a planned change is for (the change is then usually dropped or trimmed). */
export function reportOnChange(c: Change, code: string, reason: string, other?: ReportItem['other']): ReportItem {
  return {
    code,
    kind: c.kind,
    target: c.target,
    anchor: c.anchor,
    ...(c.sourceDn !== undefined ? { sourceDn: c.sourceDn } : {}),
    ...(c.source !== undefined ? { source: c.source } : {}),
    label: c.label,
    reason,
    ...(other !== undefined ? { other } : {}),
  };
}
