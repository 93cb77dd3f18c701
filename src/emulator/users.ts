/**
 * /users (graph-facts §1): create with the required properties and UPN rules, read by id or UPN, update,
 * soft delete to /directory/deletedItems; memberOf / transitiveMemberOf.
 */
import type { Ctx } from './context.js';
import { findAnyVisible, findVisible, idFromReference, visible } from './context.js';
import {
  GraphError,
  UNIMPLEMENTED,
  conflict,
  json,
  noContent,
  invalidValues,
  methodNotAllowed,
  bodyObject,
  notImplemented,
  segmentNotFound,
  type GraphRequest,
  type GraphResponse,
} from './http.js';
import { checkSyncedWrite, handleSyncBehavior, isSynced, masteredError } from './sync.js';
import { assignUserLicense, listLicenseDetails } from './licenses.js';
import { expandOne, parseExpand } from './expand.js';
import { applyProps, proxyAddressesWithMail, proxyConflict, upnError, upnProblem } from './props.js';
import {
  collectionSource,
  contextUrl,
  countResponse,
  idSetSource,
  listResponse,
  parseSelect,
  render,
} from './query.js';
import { schemas, userSchema } from './schema.js';
import type { DirObject } from './store.js';
import { softDelete } from './directory.js';

const REQUIRED = ['accountEnabled', 'displayName', 'mailNickname', 'passwordProfile', 'userPrincipalName'];

export function handleUsers(ctx: Ctx, req: GraphRequest): GraphResponse {
  const [, key, rel, ...rest] = req.segments;
  const { store } = ctx;
  if (key === undefined) {
    if (req.method === 'GET') {
      // user-list-manager documents GET /users?$expand=manager($select=…); parse once, expand per item.
      const items = req.query.has('$expand') ? parseExpand(req.query.get('$expand')!, 'user') : undefined;
      return listResponse(req, store, collectionSource(store.users), () => userSchema, {
        contextFragment: 'users',
        schema: userSchema,
        visible: (o) => visible(o, req),
        expand: (o) => expandOne(ctx, req, o, items),
      });
    }
    if (req.method === 'POST') return createUser(ctx, req);
    throw methodNotAllowed();
  }
  if (key === '$count' && rel === undefined)
    return countResponse(req, store, userSchema, store.users, (o) => visible(o, req));
  const user = findVisible(ctx, req, 'user', key);
  if (rel === undefined) {
    if (req.method === 'GET') {
      const select = parseSelect(req, userSchema, store, ['manager', 'directReports']);
      return json(200, {
        '@odata.context': contextUrl(req, 'users/$entity', select),
        ...render(user, userSchema, select),
        ...expandOne(ctx, req, user),
      });
    }
    if (req.method === 'PATCH') return updateUser(ctx, req, user);
    if (req.method === 'DELETE') {
      softDelete(ctx, user, req.now);
      return noContent();
    }
    throw methodNotAllowed();
  }
  if (rel === 'manager') return handleManager(ctx, req, user, rest);
  if (rel === 'onPremisesSyncBehavior') return handleSyncBehavior(ctx, req, user, rest);
  if (rel === 'assignLicense' && rest.length === 0) return assignUserLicense(ctx, req, user);
  if (rel === 'licenseDetails' && rest.length === 0) return listLicenseDetails(ctx, req, user);
  if (rel === 'directReports' && rest.length === 0 && req.method === 'GET') {
    return listResponse(
      req,
      store,
      idSetSource([...(store.reports.get(user.id) ?? [])], (id) => store.get(id)),
      (o) => schemas[o.kind],
      {
        contextFragment: 'directoryObjects',
        typed: true,
        visible: (o) => visible(o, req),
      },
    );
  }
  if ((rel === 'memberOf' || rel === 'transitiveMemberOf') && rest.length === 0 && req.method === 'GET') {
    const ids = rel === 'memberOf' ? [...(store.memberOf.get(user.id) ?? [])] : transitiveMemberOf(ctx, user.id);
    return listResponse(
      req,
      store,
      idSetSource(ids, (id) => store.groups.byId.get(id)),
      () => schemas.group,
      {
        contextFragment: 'directoryObjects',
        typed: true,
        visible: (o) => visible(o, req),
      },
    );
  }
  if (UNIMPLEMENTED.user.has(rel)) throw notImplemented();
  throw segmentNotFound(rel);
}

/** graph-facts §1 Manager: PUT/DELETE manager/$ref → 204; GET manager, or the observed 404. */
function handleManager(ctx: Ctx, req: GraphRequest, user: DirObject, rest: string[]): GraphResponse {
  const { store } = ctx;
  const noManager = (): GraphError =>
    new GraphError(
      404,
      'Request_ResourceNotFound',
      "Resource 'manager' does not exist or one of its queried reference-property objects are not present.",
    );
  if (rest.length === 0 && req.method === 'GET') {
    const id = store.managers.get(user.id);
    const m = id === undefined ? undefined : store.get(id);
    if (!m || !visible(m, req)) throw noManager();
    const schema = schemas[m.kind];
    return json(200, {
      '@odata.context': `${req.base}/v1.0/$metadata#directoryObjects/$entity`,
      '@odata.type': schema.odataType,
      ...render(m, schema, parseSelect(req, schema, store)),
    });
  }
  if (rest.length === 1 && rest[0] === '$ref') {
    // Entra Connect flows manager from AD (graph-facts-2 §1: treat as AD-owned; Graph's answer is not documented).
    if ((req.method === 'PUT' || req.method === 'DELETE') && isSynced(user)) throw masteredError();
    if (req.method === 'PUT') {
      const id = idFromReference(bodyObject(req)['@odata.id']);
      if (id === undefined) throw invalidValues();
      const m = findAnyVisible(ctx, req, id);
      if (m.kind === 'group' || m.id === user.id) throw invalidValues(); // a manager is a user or an orgContact
      store.setManager(user.id, m.id);
      return noContent();
    }
    if (req.method === 'DELETE') {
      if (!store.managers.has(user.id)) throw noManager();
      store.setManager(user.id, undefined);
      return noContent();
    }
    if (req.method === 'GET') {
      const id = store.managers.get(user.id);
      if (id === undefined) throw noManager();
      return json(200, {
        '@odata.context': `${req.base}/v1.0/$metadata#directoryObjects/$ref`,
        '@odata.id': `${req.base}/v1.0/directoryObjects/${id}`,
      });
    }
  }
  throw methodNotAllowed();
}

export function transitiveMemberOf(ctx: Ctx, id: string): string[] {
  const seen = new Set<string>();
  const queue = [...(ctx.store.memberOf.get(id) ?? [])];
  while (queue.length > 0) {
    const g = queue.shift()!;
    if (seen.has(g)) continue;
    seen.add(g);
    for (const p of ctx.store.memberOf.get(g) ?? []) queue.push(p);
  }
  return [...seen];
}

function createUser(ctx: Ctx, req: GraphRequest): GraphResponse {
  const { store } = ctx;
  const body = bodyObject(req);
  // graph-facts §1: required properties.
  for (const p of REQUIRED) if (body[p] === undefined || body[p] === null) throw invalidValues();
  const problem = upnProblem(body['userPrincipalName'], verifiedDomains(ctx));
  if (problem) throw upnError(problem);
  const props: Record<string, unknown> = {};
  applyProps(store, userSchema, props, body, 'create');
  delete props['passwordProfile']; // never stored: write-only, and the state file must not hold passwords
  const upn = props['userPrincipalName'] as string;
  if (store.upns.has(upn.toLowerCase())) throw conflict('userPrincipalName');
  checkAnchors(ctx, '', props);
  if (typeof props['mail'] === 'string') {
    props['proxyAddresses'] = proxyAddressesWithMail([], props['mail']);
    const holder = proxyConflict(store, '', [props['mail']]);
    if (holder) throw conflict('proxyAddresses', holder);
  }
  props['createdDateTime'] = new Date(req.now).toISOString().replace(/\.\d{3}Z$/, 'Z');
  props['userType'] ??= 'Member';
  props['securityIdentifier'] = sid(req.now);
  const o = store.newObject('user', props, req.now + ctx.lagMs());
  store.users.add(o);
  store.registerAddresses(o);
  store.logChange({ kind: 'user', id: o.id });
  return json(201, {
    '@odata.context': `${req.base}/v1.0/$metadata#users/$entity`,
    ...render(o, userSchema, undefined),
  });
}

function updateUser(ctx: Ctx, req: GraphRequest, user: DirObject): GraphResponse {
  const { store } = ctx;
  const body = bodyObject(req);
  checkSyncedWrite(ctx, user, body);
  const next: Record<string, unknown> = { ...user.props };
  applyProps(store, userSchema, next, body, 'update');
  delete next['passwordProfile'];
  checkAnchors(ctx, user.id, next);
  const upn = next['userPrincipalName'] as string;
  if (
    upn.toLowerCase() !== String(user.props['userPrincipalName']).toLowerCase() ||
    body['userPrincipalName'] !== undefined
  ) {
    const problem = upnProblem(upn, verifiedDomains(ctx));
    if (problem) throw upnError(problem);
    const holder = store.upns.get(upn.toLowerCase());
    if (holder !== undefined && holder !== user.id) throw conflict('userPrincipalName');
  }
  if (typeof body['mail'] === 'string') {
    const holder = proxyConflict(store, user.id, [body['mail']]);
    if (holder) throw conflict('proxyAddresses', holder);
    next['proxyAddresses'] = proxyAddressesWithMail(user.props['proxyAddresses'], body['mail']);
  }
  commit(ctx, user, next);
  return noContent();
}

/**
 * onPremisesImmutableId and onPremisesSecurityIdentifier are unique in the tenant (graph-facts-2 §1): a duplicate
 * is 400 with ObjectConflict on the property and ConflictingObjects naming the holder.
 */
export function checkAnchors(ctx: Ctx, selfId: string, props: Record<string, unknown>): void {
  for (const p of ['onPremisesImmutableId', 'onPremisesSecurityIdentifier'] as const) {
    const v = props[p];
    if (typeof v !== 'string' || v === '') continue;
    for (const kind of ['user', 'group'] as const) {
      for (const id of ctx.store.collection(kind).lookup(p, v) ?? []) {
        if (id !== selfId) throw conflict(p, id, kind === 'user' ? 'User' : 'Group');
      }
    }
  }
}

/** Replaces an object's properties, keeping indexes and address registrations right. */
export function commit(ctx: Ctx, o: DirObject, next: Record<string, unknown>): void {
  const { store } = ctx;
  const coll = store.collection(o.kind);
  store.unregisterAddresses(o);
  coll.indexRemove(o);
  const changed = [...new Set([...Object.keys(o.props), ...Object.keys(next)])].filter(
    (k) => JSON.stringify(o.props[k]) !== JSON.stringify(next[k]),
  );
  o.props = next;
  coll.indexAdd(o);
  store.registerAddresses(o);
  store.logChange({ kind: o.kind, id: o.id, props: changed });
}

export function verifiedDomains(ctx: Ctx): string[] {
  return [ctx.store.config.initialDomain, ...ctx.store.config.domains];
}

/** A cloud object's SID, S-1-12-1-… (graph-facts §2 shows it on groups; users carry one too). */
export function sid(seed: number): string {
  const r = (): number => Math.floor(Math.random() * 2 ** 32);
  return `S-1-12-1-${r()}-${r()}-${r()}-${(seed >>> 0) % 2 ** 32}`;
}
