/**
 * Licences (graph-facts-2 §7): GET /subscribedSkus, POST /users/{id}/assignLicense with its documented errors,
 * GET /users/{id}/licenseDetails, assignedLicenses / licenseAssignmentStates (direct vs group-inherited), and
 * group-based licensing with POST /groups/{id}/assignLicense (202 Accepted).
 * Docs: learn.microsoft.com/graph/api/subscribedsku-list, user-assignlicense, user-list-licensedetails,
 * group-assignlicense; resources/licenseassignmentstate.
 */
import type { Ctx } from './context.js';
import {
  GraphError,
  badRequest,
  bodyObject,
  invalidValues,
  json,
  methodNotAllowed,
  notFound,
  type GraphRequest,
  type GraphResponse,
} from './http.js';
import { render } from './query.js';
import { groupSchema, userSchema } from './schema.js';
import { Store, type DirObject, type LicenseState, type SubscribedSku } from './store.js';
import { isoSeconds } from './directory.js';

function renderSku(store: Store, s: SubscribedSku): Record<string, unknown> {
  const c = store.config;
  return {
    accountId: c.tenantId,
    accountName: s.accountName ?? c.tenantDisplayName,
    appliesTo: s.appliesTo,
    capabilityStatus: s.capabilityStatus,
    consumedUnits: store.consumedUnits(s.skuId),
    id: `${c.tenantId}_${s.skuId}`,
    prepaidUnits: { ...s.prepaidUnits },
    servicePlans: s.servicePlans.map((p) => ({ ...p })),
    skuId: s.skuId,
    skuPartNumber: s.skuPartNumber,
    subscriptionIds: [...s.subscriptionIds],
  };
}

/** GET /subscribedSkus, GET /subscribedSkus/{id}. `$filter` isn't supported (subscribedsku resource doc). */
export function handleSubscribedSkus(ctx: Ctx, req: GraphRequest): GraphResponse {
  const { store } = ctx;
  if (req.method !== 'GET') throw methodNotAllowed();
  const [, key] = req.segments;
  const skus = store.config.skus ?? [];
  if (key === undefined) {
    if (req.query.has('$filter'))
      throw badRequest("Query option '$filter' is not supported for this resource.", 'Request_UnsupportedQuery');
    return json(200, {
      '@odata.context': `${req.base}/v1.0/$metadata#subscribedSkus`,
      value: skus.map((s) => renderSku(store, s)),
    });
  }
  const s = skus.find((x) => `${store.config.tenantId}_${x.skuId}` === key.toLowerCase());
  if (!s) throw notFound(key);
  return json(200, { '@odata.context': `${req.base}/v1.0/$metadata#subscribedSkus/$entity`, ...renderSku(store, s) });
}

/** Writes a user's direct assignments (adds replace an earlier direct assignment of the same SKU). */
export function setLicenses(
  store: Store,
  user: DirObject,
  add: { skuId: string; disabledPlans: string[] }[],
  remove: string[],
  now: number,
): void {
  const states = ((user.props['licenseAssignmentStates'] as LicenseState[] | undefined) ?? []).filter(
    (s) => !(s.assignedByGroup === null && (remove.includes(s.skuId) || add.some((a) => a.skuId === s.skuId))),
  );
  for (const a of add)
    states.push({
      assignedByGroup: null,
      disabledPlans: [...a.disabledPlans],
      error: null,
      lastUpdatedDateTime: isoSeconds(now),
      skuId: a.skuId,
      state: 'Active',
    });
  user.props['licenseAssignmentStates'] = states;
  Store.deriveAssignedLicenses(user);
  store.logChange({ kind: 'user', id: user.id, props: ['assignedLicenses', 'licenseAssignmentStates'] });
}

interface LicenseBody {
  add: { skuId: string; disabledPlans: string[] }[];
  remove: string[];
}

/** addLicenses and removeLicenses are both non-nullable and required in the v1.0 CSDL (graph-facts-2 §7.2). */
function licenseBody(req: GraphRequest): LicenseBody {
  const b = bodyObject(req);
  const add = b['addLicenses'];
  const remove = b['removeLicenses'];
  // Graph names what is missing (msgraph-sdk-powershell#3231, #3361: "… The missing parameters are: addLicenses.").
  const missing = [...(add === undefined ? ['addLicenses'] : []), ...(remove === undefined ? ['removeLicenses'] : [])];
  if (missing.length > 0)
    throw badRequest(
      `One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: ${missing.join(', ')}.`,
    );
  if (!Array.isArray(add) || !Array.isArray(remove)) throw invalidValues();
  const out: LicenseBody = { add: [], remove: [] };
  for (const a of add) {
    if (a === null || typeof a !== 'object' || typeof (a as Record<string, unknown>)['skuId'] !== 'string')
      throw invalidValues();
    const dp = (a as Record<string, unknown>)['disabledPlans'] ?? [];
    if (!Array.isArray(dp) || !dp.every((x) => typeof x === 'string')) throw invalidValues();
    out.add.push({
      skuId: String((a as Record<string, unknown>)['skuId']).toLowerCase(),
      disabledPlans: dp.map((x) => x.toLowerCase()),
    });
  }
  for (const r of remove) {
    if (typeof r !== 'string') throw invalidValues();
    out.remove.push(r.toLowerCase());
  }
  return out;
}

/** The messages graph-facts-2 §7.2 records; all 400 Request_BadRequest. */
function checkSkus(store: Store, body: LicenseBody): void {
  for (const id of [...body.add.map((a) => a.skuId), ...body.remove]) {
    const sku = store.sku(id);
    if (!sku) throw badRequest(`License ${id} does not correspond to a valid company License.`);
  }
  for (const a of body.add) {
    const sku = store.sku(a.skuId)!;
    if (a.disabledPlans.some((p) => !sku.servicePlans.some((sp) => sp.servicePlanId === p))) throw invalidValues();
  }
}

/** POST /users/{id}/assignLicense → 200 + the user (user-assignlicense). */
export function assignUserLicense(ctx: Ctx, req: GraphRequest, user: DirObject): GraphResponse {
  const { store } = ctx;
  if (req.method !== 'POST') throw methodNotAllowed();
  const body = licenseBody(req);
  checkSkus(store, body);
  // user.md: usageLocation is required for users that will be assigned licences.
  if (body.add.length > 0 && typeof user.props['usageLocation'] !== 'string') {
    throw badRequest('License assignment cannot be done for user with invalid usage location.');
  }
  // Removing a SKU the user holds no direct assignment of is refused (OfficeDocs-Enterprise#873: "User does
  // not have a corresponding license."); an inherited one can only go with the group's assignment.
  const states = (user.props['licenseAssignmentStates'] as LicenseState[] | undefined) ?? [];
  if (body.remove.some((r) => !states.some((s) => s.skuId === r && s.assignedByGroup === null)))
    throw badRequest('User does not have a corresponding license.');
  const held = (skuId: string): boolean =>
    ((user.props['licenseAssignmentStates'] as LicenseState[] | undefined) ?? []).some(
      (s) => s.skuId === skuId && s.state !== 'Error',
    );
  for (const a of body.add) {
    const sku = store.sku(a.skuId)!;
    if (!held(a.skuId) && store.consumedUnits(a.skuId) >= sku.prepaidUnits.enabled) {
      throw badRequest(`Subscription with SKU ${a.skuId} does not have any available licenses.`);
    }
  }
  setLicenses(store, user, body.add, body.remove, req.now);
  return json(200, {
    '@odata.context': `${req.base}/v1.0/$metadata#users/$entity`,
    ...render(user, userSchema, undefined),
  });
}

/** POST /groups/{id}/assignLicense → 202 Accepted + the group and a Location (group-assignlicense). */
export function assignGroupLicense(ctx: Ctx, req: GraphRequest, group: DirObject): GraphResponse {
  const { store } = ctx;
  if (req.method !== 'POST') throw methodNotAllowed();
  const body = licenseBody(req);
  checkSkus(store, body);
  const current = (
    (group.props['assignedLicenses'] as { skuId: string; disabledPlans: string[] }[] | undefined) ?? []
  ).filter((l) => !body.remove.includes(l.skuId) && !body.add.some((a) => a.skuId === l.skuId));
  group.props['assignedLicenses'] = [...current, ...body.add];
  if ((group.props['assignedLicenses'] as unknown[]).length === 0) delete group.props['assignedLicenses'];
  // Processing is asynchronous in Graph; the emulator finishes it before answering (a known difference).
  group.props['licenseProcessingState'] = { state: 'ProcessingComplete' };
  store.logChange({
    kind: 'group',
    id: group.id,
    props: ['assignedLicenses', 'licenseProcessingState', 'hasMembersWithLicenseErrors'],
  });
  for (const m of store.members.get(group.id) ?? [])
    if (store.users.byId.has(m)) store.refreshInheritedLicenses(m, req.now);
  const errors = [...(store.members.get(group.id) ?? [])].some((m) =>
    ((store.users.byId.get(m)?.props['licenseAssignmentStates'] as LicenseState[] | undefined) ?? []).some(
      (s) => s.assignedByGroup === group.id && s.state === 'Error',
    ),
  );
  group.props['hasMembersWithLicenseErrors'] = errors;
  return json(
    202,
    { '@odata.context': `${req.base}/v1.0/$metadata#groups/$entity`, ...render(group, groupSchema, undefined) },
    { Location: `${req.base}/v1.0/groups/${group.id}` },
  );
}

/** GET /users/{id}/licenseDetails (user-list-licensedetails). */
export function listLicenseDetails(ctx: Ctx, req: GraphRequest, user: DirObject): GraphResponse {
  const { store } = ctx;
  if (req.method !== 'GET') throw methodNotAllowed();
  const assigned = (user.props['assignedLicenses'] as { skuId: string; disabledPlans: string[] }[] | undefined) ?? [];
  const value = assigned.map((l) => {
    const sku = store.sku(l.skuId);
    if (!sku) throw new GraphError(500, 'Service_InternalServerError', `SKU ${l.skuId} is not subscribed`);
    return {
      id: `${user.id}_${l.skuId}`.replace(/-/g, ''),
      skuId: sku.skuId,
      skuPartNumber: sku.skuPartNumber,
      servicePlans: sku.servicePlans.map((p) => ({
        servicePlanId: p.servicePlanId,
        servicePlanName: p.servicePlanName,
        provisioningStatus: l.disabledPlans.includes(p.servicePlanId) ? 'Disabled' : p.provisioningStatus,
        appliesTo: p.appliesTo,
      })),
    };
  });
  return json(200, { '@odata.context': `${req.base}/v1.0/$metadata#users('${user.id}')/licenseDetails`, value });
}
