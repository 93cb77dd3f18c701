/**
 * planFor: the whole plan, as a pipeline of named pure stages (one file each in ./stages/):
 *
 *   desired state → tenant rules (stages/tenant-rules.ts) → match (hard, then soft) → object diff
 *   → membership diff (stages/diff.ts)
 *     (inside stages/takeover.ts: objects a sync client masters held, or taken over / released in waves)
 *   → delete mode (stages/delete-mode.ts) → observed digests of the inbound changes (stages/observed.ts)
 *   → licences (licenses.ts: `licenses:` rules, after the creates, restores and adoptions are known)
 *   → writeback (stages/writeback.ts) → sort and summary (stages/sort-summary.ts) → prerequisites: adsync's
 *   extensions the changes use that the tenant lacks (stages/prerequisites.ts) → guard rails (stages/safety.ts)
 *
 * `adsync plan`, `apply`, `explain` and the saved-plan checks all call it, so they cannot disagree. Commands
 * read the sources and the target through connectors and hand the snapshots here; nothing here does I/O.
 */
import type { SourceSnapshot } from '../model/entry.js';
import type { Plan } from '../model/plan.js';
import type { ObjectKind, TargetSnapshot } from '../model/target.js';
import type { Spec } from '../spec/types.js';
import { buildDesired, type DesiredState } from './desired.js';
import type { MatchInfo } from './diff.js';
import type { KindFlows } from './flows.js';
import { planLicenses } from './licenses.js';
import { managedMemberships, type ClockWindow } from './safety.js';
import { deleteModeStage } from './stages/delete-mode.js';
import { takeoverStage } from './stages/takeover.js';
import { stampObserved } from './stages/observed.js';
import { safetyStage, type SafetyViolation } from './stages/safety.js';
import { tenantRulesStage } from './stages/tenant-rules.js';
import { sortAndSummarize } from './stages/sort-summary.js';
import { writebackStage, type WritebackFacts } from './stages/writeback.js';
import { prerequisitesStage } from './stages/prerequisites.js';

export interface PlanForInput {
  spec: Pick<Spec, 'digest'> & Partial<Pick<Spec, 'matching' | 'safety' | 'writeback' | 'sources' | 'licenses'>>;
  /** The spec path as the user gave it (shown in plans). */
  specPath: string;
  desired: DesiredState;
  target: TargetSnapshot;
  toolVersion: string;
  now?: Date;
  /** The target property of the disable-first mark (pendingDeleteProperty); absent: deletes stay deletes. */
  deleteMark?: string;
  /** What writeback needs read from AD (facts, the rules' OUs); absent or no writeback rules: no writeback. */
  writeback?: WritebackFacts;
  /** Record how each object joined the target (`adsync explain`). */
  recordMatches?: boolean;
  /**
   * The directory extensions registered on adsync's application (full names), as the Entra target read them;
   * the plan lists those its changes use that are missing (stages/prerequisites.ts). Absent: none listed.
   */
  extensions?: ReadonlySet<string>;
}

export interface PlanOutput {
  plan: Plan;
  desired: DesiredState;
  /** Anchor → how each desired object joined the target (only with recordMatches). */
  matches: Map<string, MatchInfo>;
  /** The AD objects writeback's changes touch, as read (with writeback rules). */
  adSnapshot?: TargetSnapshot;
  /** Memberships adsync manages, in the tenant and in written-back AD groups (guard rails). */
  managedMembers: number;
  /** The guard rails the plan crosses (stages/safety.ts): renderers show them, apply refuses on them. */
  violations: readonly SafetyViolation[];
  /** The clocks for which the same inputs make this plan (createdAt aside): where `now` entered it. */
  clockWindow: ClockWindow;
}

export function planFor(input: PlanForInput): PlanOutput {
  const { target, spec } = input;
  const now = input.now ?? new Date();
  const clockWindow: ClockWindow = { from: null, until: null };
  const tenantRuled = tenantRulesStage(input.desired, target);
  // diffStage, with objects a sync client masters held, or taken over / released in waves
  const leaversStay = spec.safety?.deleteMode === 'disable-first' && input.deleteMark !== undefined;
  const inbound = takeoverStage(tenantRuled, target, spec.matching, input.recordMatches === true, leaversStay);
  // the desired state with the values the diff settled (quarantined duplicates, values kept by flow timing)
  const desired = inbound.desired;
  const moded = deleteModeStage(
    inbound,
    target,
    spec.safety ?? { deleteMode: 'delete', deleteGraceDays: 0 },
    input.deleteMark,
    now,
    clockWindow,
  );
  // Licences: one change per user; stamped with the user's observed digest like every inbound change.
  const lic = spec.licenses
    ? planLicenses({ rules: spec.licenses, desired, target, changes: moded.changes })
    : undefined;
  let changes = stampObserved(lic ? [...moded.changes, ...lic.changes] : moded.changes, target);
  let reports = lic ? [...moded.reports, ...lic.reports] : moded.reports;
  let managed = inbound.managed;
  let adSnapshot: TargetSnapshot | undefined;
  if (input.writeback !== undefined && spec.writeback !== undefined && spec.writeback.length > 0) {
    const wb = writebackStage(
      { sources: spec.sources ?? [], writeback: spec.writeback },
      desired,
      target,
      input.writeback,
    );
    changes = [...changes, ...wb.changes];
    reports = [...reports, ...wb.reports];
    managed += wb.managed;
    adSnapshot = wb.snapshot;
  }
  const sorted = sortAndSummarize(changes, reports);
  const prerequisites = prerequisitesStage(sorted.changes, input.extensions);
  const plan: Plan = {
    formatVersion: 1,
    tool: { name: 'adsync', version: input.toolVersion },
    createdAt: now.toISOString(),
    spec: { path: input.specPath, digest: spec.digest },
    target: { system: target.system, ...(target.tenant ? { tenantId: target.tenant.tenantId } : {}) },
    changes: sorted.changes,
    reports: sorted.reports,
    summary: sorted.summary,
    managed,
    ...(prerequisites.length > 0 ? { prerequisites } : {}),
  };
  const managedMembers = managedMemberships(target, adSnapshot);
  return {
    plan,
    desired,
    matches: inbound.matches,
    ...(adSnapshot ? { adSnapshot } : {}),
    managedMembers,
    violations: safetyStage(plan, spec.safety, managedMembers),
    clockWindow,
  };
}

export interface PlanInput extends Omit<PlanForInput, 'desired'> {
  spec: PlanForInput['spec'] & Pick<Spec, 'sources' | 'objects' | 'file'>;
  flows: Record<ObjectKind, KindFlows>;
  sources: readonly SourceSnapshot[];
}

/** planFor from the source snapshots (tests, small inputs): the desired-state stage first. */
export function assemblePlan(input: PlanInput): PlanOutput {
  const desired = buildDesired(input.spec, input.sources, input.flows);
  return planFor({ ...input, desired });
}

export type PlanFromDesiredInput = PlanForInput;

/** @deprecated the earlier name of planFor. */
export const planFromDesired = planFor;
