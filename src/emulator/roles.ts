/**
 * /directoryRoles: the tenant's activated directory roles (Global Administrator, …) and their members, the
 * minimum a sync client needs to know who holds an admin role (it must never soft-match one).
 *
 *   GET /directoryRoles                          activated roles: id, displayName, description, roleTemplateId
 *   GET /directoryRoles?$expand=members[($select=…)]  the same with each role's members inline
 *   GET /directoryRoles/{id | roleTemplateId}    one role (Learn: "You can use both the object ID and template ID")
 *   GET /directoryRoles/{id}/members             its members (directoryObjects, with @odata.type)
 *   POST /directoryRoles/{id}/members/$ref       add a member (204; 400 if already one; 404 if missing)
 *   DELETE /directoryRoles/{id}/members/{mid}/$ref  remove one (204; 404 if not a member)
 *
 * The role list is not paged (graph-facts §4: "directoryRoles don't support paging"): every role comes in one
 * response, without `@odata.nextLink`. Activating a role from a template (POST /directoryRoles) is not
 * emulated: roles are seeded (`seed({ directoryRoles })`). Sources: learn.microsoft.com/graph/api/
 * directoryrole-list, directoryrole-get, directoryrole-list-members, directoryrole-post-members,
 * directoryrole-delete-member; resources/directoryrole.
 */
import { randomUUID } from 'node:crypto';
import type { Ctx } from './context.js';
import { findAnyVisible, idFromReference, visible } from './context.js';
import {
  GraphError,
  badRequest,
  bodyObject,
  invalidValues,
  json,
  methodNotAllowed,
  noContent,
  notFound,
  segmentNotFound,
  type GraphRequest,
  type GraphResponse,
} from './http.js';
import { evaluate, FilterSyntaxError, parseFilter } from './odata.js';
import { idSetSource, listResponse, parseSelect, render } from './query.js';
import { schemas } from './schema.js';
import type { DirectoryRole, Store } from './store.js';

const ROLE_PROPS = ['id', 'deletedDateTime', 'description', 'displayName', 'roleTemplateId'];
const ROLE_TYPE = 'microsoft.graph.directoryRole';

/** Built-in role templates the emulator knows by id, for seeding by displayName alone. */
export const ROLE_TEMPLATES: Record<string, { displayName: string; description: string }> = {
  '62e90394-69f5-4237-9190-012177145e10': {
    displayName: 'Global Administrator',
    description:
      'Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.',
  },
  'fe930be7-5e62-47db-91af-98c3a49a38b1': {
    displayName: 'User Administrator',
    description: 'Can manage all aspects of users and groups, including resetting passwords for limited admins.',
  },
  'e8611ab8-c189-46e8-94e1-60213ab1f814': {
    displayName: 'Privileged Role Administrator',
    description:
      'Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.',
  },
  '194ae4cb-b126-40b2-bd5b-6091b380977d': {
    displayName: 'Security Administrator',
    description:
      'Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365.',
  },
  '29232cdf-9323-42fd-ade2-1d097af3e4de': {
    displayName: 'Exchange Administrator',
    description: 'Can manage all aspects of the Exchange product.',
  },
};

export interface SeedRole {
  id?: string;
  displayName?: string;
  description?: string;
  roleTemplateId: string;
  members?: string[];
}

/** Seeding: activates a role (by template id) and adds members; bypasses Graph's write rules. */
export function seedRole(store: Store, r: SeedRole): DirectoryRole {
  const tpl = ROLE_TEMPLATES[r.roleTemplateId.toLowerCase()];
  const displayName = r.displayName ?? tpl?.displayName;
  if (displayName === undefined)
    throw new Error(`seed: directory role ${r.roleTemplateId} needs a displayName (unknown template)`);
  let role = [...store.directoryRoles.values()].find(
    (x) => x.roleTemplateId.toLowerCase() === r.roleTemplateId.toLowerCase(),
  );
  if (!role) {
    role = {
      id: r.id ?? randomUUID(),
      displayName,
      description: r.description ?? tpl?.description ?? '',
      roleTemplateId: r.roleTemplateId.toLowerCase(),
      members: new Set(),
    };
    store.directoryRoles.set(role.id, role);
  }
  for (const m of r.members ?? []) {
    const o = store.get(m);
    if (!o) throw new Error(`seed: member ${m} of directory role ${displayName} does not exist`);
    if (!canHoldRole(o))
      throw new Error(
        `seed: group ${m} can't hold directory role ${displayName}: only groups created with isAssignableToRole: true can`,
      );
    role.members.add(m);
  }
  store.dirty = true;
  return role;
}

/**
 * Only role-assignable groups (isAssignableToRole: true, set at creation) can be assigned a role (Learn:
 * "Use Microsoft Entra groups to manage role assignments"); users and service principals always can.
 */
function canHoldRole(o: { kind: string; props: Record<string, unknown> }): boolean {
  return o.kind !== 'group' || o.props['isAssignableToRole'] === true;
}

function renderRole(r: DirectoryRole, select: string[] | undefined): Record<string, unknown> {
  const all: Record<string, unknown> = {
    id: r.id,
    deletedDateTime: null,
    description: r.description,
    displayName: r.displayName,
    roleTemplateId: r.roleTemplateId,
  };
  if (select === undefined) return all;
  const out: Record<string, unknown> = {};
  for (const p of select) out[p] = all[p];
  return out;
}

function roleSelect(raw: string | null): string[] | undefined {
  if (raw === null) return undefined;
  const props = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const p of props) {
    if (!ROLE_PROPS.includes(p) && p !== 'members')
      throw badRequest(`Could not find a property named '${p}' on type '${ROLE_TYPE}'.`);
  }
  return props.filter((p) => p !== 'members');
}

/** `$expand=members` or `$expand=members($select=a,b)`: the nested select, or null when not expanded. */
function parseExpand(raw: string | null): { select: string[] | undefined } | null {
  if (raw === null) return null;
  const m = /^\s*members\s*(?:\(\s*\$select\s*=\s*([^)]*)\))?\s*$/.exec(raw);
  if (!m) {
    const name = raw.split('(')[0]!.trim();
    throw badRequest(`Could not find a property named '${name}' on type '${ROLE_TYPE}'.`);
  }
  return {
    select:
      m[1] === undefined
        ? undefined
        : m[1]
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s.length > 0),
  };
}

function findRole(store: Store, key: string): DirectoryRole {
  const r =
    store.directoryRoles.get(key) ??
    [...store.directoryRoles.values()].find((x) => x.roleTemplateId === key.toLowerCase());
  if (!r) throw notFound(key);
  return r;
}

export function handleDirectoryRoles(ctx: Ctx, req: GraphRequest): GraphResponse {
  const { store } = ctx;
  const [, key, rel, memberId, ref, ...rest] = req.segments;
  if (key === undefined) {
    if (req.method === 'POST')
      throw new GraphError(501, 'NotImplemented', 'This operation target is not yet supported.');
    if (req.method !== 'GET') throw methodNotAllowed();
    const select = roleSelect(req.query.get('$select'));
    const expand = parseExpand(req.query.get('$expand'));
    let roles = [...store.directoryRoles.values()];
    const rawFilter = req.query.get('$filter');
    if (rawFilter !== null) {
      let node;
      try {
        node = parseFilter(rawFilter);
      } catch (e) {
        if (e instanceof FilterSyntaxError) throw badRequest(`Invalid filter clause: ${e.message}`);
        throw e;
      }
      roles = roles.filter((r) => evaluate(node, (p) => renderRole(r, undefined)[p] ?? null));
    }
    const value = roles.map((r) => {
      const item = renderRole(r, select);
      if (expand) item['members'] = membersOf(ctx, req, r, expand.select);
      return item;
    });
    const sel = req.query.get('$select');
    return json(200, {
      '@odata.context': `${req.base}/v1.0/$metadata#directoryRoles${sel !== null ? `(${sel})` : ''}`,
      value,
    });
  }
  const role = findRole(store, key);
  if (rel === undefined) {
    if (req.method !== 'GET') throw methodNotAllowed();
    const select = roleSelect(req.query.get('$select'));
    const expand = parseExpand(req.query.get('$expand'));
    const item = renderRole(role, select);
    if (expand) item['members'] = membersOf(ctx, req, role, expand.select);
    return json(200, { '@odata.context': `${req.base}/v1.0/$metadata#directoryRoles/$entity`, ...item });
  }
  if (rel !== 'members') throw segmentNotFound(rel);
  if (memberId === undefined) {
    if (req.method !== 'GET') throw methodNotAllowed();
    return listResponse(
      req,
      store,
      idSetSource([...role.members], (id) => store.get(id)),
      (o) => schemas[o.kind],
      {
        contextFragment: 'directoryObjects',
        typed: true,
        visible: (o) => visible(o, req),
      },
    );
  }
  if (memberId === '$ref' && ref === undefined) {
    if (req.method !== 'POST') throw methodNotAllowed();
    const id = idFromReference(bodyObject(req)['@odata.id']);
    if (id === undefined) throw invalidValues();
    const member = findAnyVisible(ctx, req, id);
    if (!canHoldRole(member))
      throw badRequest('Only groups with isAssignableToRole set to true can be assigned to a directory role.');
    if (role.members.has(member.id))
      throw badRequest(
        "One or more added object references already exist for the following modified properties: 'members'.",
      );
    role.members.add(member.id);
    store.dirty = true;
    return noContent();
  }
  if (ref === '$ref' && rest.length === 0 && req.method === 'DELETE') {
    if (!role.members.has(memberId)) throw notFound(memberId);
    role.members.delete(memberId);
    store.dirty = true;
    return noContent();
  }
  throw ref === undefined ? methodNotAllowed() : segmentNotFound(ref);
}

/** A role's visible members as directoryObjects (with @odata.type), all properties or the nested $select. */
function membersOf(
  ctx: Ctx,
  req: GraphRequest,
  role: DirectoryRole,
  select: string[] | undefined,
): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const id of role.members) {
    const o = ctx.store.get(id);
    if (!o || !visible(o, req)) continue;
    const schema = schemas[o.kind];
    const sel =
      select === undefined
        ? undefined
        : parseSelect({ ...req, query: new URLSearchParams({ $select: select.join(',') }) }, schema, ctx.store);
    out.push({ '@odata.type': schema.odataType, ...render(o, schema, sel) });
  }
  return out;
}
