/**
 * Stage: sort and summary. The plan's changes and report items in their one deterministic order, and the
 * counts the summary line shows. New arrays: the inputs are left as they were.
 */
import type { Change, ReportItem } from '../../model/change.js';
import { summarize, type Plan } from '../../model/plan.js';
import { sortChanges, sortReports } from '../diff.js';

export function sortAndSummarize(
  changes: readonly Change[],
  reports: readonly ReportItem[],
): Pick<Plan, 'changes' | 'reports' | 'summary'> {
  const sortedChanges = sortChanges([...changes]);
  const sortedReports = sortReports([...reports]);
  return { changes: sortedChanges, reports: sortedReports, summary: summarize(sortedChanges, sortedReports) };
}
