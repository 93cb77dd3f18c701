/**
 * Plan order: changes and report items by kind, then label (case-insensitive), anchor, and action (or code).
 * Sort keys are computed once.
 */
import type { Change, ReportItem } from '../model/change.js';
import type { ObjectKind } from '../model/target.js';

const KIND_RANK: Record<ObjectKind, number> = { user: 0, group: 1, contact: 2 };
const ACTION_RANK: Record<Change['action'], number> = {
  create: 0,
  adopt: 1,
  takeover: 1,
  restore: 2,
  update: 3,
  'add-members': 4,
  'remove-members': 5,
  licenses: 6,
  delete: 7,
  release: 8,
};

interface Sortable {
  kind: ObjectKind;
  key: string;
  anchor: string;
}

function compareSortable(a: Sortable, b: Sortable): number {
  const k = KIND_RANK[a.kind] - KIND_RANK[b.kind];
  if (k !== 0) return k;
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  return a.anchor < b.anchor ? -1 : a.anchor > b.anchor ? 1 : 0;
}

/** Plan order: by kind, then label (case-insensitive), anchor, and action. Sort keys are computed once. */
export function sortChanges<C extends Change>(changes: C[]): C[] {
  const keyed = changes.map((c) => ({ c, s: { kind: c.kind, key: c.label.toLowerCase(), anchor: c.anchor } }));
  keyed.sort((a, b) => compareSortable(a.s, b.s) || ACTION_RANK[a.c.action] - ACTION_RANK[b.c.action]);
  for (let i = 0; i < keyed.length; i++) changes[i] = keyed[i]!.c;
  return changes;
}

export function sortReports(reports: ReportItem[]): ReportItem[] {
  const keyed = reports.map((r) => ({ r, s: { kind: r.kind, key: r.label.toLowerCase(), anchor: r.anchor ?? '' } }));
  keyed.sort((a, b) => compareSortable(a.s, b.s) || (a.r.code < b.r.code ? -1 : a.r.code > b.r.code ? 1 : 0));
  for (let i = 0; i < keyed.length; i++) reports[i] = keyed[i]!.r;
  return reports;
}
