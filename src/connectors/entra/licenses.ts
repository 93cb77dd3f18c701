/**
 * Licences against Graph (graph-facts-2 §7): `GET /subscribedSkus` for the seats and service plans the plan
 * checks, and `POST /users/{id}/assignLicense` for a user's licence change (adds and removes in one call,
 * through the $batch queue like every write). Graph's licence errors (no usage location, no free seat, SKU
 * not in the tenant: all 400 Request_BadRequest) fail that user's change with Graph's message; the others go on.
 */
import type { BatchQueue, SubResponse } from './batch.js';
import type { LicensesChange } from '../../model/change.js';
import type { SubscribedSkuInfo } from '../../model/license.js';
import type { Graph } from './graph.js';

/** The licence assignment states of users: `$select` only (graph-facts-2 §7.1), so it is asked for by name. */
export const LICENSE_USER_PROPERTY = 'licenseAssignmentStates';

/** GET /subscribedSkus (no $filter: it isn't supported), one page. */
export async function readSubscribedSkus(graph: Graph): Promise<SubscribedSkuInfo[]> {
  const out: SubscribedSkuInfo[] = [];
  for await (const page of graph.pages<Record<string, unknown>>('/subscribedSkus')) {
    for (const s of page) {
      if (typeof s['skuId'] !== 'string' || typeof s['skuPartNumber'] !== 'string') continue;
      const prepaid = (s['prepaidUnits'] ?? {}) as { enabled?: unknown };
      const plans = Array.isArray(s['servicePlans']) ? (s['servicePlans'] as Record<string, unknown>[]) : [];
      out.push({
        skuId: s['skuId'].toLowerCase(),
        skuPartNumber: s['skuPartNumber'],
        prepaidEnabled: typeof prepaid.enabled === 'number' ? prepaid.enabled : 0,
        consumedUnits: typeof s['consumedUnits'] === 'number' ? s['consumedUnits'] : 0,
        servicePlans: plans
          .filter((p) => typeof p['servicePlanId'] === 'string' && typeof p['servicePlanName'] === 'string')
          .map((p) => ({
            servicePlanId: (p['servicePlanId'] as string).toLowerCase(),
            servicePlanName: p['servicePlanName'] as string,
          })),
      });
    }
  }
  return out.sort((a, b) => (a.skuPartNumber < b.skuPartNumber ? -1 : a.skuPartNumber > b.skuPartNumber ? 1 : 0));
}

/** The assignLicense body; both lists are required (non-nullable in the v1.0 CSDL): `[]` when unused. */
export function assignLicenseBody(change: Pick<LicensesChange, 'add' | 'remove'>): {
  addLicenses: { skuId: string; disabledPlans: string[] }[];
  removeLicenses: string[];
} {
  return {
    addLicenses: change.add.map((a) => ({ skuId: a.skuId, disabledPlans: [...a.disabledPlanIds] })),
    removeLicenses: change.remove.map((r) => r.skuId),
  };
}

export interface LicenseApplyContext {
  queue: BatchQueue;
  /** The user's id: from the change, or from this run's create. */
  userId(change: LicensesChange): string | undefined;
  /** Why the user has no id (its create failed, or the plan doesn't create it). */
  missing(change: LicensesChange): string;
  /** Ids written moments ago (replication lag may answer 404 for a while). */
  fresh: ReadonlySet<string>;
  describe(res: SubResponse): string;
}

export type LicenseOutcome =
  | { outcome: 'applied' }
  | { outcome: 'failed'; operation: string; message: string }
  | {
      outcome: 'skipped';
      reason: string;
    };

/** One user's licence change: one assignLicense call. */
export async function applyLicenseChange(ctx: LicenseApplyContext, change: LicensesChange): Promise<LicenseOutcome> {
  const id = ctx.userId(change);
  if (id === undefined) return { outcome: 'skipped', reason: ctx.missing(change) };
  const res = await ctx.queue.submit(
    { method: 'POST', url: `/users/${id}/assignLicense`, body: assignLicenseBody(change) },
    { mayLag: ctx.fresh.has(id) },
  );
  if (res.status >= 200 && res.status < 300) return { outcome: 'applied' };
  const what = [...change.add.map((a) => `+${a.sku}`), ...change.remove.map((r) => `-${r.sku}`)].join(' ');
  return { outcome: 'failed', operation: `assign licences (${what}) to ${change.label}`, message: ctx.describe(res) };
}
