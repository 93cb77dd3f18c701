/**
 * One read of the tenant: every user and group (owned or not), direct memberships, and the soft-deleted
 * objects adsync owned. Users, groups and memberships are read concurrently, each as one paged pass with
 * `$select` and the largest page Graph allows.
 *
 * Memberships come from `/groups/delta?$select=members`, which returns `members@delta` for all groups in one
 * paged pass instead of one request per group (graph-facts §5). If the tenant refuses delta, or a group
 * shows up that the delta pass did not cover, members are read per group through `$batch`.
 */
import type { TargetObject, TargetSnapshot } from '../../model/target.js';
import { BatchQueue } from './batch.js';
import type { BatchTransport } from './batch.js';
import { GraphCallError } from './graph.js';
import type { Graph } from './graph.js';
import { toTargetError } from './errors.js';
import { LICENSE_USER_PROPERTY, readSubscribedSkus } from './licenses.js';

export interface EntraReadRequest {
  /** Graph property names the engine compares (flow targets), besides id etc. */
  userProperties: string[];
  groupProperties: string[];
  readMembers: boolean;
  /**
   * Holders of directory roles must be known (soft match is on and never adopts an admin): a failure to
   * read them is then an error, not "no admins".
   */
  requireAdminRoles?: boolean;
  /** The spec has licence rules: read users' licenseAssignmentStates and the tenant's subscribedSkus. */
  readLicenses?: boolean;
}

export type MembersVia = 'delta' | 'batch';

export const ALWAYS_USER = ['userPrincipalName', 'onPremisesImmutableId', 'mail', 'displayName', 'proxyAddresses'];
export const ALWAYS_GROUP = ['displayName', 'mail', 'mailEnabled', 'securityEnabled', 'groupTypes', 'proxyAddresses'];
/** Read for users and groups alike, kept off `attrs` unless a flow targets them (graph-facts-2 §1). */
const SYNC_CLIENT = ['onPremisesSyncEnabled', 'onPremisesSecurityIdentifier'];
/** Relationship properties: read through delta (`manager@delta`), never `$select`ed on the collection. */
export const REFERENCES = new Set(['manager']);
const PAGE = 999;

export interface ReadStats {
  users: number;
  groups: number;
  memberships: number;
  membersVia: MembersVia;
  /** Groups whose members had to be read one by one (delta missed or refused). */
  groupsReadSingly: number;
}

/** The `$select` list: `a.b` (a member of a complex property) selects `a`; relationships are read apart. */
export function selectList(
  always: string[],
  requested: string[],
  anchorProperty: string | undefined,
  digestProperty?: string,
): string[] {
  // Who masters the object and the AD SID it came from are read always: they decide whether adsync may write it.
  const set = new Set(['id', ...always, ...SYNC_CLIENT]);
  for (const p of requested) {
    if (REFERENCES.has(p)) continue;
    const dot = p.indexOf('.');
    set.add(dot < 0 ? p : p.slice(0, dot));
  }
  if (anchorProperty !== undefined) set.add(anchorProperty);
  if (digestProperty !== undefined) set.add(digestProperty);
  return [...set];
}

/**
 * The `attrs` every object of a read starts as: the properties kept on `attrs`, each null. An object given
 * its properties one computed name at a time falls into V8's dictionary mode past a dozen of them (about
 * 1.6 KB a user instead of 0.3 KB: 130 MB over 100,000 users); a copy of one fast object keeps its compact
 * shape. JSON.parse builds objects with fast properties, so the template is one.
 */
const templates = new WeakMap<string[], { key: string; names: string[]; template: Record<string, unknown> }>();
function attrsTemplate(
  props: string[],
  anchorProperty: string | undefined,
  digestProperty: string | undefined,
): { names: string[]; template: Record<string, unknown> } {
  const key = `${anchorProperty ?? ''}\n${digestProperty ?? ''}`;
  let t = templates.get(props);
  if (t === undefined || t.key !== key) {
    const names = props.filter(
      (p) => p !== 'id' && p !== anchorProperty && p !== digestProperty && !SYNC_CLIENT.includes(p),
    );
    const template = JSON.parse(JSON.stringify(Object.fromEntries(names.map((p) => [p, null])))) as Record<
      string,
      unknown
    >;
    t = { key, names, template };
    templates.set(props, t);
  }
  return t;
}

export function toObject(
  raw: Record<string, unknown>,
  kind: 'user' | 'group',
  props: string[],
  anchorProperty: string | undefined,
  digestProperty?: string,
): TargetObject {
  const { names, template } = attrsTemplate(props, anchorProperty, digestProperty);
  const attrs: Record<string, unknown> = { ...template };
  // Every requested property is present; null when Graph has no value (Graph omits unset extensions).
  for (const p of names) attrs[p] = raw[p] ?? null;
  const obj: TargetObject = { id: String(raw['id']), kind, attrs };
  if (raw['onPremisesSyncEnabled'] === true) obj.syncClientMastered = true;
  const sid = raw['onPremisesSecurityIdentifier'];
  if (typeof sid === 'string' && sid !== '') obj.onPremisesSid = sid;
  const anchor = anchorProperty === undefined ? undefined : raw[anchorProperty];
  if (typeof anchor === 'string' && anchor !== '') obj.anchor = anchor;
  const digest = digestProperty === undefined ? undefined : raw[digestProperty];
  if (typeof digest === 'string' && digest !== '') obj.digest = digest;
  return obj;
}

export async function readSnapshot(
  graph: Graph,
  transport: BatchTransport,
  ctx: {
    anchorProperty: string | undefined;
    digestProperty?: string | undefined;
    endpoint: string;
    membersVia: MembersVia;
    concurrency: number;
  },
  request: EntraReadRequest,
): Promise<{
  snapshot: Omit<TargetSnapshot, 'tenant'>;
  stats: ReadStats;
  /** Directory role holders as read (users, groups, service principals): id → role names. */
  admins: Map<string, string[]>;
}> {
  const { anchorProperty, digestProperty } = ctx;
  const wrap = <T>(what: string, permission: string, p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      throw toTargetError(err, what, { endpoint: ctx.endpoint, permission });
    });
  const userProps = selectList(
    ALWAYS_USER,
    request.readLicenses ? [...request.userProperties, LICENSE_USER_PROPERTY] : request.userProperties,
    anchorProperty,
    digestProperty,
  );
  const skusP = request.readLicenses
    ? wrap('reading subscribed SKUs', 'skus', readSubscribedSkus(graph))
    : Promise.resolve(undefined);
  const groupProps = selectList(ALWAYS_GROUP, request.groupProperties, anchorProperty, digestProperty);
  const readManagers = request.userProperties.includes('manager');

  const readAll = async (path: string, kind: 'user' | 'group', props: string[]): Promise<TargetObject[]> => {
    const out: TargetObject[] = [];
    for await (const page of graph.pages<Record<string, unknown>>(path)) {
      for (const raw of page) out.push(toObject(raw, kind, props, anchorProperty, digestProperty));
    }
    return out;
  };

  const usersP = wrap(
    'reading users',
    'users',
    readAll(`/users?$select=${userProps.join(',')}&$top=${PAGE}`, 'user', userProps),
  );
  const groupsP = wrap(
    'reading groups',
    'groups',
    readAll(`/groups?$select=${groupProps.join(',')}&$top=${PAGE}`, 'group', groupProps),
  );

  let membersVia = ctx.membersVia;
  let membersP: Promise<Map<string, Set<string>> | undefined> = Promise.resolve(undefined);
  if (request.readMembers && membersVia === 'delta') {
    membersP = readMembersDelta(graph).catch((err: unknown) => {
      // Delta not offered (or refused): fall back to per-group reads below.
      if (err instanceof GraphCallError && [400, 404, 405, 501].includes(err.status)) {
        membersVia = 'batch';
        return undefined;
      }
      throw toTargetError(err, 'reading group memberships', { endpoint: ctx.endpoint, permission: 'members' });
    });
  }

  // Soft-deleted objects matter only when they are adsync's (restore instead of re-create).
  const deletedP =
    anchorProperty === undefined
      ? Promise.resolve([] as TargetObject[])
      : wrap(
          'reading deleted objects',
          'deleted',
          Promise.all([
            readAll(
              `/directory/deletedItems/microsoft.graph.user?$select=${userProps.join(',')}&$top=${PAGE}`,
              'user',
              userProps,
            ),
            readAll(
              `/directory/deletedItems/microsoft.graph.group?$select=${groupProps.join(',')}&$top=${PAGE}`,
              'group',
              groupProps,
            ),
          ]).then(([u, g]) => [...u, ...g].filter((o) => o.anchor !== undefined)),
        );

  // Managers: one paged delta pass (`manager@delta`) instead of one request per user.
  const managersP = readManagers ? readManagersDelta(graph).catch(() => undefined) : Promise.resolve(undefined);
  // Holders of directory roles: never soft-matched, nor hard-matched unless the spec names them. With soft
  // match, not knowing them stops the plan; without, the snapshot says they are unknown (hard match then
  // adopts nobody the spec does not name).
  let adminRolesUnread: string | undefined;
  const adminsP = request.requireAdminRoles
    ? wrap('reading directory role holders (soft match never adopts an admin)', 'roles', readAdminRoles(graph))
    : readAdminRoles(graph).catch((err: unknown) => {
        adminRolesUnread = toTargetError(err, 'reading directory role holders', {
          endpoint: ctx.endpoint,
          permission: 'roles',
        }).message;
        return new Map<string, string[]>();
      });

  const [users, groups, byGroup, deleted, managers, admins] = await Promise.all([
    usersP,
    groupsP,
    membersP,
    deletedP,
    managersP,
    adminsP,
  ]);
  for (const u of users) {
    if (readManagers) u.attrs['manager'] = managers?.get(u.id) ?? null;
    const roles = admins.get(u.id);
    if (roles !== undefined) u.adminRoles = roles;
  }

  const skus = await skusP;
  let memberships = 0;
  let groupsReadSingly = 0;
  if (request.readMembers) {
    const missing: TargetObject[] = [];
    for (const g of groups) {
      const set = byGroup?.get(g.id);
      if (set === undefined) missing.push(g);
      else {
        g.members = [...set];
        memberships += set.size;
      }
    }
    if (missing.length > 0) {
      groupsReadSingly = missing.length;
      const read = await wrap(
        'reading group memberships',
        'members',
        readMembersPerGroup(
          graph,
          transport,
          missing.map((g) => g.id),
          ctx.concurrency,
        ),
      );
      for (const g of missing) {
        g.members = read.get(g.id) ?? [];
        memberships += g.members.length;
      }
    }
  }

  return {
    snapshot: {
      system: 'entra',
      objects: [...users, ...groups],
      deleted,
      ...(adminRolesUnread !== undefined ? { adminRolesUnread } : {}),
      ...(skus !== undefined ? { skus } : {}),
    },
    stats: { users: users.length, groups: groups.length, memberships, membersVia, groupsReadSingly },
    admins,
  };
}

/** userId → managerId, from one paged `/users/delta?$select=manager` pass. */
async function readManagersDelta(graph: Graph): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const page of graph.pages<Record<string, unknown>>('/users/delta?$select=id,manager')) {
    for (const u of page) {
      const id = u['id'];
      const delta = u['manager@delta'];
      if (typeof id !== 'string' || !Array.isArray(delta)) continue;
      for (const m of delta as { id?: string; '@removed'?: unknown }[]) {
        if (typeof m.id !== 'string') continue;
        if (m['@removed'] !== undefined) out.delete(id);
        else out.set(id, m.id);
      }
    }
  }
  return out;
}

/**
 * memberId → names of the activated directory roles it holds (`/directoryRoles`, members expanded), directly
 * or through a role-assignable group: a role's members may be groups (isAssignableToRole), whose members
 * hold the role as much as a direct member does, so each such group's transitive members count too.
 */
export const DIRECTORY_ROLES_PATH = '/directoryRoles?$select=id,displayName&$expand=members($select=id,displayName)';

export async function readAdminRoles(
  graph: Graph,
  /** The reply to DIRECTORY_ROLES_PATH when it was already fetched (e.g. inside a `$batch`). */
  fetched?: {
    value?: {
      id?: string;
      displayName?: string;
      members?: { id?: string; displayName?: string; '@odata.type'?: string }[];
    }[];
  },
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const add = (id: string, name: string): void => {
    const list = out.get(id);
    if (!list) out.set(id, [name]);
    else if (!list.includes(name)) list.push(name);
  };
  type Member = { id?: string; displayName?: string; '@odata.type'?: string };
  const res =
    fetched ??
    (await graph.get<{ value?: { id?: string; displayName?: string; members?: Member[] }[] }>(DIRECTORY_ROLES_PATH));
  const viaGroups = new Map<string, { label: string; roles: string[] }>();
  for (const role of res.value ?? []) {
    const name = role.displayName ?? role.id ?? 'role';
    for (const m of role.members ?? []) {
      if (typeof m.id !== 'string') continue;
      add(m.id, name);
      if (m['@odata.type'] === '#microsoft.graph.group') {
        const g = viaGroups.get(m.id) ?? { label: m.displayName ?? m.id, roles: [] };
        g.roles.push(name);
        viaGroups.set(m.id, g);
      }
    }
  }
  for (const [gid, g] of [...viaGroups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for await (const page of graph.pages<{ id?: string }>(
      `/groups/${encodeURIComponent(gid)}/transitiveMembers?$select=id`,
    )) {
      for (const m of page)
        if (typeof m.id === 'string') for (const r of g.roles) add(m.id, `${r} (through group ${g.label})`);
    }
  }
  return out;
}

/** Direct members of every group in one paged delta pass. */
async function readMembersDelta(graph: Graph): Promise<Map<string, Set<string>>> {
  const byGroup = new Map<string, Set<string>>();
  // A member's id arrives once per group it is in (a million ids for 100,000 users): one string per member.
  const ids = new Map<string, string>();
  for await (const page of graph.pages<Record<string, unknown>>('/groups/delta?$select=id,members')) {
    for (const g of page) {
      const id = g['id'];
      if (typeof id !== 'string' || g['@removed'] !== undefined) continue;
      let set = byGroup.get(id);
      if (set === undefined) byGroup.set(id, (set = new Set()));
      // A big group's members may come in several pages, as repeated entries for the same group.
      const delta = g['members@delta'];
      if (!Array.isArray(delta)) continue;
      for (const m of delta as { id?: string; '@removed'?: unknown }[]) {
        if (typeof m.id !== 'string') continue;
        if (m['@removed'] !== undefined) set.delete(m.id);
        else {
          let id = ids.get(m.id);
          if (id === undefined) ids.set(m.id, (id = m.id));
          set.add(id);
        }
      }
    }
  }
  return byGroup;
}

/** Direct members of the given groups, 20 groups per `$batch`, following nextLinks of big groups. */
export async function readMembersPerGroup(
  graph: Graph,
  transport: BatchTransport,
  groupIds: string[],
  concurrency: number,
): Promise<Map<string, string[]>> {
  const queue = new BatchQueue(transport, { concurrency, writeBudget: null });
  const out = new Map<string, string[]>();
  await Promise.all(
    groupIds.map(async (gid) => {
      const res = await queue.submit({ method: 'GET', url: `/groups/${gid}/members?$select=id&$top=${PAGE}` });
      if (res.status === 404) {
        out.set(gid, []); // deleted since the group list was read
        return;
      }
      if (res.status < 200 || res.status >= 300) {
        const e = (res.body as { error?: { code?: string; message?: string } } | undefined)?.error;
        throw new GraphCallError({
          status: res.status,
          code: e?.code ?? 'Error',
          message: e?.message ?? 'failed',
          method: 'GET',
          path: `/groups/${gid}/members`,
        });
      }
      const body = res.body as { value?: { id: string }[]; '@odata.nextLink'?: string };
      const ids = (body.value ?? []).map((m) => m.id);
      if (body['@odata.nextLink'] !== undefined) {
        for await (const page of graph.pages<{ id: string }>(body['@odata.nextLink']))
          for (const m of page) ids.push(m.id);
      }
      out.set(gid, ids);
    }),
  );
  return out;
}
