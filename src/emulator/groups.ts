/**
 * /groups (graph-facts §2): security and Microsoft 365 groups are writable; mail-enabled security groups and
 * distribution lists are read-only. Members: POST members/$ref, PATCH members@odata.bind (≤ 20, atomic),
 * DELETE members/{id}/$ref, GET members and transitiveMembers.
 */
import type { Ctx } from './context.js';
import { findAnyVisible, findVisible, idFromReference, visible } from './context.js';
import {
  GraphError,
  UNIMPLEMENTED,
  badRequest,
  bodyObject,
  conflict,
  invalidValues,
  json,
  methodNotAllowed,
  noContent,
  notFound,
  notImplemented,
  segmentNotFound,
  type GraphRequest,
  type GraphResponse,
} from './http.js';
import { checkSyncedWrite, handleSyncBehavior, isSynced, masteredError } from './sync.js';
import { assignGroupLicense } from './licenses.js';
import { expandOne, parseExpand } from './expand.js';
import { applyProps, proxyConflict } from './props.js';
import {
  collectionSource,
  contextUrl,
  countResponse,
  idSetSource,
  listResponse,
  parseSelect,
  render,
} from './query.js';
import { groupSchema, schemas } from './schema.js';
import type { DirObject } from './store.js';
import { commit, sid } from './users.js';
import { isoSeconds, isUnified, softDelete } from './directory.js';

const REQUIRED = ['displayName', 'mailEnabled', 'mailNickname', 'securityEnabled'];
const BIND_LIMIT = 20;

/** graph-facts §2, observed message (pnp/cli-microsoft365#5476). */
function mailEnabledSecurityError(verb: 'Create' | 'Update'): GraphError {
  return badRequest(`Cannot ${verb} a mail-enabled security groups and or distribution list.`);
}

/** Mail-enabled security groups and distribution lists: Exchange-managed, read-only through Graph. */
function isExchangeManaged(o: DirObject): boolean {
  return !isUnified(o) && o.props['mailEnabled'] === true;
}

export function handleGroups(ctx: Ctx, req: GraphRequest): GraphResponse {
  const { store } = ctx;
  const [, key, rel, memberId, ref, ...rest] = req.segments;
  if (key === undefined) {
    if (req.method === 'GET') {
      const items = req.query.has('$expand') ? parseExpand(req.query.get('$expand')!, 'group') : undefined;
      return listResponse(req, store, collectionSource(store.groups), () => groupSchema, {
        contextFragment: 'groups',
        schema: groupSchema,
        visible: (o) => visible(o, req),
        expand: (o) => expandOne(ctx, req, o, items),
      });
    }
    if (req.method === 'POST') return createGroup(ctx, req);
    throw methodNotAllowed();
  }
  if (key === '$count' && rel === undefined)
    return countResponse(req, store, groupSchema, store.groups, (o) => visible(o, req));
  const group = findVisible(ctx, req, 'group', key);
  if (rel === undefined) {
    if (req.method === 'GET') {
      const select = parseSelect(req, groupSchema, store, ['members', 'owners']);
      return json(200, {
        '@odata.context': contextUrl(req, 'groups/$entity', select),
        ...render(group, groupSchema, select),
        ...expandOne(ctx, req, group),
      });
    }
    if (req.method === 'PATCH') return updateGroup(ctx, req, group);
    if (req.method === 'DELETE') {
      softDelete(ctx, group, req.now);
      return noContent();
    }
    throw methodNotAllowed();
  }
  if (rel === 'onPremisesSyncBehavior')
    return handleSyncBehavior(
      ctx,
      req,
      group,
      [memberId, ref, ...rest].filter((x): x is string => x !== undefined),
    );
  if (rel === 'assignLicense' && memberId === undefined) return assignGroupLicense(ctx, req, group);
  if (rel === 'members' || rel === 'owners') {
    // graph-facts-2 §1: members (and owners) of a synced group are AD-mastered.
    if (req.method !== 'GET' && isSynced(group)) throw masteredError();
    const relation = rel === 'members' ? store.members : store.owners;
    if (memberId === undefined) {
      if (req.method === 'GET') return listMembers(ctx, req, [...(relation.get(group.id) ?? [])], `directoryObjects`);
      throw methodNotAllowed(); // adding is POST …/$ref
    }
    if (memberId === '$ref' && ref === undefined) {
      if (req.method !== 'POST') throw methodNotAllowed();
      if (isExchangeManaged(group)) throw mailEnabledSecurityError('Update');
      const id = idFromReference(bodyObject(req)['@odata.id']);
      if (id === undefined) throw invalidValues();
      const member = findAnyVisible(ctx, req, id);
      if (relation.get(group.id)?.has(member.id)) {
        // graph-facts §2: 400 when already a member (observed message).
        throw badRequest(
          `One or more added object references already exist for the following modified properties: '${rel}'.`,
        );
      }
      if (rel === 'members') store.addMember(group.id, member);
      else store.addOwner(group.id, member.id);
      return noContent();
    }
    if (ref === '$ref' && rest.length === 0 && req.method === 'DELETE') {
      if (isExchangeManaged(group)) throw mailEnabledSecurityError('Update');
      if (!relation.get(group.id)?.has(memberId)) throw notFound(memberId);
      const member = store.get(memberId);
      if (rel === 'members') store.removeMember(group.id, memberId, member?.kind ?? 'user');
      else store.removeOwner(group.id, memberId);
      return noContent();
    }
    if (ref === undefined && req.method === 'DELETE' && rel === 'members') {
      // graph-facts §2 caution: without /$ref the member object itself is deleted.
      if (!relation.get(group.id)?.has(memberId)) throw notFound(memberId);
      const member = findAnyVisible(ctx, req, memberId);
      if (member.kind === 'contact')
        throw new GraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
      softDelete(ctx, member, req.now);
      return noContent();
    }
    if (ref === undefined && req.method === 'GET') {
      if (!relation.get(group.id)?.has(memberId)) throw notFound(memberId);
      const m = findAnyVisible(ctx, req, memberId);
      const schema = schemas[m.kind];
      return json(200, {
        '@odata.context': `${req.base}/v1.0/$metadata#directoryObjects/$entity`,
        '@odata.type': schema.odataType,
        ...render(m, schema, parseSelect(req, schema, store)),
      });
    }
    if (ref === undefined) throw methodNotAllowed();
    throw segmentNotFound(ref);
  }
  if (rel === 'transitiveMembers' && memberId === undefined && req.method === 'GET') {
    return listMembers(ctx, req, transitiveMembers(ctx, group.id), 'directoryObjects');
  }
  if (UNIMPLEMENTED.group.has(rel)) throw notImplemented();
  throw segmentNotFound(rel);
}

function listMembers(ctx: Ctx, req: GraphRequest, ids: string[], fragment: string): GraphResponse {
  const { store } = ctx;
  // `$select` on a directoryObject collection: each object shows the selected properties its type has.
  const selectRaw = req.query.get('$select');
  const q = new URLSearchParams(req.query);
  q.delete('$select');
  const res = listResponse(
    { ...req, query: q },
    store,
    idSetSource(ids, (id) => store.get(id)),
    (o) => schemas[o.kind],
    {
      contextFragment: fragment,
      typed: true,
      visible: (o) => visible(o, req),
    },
  );
  const body = res.body as { value: Record<string, unknown>[]; '@odata.nextLink'?: string };
  if (selectRaw !== null) {
    const wanted = new Set(selectRaw.split(',').map((s) => s.trim()));
    wanted.add('id');
    body.value = body.value.map((item) => {
      const o = store.get(item['id'] as string)!;
      const schema = schemas[o.kind];
      const sel = [...wanted].filter(
        (p) => schema.properties.has(p) || (p.startsWith('extension_') && store.extensions.has(p)),
      );
      return { '@odata.type': schema.odataType, ...render(o, schema, sel) };
    });
    if (body['@odata.nextLink']) {
      const u = new URL(body['@odata.nextLink']);
      u.searchParams.set('$select', selectRaw);
      body['@odata.nextLink'] = u.toString().replace(/%24/g, '$');
    }
  }
  return res;
}

export function transitiveMembers(ctx: Ctx, groupId: string): string[] {
  const seen = new Set<string>();
  const visitedGroups = new Set<string>([groupId]);
  const queue = [groupId];
  while (queue.length > 0) {
    const g = queue.shift()!;
    for (const m of ctx.store.members.get(g) ?? []) {
      if (!seen.has(m) && m !== groupId) seen.add(m);
      if (ctx.store.groups.byId.has(m) && !visitedGroups.has(m)) {
        visitedGroups.add(m);
        queue.push(m);
      }
    }
  }
  return [...seen];
}

/** Resolves `members@odata.bind` / `owners@odata.bind` up front so the write is atomic (graph-facts §2). */
function resolveBinds(
  ctx: Ctx,
  req: GraphRequest,
  body: Record<string, unknown>,
): { members: DirObject[]; owners: DirObject[] } {
  const lists = { members: [] as DirObject[], owners: [] as DirObject[] };
  let total = 0;
  for (const rel of ['members', 'owners'] as const) {
    const raw = body[`${rel}@odata.bind`];
    if (raw === undefined) continue;
    if (!Array.isArray(raw)) throw invalidValues();
    total += raw.length;
    if (total > BIND_LIMIT) {
      // graph-facts §2: "up to 20 members can be added in a single request".
      throw badRequest(
        `The request contains ${total} relationship references; at most ${BIND_LIMIT} can be added in a single request.`,
      );
    }
    for (const ref of raw) {
      const id = idFromReference(ref);
      if (id === undefined) throw invalidValues();
      lists[rel].push(findAnyVisible(ctx, req, id));
    }
  }
  return lists;
}

function createGroup(ctx: Ctx, req: GraphRequest): GraphResponse {
  const { store } = ctx;
  const body = bodyObject(req);
  for (const p of REQUIRED) if (body[p] === undefined || body[p] === null) throw invalidValues();
  const groupTypes = body['groupTypes'] ?? [];
  if (!Array.isArray(groupTypes)) throw invalidValues();
  const unified = groupTypes.includes('Unified');
  if (!unified && body['mailEnabled'] === true) throw mailEnabledSecurityError('Create'); // graph-facts §2 table
  if (!unified && body['securityEnabled'] !== true) throw invalidValues();
  if (groupTypes.some((t) => t !== 'Unified')) throw invalidValues();
  const props: Record<string, unknown> = {};
  applyProps(store, groupSchema, props, body, 'create');
  props['groupTypes'] = groupTypes;
  const binds = resolveBinds(ctx, req, body);
  if (unified) {
    const mail = `${String(props['mailNickname'])}@${store.config.initialDomain}`;
    const holder = proxyConflict(store, '', [mail]);
    if (holder) throw conflict('proxyAddresses', holder);
    props['mail'] = mail;
    props['proxyAddresses'] = [`SMTP:${mail}`];
    props['visibility'] ??= 'Public';
    props['renewedDateTime'] = isoSeconds(req.now);
  }
  props['createdDateTime'] = isoSeconds(req.now);
  props['securityIdentifier'] = sid(req.now);
  const o = store.newObject('group', props, req.now + ctx.lagMs());
  store.groups.add(o);
  store.registerAddresses(o);
  store.logChange({ kind: 'group', id: o.id });
  for (const m of binds.members) if (!store.members.get(o.id)?.has(m.id)) store.addMember(o.id, m);
  for (const m of binds.owners) store.addOwner(o.id, m.id);
  return json(201, {
    '@odata.context': `${req.base}/v1.0/$metadata#groups/$entity`,
    '@odata.id': `${req.base}/v2/${store.config.tenantId}/directoryObjects/${o.id}/Microsoft.DirectoryServices.Group`,
    ...render(o, groupSchema, undefined),
  });
}

function updateGroup(ctx: Ctx, req: GraphRequest, group: DirObject): GraphResponse {
  const { store } = ctx;
  const body = bodyObject(req);
  checkSyncedWrite(ctx, group, body);
  if (isExchangeManaged(group)) throw mailEnabledSecurityError('Update');
  const next: Record<string, unknown> = { ...group.props };
  for (const p of ['mailEnabled', 'securityEnabled', 'groupTypes']) {
    if (
      body[p] !== undefined &&
      JSON.stringify(body[p]) !== JSON.stringify(group.props[p] ?? (p === 'groupTypes' ? [] : null))
    ) {
      // Turning a security group into a mail-enabled one is an Exchange operation.
      if (p === 'mailEnabled' && body[p] === true && !isUnified(group)) throw mailEnabledSecurityError('Update');
    }
  }
  const { groupTypes: _ignored, ...rest } = body;
  applyProps(store, groupSchema, next, rest, 'update');
  if (body['groupTypes'] !== undefined) next['groupTypes'] = body['groupTypes'];
  const binds = resolveBinds(ctx, req, body);
  for (const m of binds.members) {
    if (store.members.get(group.id)?.has(m.id)) {
      throw badRequest(
        "One or more added object references already exist for the following modified properties: 'members'.",
      );
    }
  }
  if (new Set(binds.members.map((m) => m.id)).size !== binds.members.length) {
    throw badRequest(
      "One or more added object references already exist for the following modified properties: 'members'.",
    );
  }
  if (Object.keys(rest).some((k) => !k.endsWith('@odata.bind'))) commit(ctx, group, next);
  for (const m of binds.members) store.addMember(group.id, m);
  for (const m of binds.owners) store.addOwner(group.id, m.id);
  return noContent();
}
