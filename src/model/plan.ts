import type { Change, ReportItem } from './change.js';
import type { TargetSystem } from './target.js';
import { AdsyncError } from '../errors.js';

export interface PlanSummary {
  create: number;
  /** Unowned cloud objects taken over (hard match by onPremisesImmutableId, or soft match). */
  adopt: number;
  /** Objects a sync client mastered, taken over (matching.takeover); present when there are any. */
  takeover?: number;
  /** Taken-over objects handed back to the sync client (matching.release); present when there are any. */
  release?: number;
  restore: number;
  update: number;
  delete: number;
  /** Membership edges added / removed (not change entries). */
  membersAdded: number;
  membersRemoved: number;
  /** Licence assignments added (or re-assigned with other disabled plans) / removed; absent when there are none. */
  licensesAdded?: number;
  licensesRemoved?: number;
  reports: number;
}

/** The whole contract of apply (schemas/plan.schema.json is its published form). */
export interface Plan {
  formatVersion: 1;
  tool: { name: 'adsync'; version: string };
  createdAt: string;
  spec: { path: string; digest: string };
  target: { system: TargetSystem; tenantId?: string };
  changes: Change[];
  reports: ReportItem[];
  summary: PlanSummary;
  /** How many objects adsync owned in the target when the plan was made (for percentage guard rails). */
  managed: number;
  /** How the sources and the target were read (incremental from the stored state, or full, and why). */
  read?: PlanRead;
  /**
   * What apply does before the changes, so that the saved plan says everything apply writes: adsync's
   * directory extensions its changes use that the tenant doesn't have yet (src/engine/stages/prerequisites.ts).
   * Absent: none (or a plan made before adsync listed them: apply then registers what the changes use).
   */
  prerequisites?: Prerequisite[];
}

/** One step apply takes before the plan's changes. */
export interface Prerequisite {
  action: 'register-extension';
  target: TargetSystem;
  /** The extension's name on adsync's application, without the `extension_<appId>_` prefix (e.g. adsyncAnchor). */
  name: string;
  /** Why the plan needs it. */
  reason: string;
}

/** The plan's `read` field (src/sync/incremental.ts). */
export interface PlanRead {
  mode: 'full' | 'incremental';
  parts: { part: string; mode: 'full' | 'incremental'; reason: string; changes?: number }[];
  /** Bytes of state this run wrote, per blob (absent: nothing written). */
  saved?: Record<string, number>;
}

export function summarize(changes: readonly Change[], reports: readonly ReportItem[]): PlanSummary {
  const s: PlanSummary = {
    create: 0,
    adopt: 0,
    restore: 0,
    update: 0,
    delete: 0,
    membersAdded: 0,
    membersRemoved: 0,
    reports: reports.length,
  };
  for (const c of changes) {
    switch (c.action) {
      case 'create':
        s.create++;
        break;
      case 'adopt':
        s.adopt++;
        break;
      case 'takeover':
        s.takeover = (s.takeover ?? 0) + 1;
        break;
      case 'release':
        s.release = (s.release ?? 0) + 1;
        break;
      case 'restore':
        s.restore++;
        break;
      case 'update':
        s.update++;
        break;
      case 'delete':
        s.delete++;
        break;
      case 'add-members':
        s.membersAdded += c.members.length;
        break;
      case 'remove-members':
        s.membersRemoved += c.members.length;
        break;
      case 'licenses':
        s.licensesAdded = (s.licensesAdded ?? 0) + c.add.length;
        s.licensesRemoved = (s.licensesRemoved ?? 0) + c.remove.length;
        break;
      default: {
        const never: never = c;
        throw new AdsyncError('internal', `unknown change ${JSON.stringify(never)}`);
      }
    }
  }
  return s;
}

export function hasChanges(plan: Pick<Plan, 'changes'>): boolean {
  return plan.changes.length > 0;
}
