/**
 * Licences as the target reports them (graph-facts-2 §7.1): the tenant's subscribed SKUs and a user's
 * licence assignment states (direct when `assignedByGroup` is null, else inherited from that group).
 */

export interface ServicePlanInfo {
  servicePlanId: string;
  servicePlanName: string;
}

/** One `subscribedSku`; free seats = prepaidUnits.enabled − consumedUnits. */
export interface SubscribedSkuInfo {
  skuId: string;
  skuPartNumber: string;
  prepaidEnabled: number;
  consumedUnits: number;
  servicePlans: ServicePlanInfo[];
}

/** One entry of a user's `licenseAssignmentStates`. */
export interface LicenseAssignmentState {
  skuId: string;
  disabledPlans: string[];
  /** null: a direct assignment; otherwise the id of the group it is inherited from. */
  assignedByGroup: string | null;
  /** Active, ActiveWithError, Disabled, Error. */
  state?: string;
  error?: string | null;
}

/** The `licenseAssignmentStates` of a target user's attributes (absent or malformed → none). */
export function assignmentStates(attrs: Readonly<Record<string, unknown>>): LicenseAssignmentState[] {
  const raw = attrs['licenseAssignmentStates'];
  if (!Array.isArray(raw)) return [];
  const out: LicenseAssignmentState[] = [];
  for (const r of raw as Record<string, unknown>[]) {
    if (r === null || typeof r !== 'object' || typeof r['skuId'] !== 'string') continue;
    out.push({
      skuId: r['skuId'].toLowerCase(),
      disabledPlans: Array.isArray(r['disabledPlans'])
        ? (r['disabledPlans'] as unknown[])
            .filter((p): p is string => typeof p === 'string')
            .map((p) => p.toLowerCase())
        : [],
      assignedByGroup: typeof r['assignedByGroup'] === 'string' ? r['assignedByGroup'] : null,
      ...(typeof r['state'] === 'string' ? { state: r['state'] } : {}),
      ...(typeof r['error'] === 'string' || r['error'] === null ? { error: r['error'] } : {}),
    });
  }
  return out;
}
