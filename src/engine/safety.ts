/**
 * Guard rails: a plan that deletes or updates more than the spec allows stops apply before any write,
 * unless the operator acknowledges it with --force. Entra Connect's default is 500 deletes per export.
 *
 * Two-step deletes (`safety.deleteMode: disable-first`): a delete becomes, on the first apply, an update
 * that disables the account (users) and marks the object with the date after which it may go, in adsync's
 * `adsyncDeleteAfter` directory extension; a plan made after that date deletes it. An object that comes
 * back into scope before then has its mark cleared (and is enabled again by its flows). A disable counts
 * as a delete for the guard rails: a scope typo that would disable 60% of the users is as bad.
 */
import { DISABLE_FIRST_RULE, isDisable, type Change, type ReportItem, type UpdateChange } from '../model/change.js';
import { PENDING_DELETE_EXTENSION_NAME, siblingExtension } from '../model/extension.js';
import { summarize, type Plan } from '../model/plan.js';
import type { TargetObject, TargetSnapshot } from '../model/target.js';
import { DEFAULT_MAX_LICENSE_REMOVALS } from '../spec/normalize.js';
import type { SafetySpec } from '../spec/types.js';
import { sortChanges, sortReports } from './diff.js';
import { reportOnChange } from './reports.js';

export interface SafetyViolation {
  code:
    | 'too-many-deletes'
    | 'too-many-delete-percent'
    | 'too-many-updates'
    | 'too-many-takeovers'
    | 'too-many-member-removals'
    | 'too-many-member-removal-percent'
    | 'too-many-license-removals';
  message: string;
}

export { DISABLE_FIRST_RULE } from '../model/change.js';

/** Deletes, counting disable-first disables (deletes in waiting). */
export function countDeletes(plan: Pick<Plan, 'changes'>): number {
  let n = 0;
  for (const c of plan.changes) if (c.action === 'delete' || isDisable(c)) n++;
  return n;
}

/**
 * The memberships adsync manages: the direct members of the groups it owns, as read. Counted from the
 * snapshot read now (never from a saved plan), so a hand-edited plan can't loosen the percentage.
 */
export function managedMemberships(...snapshots: (TargetSnapshot | undefined)[]): number {
  let n = 0;
  for (const s of snapshots)
    for (const o of s?.objects ?? []) if (o.kind === 'group' && o.anchor !== undefined) n += o.members?.length ?? 0;
  return n;
}

/** Membership edges the plan removes (a group's delete takes its memberships with it, under the delete rails). */
export function countMemberRemovals(plan: Pick<Plan, 'changes'>): number {
  let n = 0;
  for (const c of plan.changes) if (c.action === 'remove-members') n += c.members.length;
  return n;
}

/** Direct licence assignments the plan removes (`licenses:` rules). */
export function countLicenseRemovals(plan: Pick<Plan, 'changes'>): number {
  let n = 0;
  for (const c of plan.changes) if (c.action === 'licenses') n += c.remove.length;
  return n;
}

export function checkSafety(
  plan: Pick<Plan, 'summary' | 'managed' | 'changes'>,
  safety: SafetySpec,
  context: { managedMembers?: number } = {},
): SafetyViolation[] {
  const out: SafetyViolation[] = [];
  const deletes = countDeletes(plan);
  const disables = deletes - plan.summary.delete;
  const updates = plan.summary.update - disables;
  const what = disables > 0 ? `deletes or disables (disable-first) ${deletes} objects` : `deletes ${deletes} objects`;
  if (deletes > safety.maxDeletes) {
    out.push({ code: 'too-many-deletes', message: `the plan ${what}, over safety.maxDeletes (${safety.maxDeletes})` });
  }
  if (safety.maxDeletePercent !== undefined && plan.managed > 0) {
    const pct = (deletes / plan.managed) * 100;
    if (pct > safety.maxDeletePercent) {
      out.push({
        code: 'too-many-delete-percent',
        message: `the plan ${what.replace(/ objects$/, '')} of ${plan.managed} managed objects (${pct.toFixed(1)}%), over safety.maxDeletePercent (${safety.maxDeletePercent}%)`,
      });
    }
  }
  if (safety.maxUpdates !== undefined && updates > safety.maxUpdates) {
    out.push({
      code: 'too-many-updates',
      message: `the plan updates ${updates} objects, over safety.maxUpdates (${safety.maxUpdates})`,
    });
  }
  const takeovers = plan.changes.filter((c) => c.action === 'takeover').length;
  if (safety.maxTakeovers !== undefined && takeovers > safety.maxTakeovers) {
    out.push({
      code: 'too-many-takeovers',
      message: `the plan takes over ${takeovers} objects from the sync client, over safety.maxTakeovers (${safety.maxTakeovers}); take them over in smaller waves (matching.takeover)`,
    });
  }
  const removals = countMemberRemovals(plan);
  if (safety.maxMemberRemovals !== undefined && removals > safety.maxMemberRemovals) {
    out.push({
      code: 'too-many-member-removals',
      message: `the plan removes ${removals} group memberships, over safety.maxMemberRemovals (${safety.maxMemberRemovals})`,
    });
  }
  const licenses = countLicenseRemovals(plan);
  const maxLicenses = safety.maxLicenseRemovals ?? DEFAULT_MAX_LICENSE_REMOVALS;
  if (licenses > maxLicenses) {
    out.push({
      code: 'too-many-license-removals',
      message: `the plan removes ${licenses} licence assignments, over safety.maxLicenseRemovals (${maxLicenses})`,
    });
  }
  const members = context.managedMembers;
  if (safety.maxMemberRemovalPercent !== undefined && members !== undefined && members > 0 && removals > 0) {
    const pct = (removals / members) * 100;
    if (pct > safety.maxMemberRemovalPercent) {
      out.push({
        code: 'too-many-member-removal-percent',
        message: `the plan removes ${removals} of ${members} managed group memberships (${pct.toFixed(1)}%), over safety.maxMemberRemovalPercent (${safety.maxMemberRemovalPercent}%)`,
      });
    }
  }
  return out;
}

/** The full name of the mark extension, next to adsync's anchor extension (same application). */
export function pendingDeleteProperty(anchorProperty: string | undefined): string | undefined {
  return siblingExtension(anchorProperty, PENDING_DELETE_EXTENSION_NAME);
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The instants (ms since the epoch) between which the same inputs make the same plan, `createdAt` aside:
 * the plan holds for a clock `now` with `from <= now < until` (null: unbounded). Only the delete mode reads
 * the clock: a mark compared with it bounds the window, and a new disable (its `deleteAfter` is now + grace)
 * makes it empty. A stored plan is reused only inside its window (src/sync/plan-memo.ts).
 */
export interface ClockWindow {
  from: number | null;
  until: number | null;
}

/** Narrows `w` to the instants on the same side of `at` as `now`. */
function splitAt(w: ClockWindow, at: number, now: number): void {
  if (Number.isNaN(at)) return; // an unreadable mark compares false with every clock: it never decides
  if (now >= at) w.from = w.from === null ? at : Math.max(w.from, at);
  else w.until = w.until === null ? at : Math.min(w.until, at);
}

/**
 * Rewrites a plan's deletes for `deleteMode: disable-first` (pure; the plan is returned anew). `markProperty`
 * is the mark extension's full name; the snapshot must have been read with it (when it exists). `window`, when
 * given, is narrowed to the clocks that would give the same result (see ClockWindow).
 */
export function applyDeleteMode<P extends Pick<Plan, 'changes' | 'reports' | 'summary'>>(
  plan: P,
  snapshot: TargetSnapshot,
  safety: Pick<SafetySpec, 'deleteMode' | 'deleteGraceDays'>,
  markProperty: string | undefined,
  now: Date,
  window?: ClockWindow,
): P {
  if (safety.deleteMode !== 'disable-first' || markProperty === undefined) return plan;
  const owned = new Map<string, TargetObject>();
  for (const t of snapshot.objects) if (t.anchor !== undefined) owned.set(`${t.kind} ${t.anchor}`, t);
  const deleteAfter = new Date(now.getTime() + safety.deleteGraceDays * DAY_MS).toISOString();
  const changes: Change[] = [];
  const reports: ReportItem[] = [...plan.reports];
  const deleting = new Set<string>();
  for (const c of plan.changes) {
    if (c.action !== 'delete' || (c.kind !== 'user' && c.kind !== 'group')) {
      changes.push(c);
      continue;
    }
    const key = `${c.kind} ${c.anchor}`;
    deleting.add(key);
    const t = owned.get(key);
    const mark = t?.attrs[markProperty];
    if (typeof mark === 'string' && mark !== '') {
      if (window !== undefined) splitAt(window, Date.parse(mark), now.getTime());
      if (now.getTime() >= Date.parse(mark))
        changes.push(c); // grace period over: delete now
      else {
        reports.push(
          reportOnChange(
            c,
            'pending-delete',
            `${c.reason}; ${c.kind === 'user' ? 'disabled' : 'marked'} by adsync, deleted by the first apply after ${mark} (safety.deleteGraceDays)`,
          ),
        );
      }
      continue;
    }
    // A new disable carries deleteAfter = now + grace: the plan holds for this clock only.
    if (window !== undefined) Object.assign(window, { from: now.getTime(), until: now.getTime() });
    const attributes = [];
    if (c.kind === 'user' && t?.attrs['accountEnabled'] !== false) {
      attributes.push({
        name: 'accountEnabled',
        ...(t?.attrs['accountEnabled'] === true ? { before: true } : {}),
        after: false,
        flow: `${DISABLE_FIRST_RULE} (instead of delete: ${c.reason})`,
      });
    }
    attributes.push({
      name: markProperty,
      after: deleteAfter,
      flow: `${DISABLE_FIRST_RULE} (deleted after ${safety.deleteGraceDays} day(s): ${c.reason})`,
    });
    const update: UpdateChange = {
      action: 'update',
      kind: c.kind,
      anchor: c.anchor,
      target: c.target,
      ...(c.sourceDn !== undefined ? { sourceDn: c.sourceDn } : {}),
      ...(c.source !== undefined ? { source: c.source } : {}),
      label: c.label,
      rule: DISABLE_FIRST_RULE,
      id: c.id,
      attributes,
      disable: { deleteAfter, reason: c.reason },
      ...(c.observed !== undefined ? { observed: c.observed } : {}),
    };
    changes.push(update);
  }
  // Objects that came back before their grace period ended: clear the mark.
  for (const [key, t] of owned) {
    const mark = t.attrs[markProperty];
    if (deleting.has(key) || typeof mark !== 'string' || mark === '') continue;
    const clear = { name: markProperty, before: mark, flow: `${DISABLE_FIRST_RULE} (back in scope: delete cancelled)` };
    const i = changes.findIndex((c) => c.action === 'update' && c.kind === t.kind && c.anchor === t.anchor);
    if (i >= 0) {
      const u = changes[i] as UpdateChange;
      changes[i] = { ...u, attributes: [...u.attributes, clear].sort((a, b) => (a.name < b.name ? -1 : 1)) };
    } else {
      const label = String((t.kind === 'user' ? t.attrs['userPrincipalName'] : t.attrs['displayName']) ?? t.id);
      changes.push({
        action: 'update',
        kind: t.kind,
        anchor: t.anchor!,
        target: snapshot.system,
        label,
        rule: DISABLE_FIRST_RULE,
        id: t.id,
        attributes: [clear],
      });
    }
  }
  const sorted = sortChanges(changes);
  const sortedReports = sortReports(reports);
  return { ...plan, changes: sorted, reports: sortedReports, summary: summarize(sorted, sortedReports) };
}
