/**
 * Tenant-wide resources: /directory/deletedItems (soft delete, restore, 30-day retention; graph-facts §1),
 * /organization and /domains, /directoryObjects, and read-only /contacts (graph-facts §3).
 */
import type { Ctx } from './context.js';
import { findAnyVisible, findVisible, visible } from './context.js';
import {
  badRequest,
  conflict,
  json,
  methodNotAllowed,
  noContent,
  notFound,
  segmentNotFound,
  type GraphRequest,
  type GraphResponse,
} from './http.js';
import { handleOnPremisesSynchronization, handleSyncBehavior, isSynced, organizationSync } from './sync.js';
import { collectionSource, contextUrl, listResponse, parseSelect, render } from './query.js';
import { contactSchema, schemas, type Kind } from './schema.js';
import { proxyConflict } from './props.js';
import type { DirObject } from './store.js';

/** DELETE of a user or group: users and Microsoft 365 groups go to deletedItems; security groups are gone. */
export function softDelete(ctx: Ctx, o: DirObject, now: number): void {
  const { store } = ctx;
  const links = {
    memberOf: [...(store.memberOf.get(o.id) ?? [])],
    roles: [...store.directoryRoles.values()].filter((r) => r.members.has(o.id)).map((r) => r.id),
  };
  store.unregisterAddresses(o);
  store.detach(o);
  store.collection(o.kind).remove(o);
  const restorable = o.kind === 'user' || (o.kind === 'group' && isUnified(o));
  if (restorable) {
    // A fresh instance: each collection keeps its own ordered array, and an object lives in exactly one.
    const d: DirObject = { ...o, props: { ...o.props, deletedDateTime: isoSeconds(now) }, live: false };
    store.deleted.add(d);
    store.deletedAt.set(o.id, now);
    store.deletedLinks.set(o.id, links);
  }
  store.logChange({ kind: o.kind, id: o.id });
}

export function isUnified(o: DirObject): boolean {
  const t = o.props['groupTypes'];
  return Array.isArray(t) && t.includes('Unified');
}

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const CAST: Record<string, Kind> = { 'microsoft.graph.user': 'user', 'microsoft.graph.group': 'group' };

export function handleDirectory(ctx: Ctx, req: GraphRequest): GraphResponse {
  const { store } = ctx;
  const [, sub, key, action] = req.segments;
  if (sub === 'onPremisesSynchronization' && action === undefined)
    return handleOnPremisesSynchronization(ctx, req, key);
  if (sub !== 'deletedItems') throw segmentNotFound(sub ?? 'directory');
  store.purgeExpired(req.now);
  if (key === undefined) throw notFound('deletedItems'); // listing needs a type cast (graph-facts §1)
  const castKind = CAST[key];
  if (castKind && action === undefined) {
    if (req.method !== 'GET') throw methodNotAllowed();
    const schema = schemas[castKind];
    return listResponse(
      req,
      store,
      {
        *after(c) {
          for (const o of store.deleted.after(c)) if (o.kind === castKind) yield [o, o.ord];
        },
      },
      () => schema,
      {
        contextFragment: `directory/deletedItems/${key}`,
        schema,
        visible: () => true,
      },
    );
  }
  const o = store.deleted.byId.get(key);
  if (!o) throw notFound(key);
  if (action === undefined) {
    if (req.method === 'GET') {
      const schema = schemas[o.kind];
      const select = parseSelect(req, schema, store);
      return json(200, {
        '@odata.context': contextUrl(req, 'directoryObjects/$entity', select),
        '@odata.type': schema.odataType,
        ...render(o, schema, select),
      });
    }
    if (req.method === 'DELETE') {
      store.deleted.remove(o);
      store.deletedAt.delete(o.id);
      store.deletedLinks.delete(o.id);
      store.logChange({ kind: o.kind, id: o.id });
      return noContent();
    }
    throw methodNotAllowed();
  }
  if (action === 'restore' && req.method === 'POST') {
    // Restoring into a name someone else took meanwhile conflicts like a create would.
    if (o.kind === 'user') {
      const holder = store.upns.get(String(o.props['userPrincipalName']).toLowerCase());
      if (holder !== undefined) throw conflict('userPrincipalName');
    }
    const addrs = [o.props['mail'], ...((o.props['proxyAddresses'] as unknown[] | undefined) ?? [])].filter(
      (a): a is string => typeof a === 'string',
    );
    const holder = proxyConflict(store, o.id, addrs);
    if (holder) throw conflict('proxyAddresses', holder);
    store.deleted.remove(o);
    store.deletedAt.delete(o.id);
    const props = { ...o.props };
    delete props['deletedDateTime'];
    const back: DirObject = { ...o, props, visibleAt: 0, live: false };
    store.collection(o.kind).add(back);
    store.registerAddresses(back);
    store.logChange({ kind: o.kind, id: o.id });
    // recover-from-deletions: a restored user keeps its group memberships, roles and licences (licences even
    // when no seat is free, users-restore). Groups deleted meanwhile are skipped; the manager isn't documented.
    const links = store.deletedLinks.get(o.id);
    store.deletedLinks.delete(o.id);
    for (const gid of links?.memberOf ?? []) if (store.groups.byId.has(gid)) store.addMember(gid, back);
    for (const rid of links?.roles ?? []) store.directoryRoles.get(rid)?.members.add(o.id);
    if (o.kind === 'user') store.refreshInheritedLicenses(o.id, req.now);
    const schema = schemas[o.kind];
    // graph-facts §1: 200 + directoryObject with @odata.type.
    return json(200, {
      '@odata.context': `${req.base}/v1.0/$metadata#directoryObjects/$entity`,
      '@odata.type': schema.odataType,
      ...render(back, schema, undefined),
    });
  }
  throw methodNotAllowed();
}

function domainsOf(ctx: Ctx): { name: string; isInitial: boolean }[] {
  const c = ctx.store.config;
  return [{ name: c.initialDomain, isInitial: true }, ...c.domains.map((name) => ({ name, isInitial: false }))];
}

export function handleOrganization(ctx: Ctx, req: GraphRequest): GraphResponse {
  if (req.method !== 'GET') throw methodNotAllowed();
  const c = ctx.store.config;
  const org = {
    id: c.tenantId,
    displayName: c.tenantDisplayName,
    createdDateTime: c.createdDateTime,
    deletedDateTime: null,
    countryLetterCode: 'US',
    tenantType: 'AAD',
    ...organizationSync(ctx),
    verifiedDomains: domainsOf(ctx).map((d) => ({
      capabilities: 'Email, OfficeCommunicationsOnline',
      isDefault: d.isInitial,
      isInitial: d.isInitial,
      name: d.name,
      type: 'Managed',
    })),
  };
  const [, id] = req.segments;
  if (id !== undefined) {
    if (id !== c.tenantId) throw notFound(id);
    return json(200, { '@odata.context': `${req.base}/v1.0/$metadata#organization/$entity`, ...org });
  }
  return json(200, { '@odata.context': `${req.base}/v1.0/$metadata#organization`, value: [org] });
}

export function handleDomains(ctx: Ctx, req: GraphRequest): GraphResponse {
  if (req.method !== 'GET') throw methodNotAllowed();
  const all = domainsOf(ctx).map((d) => ({
    authenticationType: 'Managed',
    availabilityStatus: null,
    id: d.name,
    isAdminManaged: true,
    isDefault: d.isInitial,
    isInitial: d.isInitial,
    isRoot: true,
    isVerified: true,
    supportedServices: ['Email', 'OfficeCommunicationsOnline'],
    passwordValidityPeriodInDays: 2147483647,
    passwordNotificationWindowInDays: 14,
    state: null,
  }));
  const [, id] = req.segments;
  if (id !== undefined) {
    const d = all.find((x) => x.id.toLowerCase() === id.toLowerCase());
    if (!d) throw notFound(id);
    return json(200, { '@odata.context': `${req.base}/v1.0/$metadata#domains/$entity`, ...d });
  }
  return json(200, { '@odata.context': `${req.base}/v1.0/$metadata#domains`, value: all });
}

/**
 * /contacts: read-only (graph-facts §3); writes get the documented 405, except the source-of-authority switch
 * (…/onPremisesSyncBehavior) and the observed refusal to delete a synced contact (graph-facts-2 §1).
 */
export function handleContacts(ctx: Ctx, req: GraphRequest): GraphResponse {
  const { store } = ctx;
  const [, key, rel, ...rest] = req.segments;
  if (key !== undefined && rel === 'onPremisesSyncBehavior')
    return handleSyncBehavior(ctx, req, findVisible(ctx, req, 'contact', key), rest);
  if (key !== undefined && rel === undefined && req.method === 'DELETE') {
    const c = findVisible(ctx, req, 'contact', key);
    if (isSynced(c))
      throw badRequest(
        "Data contract version does not allow 'Delete' operations against instances of resource 'OrgContact'.",
      );
  }
  if (req.method !== 'GET') throw methodNotAllowed();
  if (key === undefined) {
    return listResponse(req, store, collectionSource(store.contacts), () => contactSchema, {
      contextFragment: 'contacts',
      schema: contactSchema,
      visible: (o) => visible(o, req),
    });
  }
  const o = findVisible(ctx, req, 'contact', key);
  if (rel !== undefined) throw segmentNotFound(rel);
  const select = parseSelect(req, contactSchema, store);
  return json(200, {
    '@odata.context': contextUrl(req, 'contacts/$entity', select),
    ...render(o, contactSchema, select),
  });
}

/** GET /directoryObjects/{id}; POST /directoryObjects/getByIds. */
export function handleDirectoryObjects(ctx: Ctx, req: GraphRequest): GraphResponse {
  const [, key] = req.segments;
  if (key === 'getByIds' && req.method === 'POST') {
    const body = (req.body ?? {}) as { ids?: unknown; types?: unknown };
    const ids = Array.isArray(body.ids) ? body.ids.filter((x): x is string => typeof x === 'string') : [];
    const types = Array.isArray(body.types) ? body.types.map((t) => String(t).toLowerCase()) : undefined;
    const value: Record<string, unknown>[] = [];
    for (const id of ids) {
      const o = ctx.store.get(id);
      if (!o || !visible(o, req)) continue;
      const schema = schemas[o.kind];
      if (types && !types.includes(o.kind === 'contact' ? 'orgcontact' : o.kind)) continue;
      value.push({ '@odata.type': schema.odataType, ...render(o, schema, undefined) });
    }
    return json(200, { '@odata.context': `${req.base}/v1.0/$metadata#directoryObjects`, value });
  }
  if (key === 'getAvailableExtensionProperties' && req.method === 'POST') {
    const value = [...ctx.store.extensions.values()].map((e) => ({
      '@odata.type': '#microsoft.graph.extensionProperty',
      ...publicExtension(e),
    }));
    return json(200, {
      '@odata.context': `${req.base}/v1.0/$metadata#Collection(microsoft.graph.extensionProperty)`,
      value,
    });
  }
  if (key === undefined || req.method !== 'GET') throw methodNotAllowed();
  const o = findAnyVisible(ctx, req, key);
  const schema = schemas[o.kind];
  return json(200, {
    '@odata.context': `${req.base}/v1.0/$metadata#directoryObjects/$entity`,
    '@odata.type': schema.odataType,
    ...render(o, schema, undefined),
  });
}

export function publicExtension(e: {
  id: string;
  name: string;
  dataType: string;
  isMultiValued: boolean;
  isSyncedFromOnPremises: boolean;
  targetObjects: string[];
  appDisplayName: string;
}): Record<string, unknown> {
  return {
    id: e.id,
    deletedDateTime: null,
    appDisplayName: e.appDisplayName,
    dataType: e.dataType,
    isMultiValued: e.isMultiValued,
    isSyncedFromOnPremises: e.isSyncedFromOnPremises,
    name: e.name,
    targetObjects: e.targetObjects,
  };
}
