/**
 * assemblePlan: the pure composition of the engine — flows, scope, join, diff — into a Plan.
 * Commands read sources and the target through connectors and hand the snapshots here.
 */
import type { SourceSnapshot } from '../model/entry.js';
import { summarize, type Plan } from '../model/plan.js';
import type { ObjectKind, TargetSnapshot } from '../model/target.js';
import type { Spec } from '../spec/types.js';
import { buildDesired, type DesiredState } from './desired.js';
import { desiredDigest, diff, sortChanges, sortReports, type MatchInfo } from './diff.js';
import { finishTakeovers, prepareTakeovers, recordWaveMatches } from './takeover.js';
import type { KindFlows } from './flows.js';

export interface PlanInput {
  spec: Pick<Spec, 'sources' | 'objects' | 'file' | 'digest'> & Partial<Pick<Spec, 'matching'>>;
  /** The spec path as the user gave it (shown in plans). */
  specPath: string;
  flows: Record<ObjectKind, KindFlows>;
  sources: readonly SourceSnapshot[];
  target: TargetSnapshot;
  toolVersion: string;
  now?: Date;
}

export interface PlanOutput {
  plan: Plan;
  desired: DesiredState;
  /** Anchor → how each desired object joined the target (for `adsync explain`). */
  matches: Map<string, MatchInfo>;
}

export function assemblePlan(input: PlanInput): PlanOutput {
  const desired = buildDesired(input.spec, input.sources, input.flows);
  return planFromDesired({ ...input, desired });
}

export interface PlanFromDesiredInput {
  spec: Pick<Spec, 'digest'> & Partial<Pick<Spec, 'matching'>>;
  specPath: string;
  desired: DesiredState;
  target: TargetSnapshot;
  toolVersion: string;
  now?: Date;
  /** Record how each object joined the target (`adsync explain`). */
  recordMatches?: boolean;
}

/** The second half of assemblePlan, for callers that build the desired state themselves (to free sources early). */
export function planFromDesired(input: PlanFromDesiredInput): PlanOutput {
  const { desired } = input;
  // Objects a sync client masters: held, or taken over / released in waves (src/engine/takeover.ts).
  const waves = prepareTakeovers(desired, input.target, {
    softMatch: input.spec.matching?.softMatch ?? 'off',
    allowAdmins: input.spec.matching?.allowAdmins ?? [],
  });
  const diffed = diff(waves.desired, waves.target, input.target.system, {
    softMatch: input.spec.matching?.softMatch ?? 'off',
    allowAdmins: input.spec.matching?.allowAdmins ?? [],
    recordMatches: input.recordMatches === true,
  });
  const { managed, matches } = diffed;
  if (input.recordMatches === true) recordWaveMatches(waves, matches);
  const finished = finishTakeovers(diffed, waves, desired, (o) => desiredDigest(o));
  const changes = finished.changes === diffed.changes ? diffed.changes : sortChanges(finished.changes);
  const reports = finished.reports === diffed.reports ? diffed.reports : sortReports(finished.reports);
  const plan: Plan = {
    formatVersion: 1,
    tool: { name: 'adsync', version: input.toolVersion },
    createdAt: (input.now ?? new Date()).toISOString(),
    spec: { path: input.specPath, digest: input.spec.digest },
    target: { system: input.target.system, ...(input.target.tenant ? { tenantId: input.target.tenant.tenantId } : {}) },
    changes,
    reports,
    summary: summarize(changes, reports),
    managed,
  };
  return { plan, desired, matches };
}
