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
import { BatchQueue } from '../../apply/batch.js';
import type { BatchTransport } from '../../apply/batch.js';
import { GraphCallError } from './graph.js';
import type { Graph } from './graph.js';
import { toTargetError } from './errors.js';

export interface EntraReadRequest {
  /** Graph property names the engine compares (flow targets), besides id etc. */
  userProperties: string[];
  groupProperties: string[];
  readMembers: boolean;
}

export type MembersVia = 'delta' | 'batch';

export const ALWAYS_USER = ['userPrincipalName', 'onPremisesImmutableId', 'mail', 'displayName'];
export const ALWAYS_GROUP = ['displayName', 'mail', 'mailEnabled', 'securityEnabled', 'groupTypes'];
const PAGE = 999;

export interface ReadStats {
  users: number;
  groups: number;
  memberships: number;
  membersVia: MembersVia;
  /** Groups whose members had to be read one by one (delta missed or refused). */
  groupsReadSingly: number;
}

function selectList(always: string[], requested: string[], anchorProperty: string | undefined): string[] {
  const set = new Set(['id', ...always, ...requested]);
  if (anchorProperty !== undefined) set.add(anchorProperty);
  return [...set];
}

function toObject(raw: Record<string, unknown>, kind: 'user' | 'group', props: string[], anchorProperty: string | undefined): TargetObject {
  const attrs: Record<string, unknown> = {};
  // Every requested property is present; null when Graph has no value (Graph omits unset extensions).
  for (const p of props) if (p !== 'id' && p !== anchorProperty) attrs[p] = raw[p] ?? null;
  const obj: TargetObject = { id: String(raw['id']), kind, attrs };
  const anchor = anchorProperty === undefined ? undefined : raw[anchorProperty];
  if (typeof anchor === 'string' && anchor !== '') obj.anchor = anchor;
  return obj;
}

export async function readSnapshot(
  graph: Graph,
  transport: BatchTransport,
  ctx: { anchorProperty: string | undefined; endpoint: string; membersVia: MembersVia; concurrency: number },
  request: EntraReadRequest,
): Promise<{ snapshot: Omit<TargetSnapshot, 'tenant'>; stats: ReadStats }> {
  const { anchorProperty } = ctx;
  const userProps = selectList(ALWAYS_USER, request.userProperties, anchorProperty);
  const groupProps = selectList(ALWAYS_GROUP, request.groupProperties, anchorProperty);
  const wrap = <T>(what: string, permission: string, p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => { throw toTargetError(err, what, { endpoint: ctx.endpoint, permission }); });

  const readAll = async (path: string, kind: 'user' | 'group', props: string[]): Promise<TargetObject[]> => {
    const out: TargetObject[] = [];
    for await (const page of graph.pages<Record<string, unknown>>(path)) {
      for (const raw of page) out.push(toObject(raw, kind, props, anchorProperty));
    }
    return out;
  };

  const usersP = wrap('reading users', 'users', readAll(`/users?$select=${userProps.join(',')}&$top=${PAGE}`, 'user', userProps));
  const groupsP = wrap('reading groups', 'groups', readAll(`/groups?$select=${groupProps.join(',')}&$top=${PAGE}`, 'group', groupProps));

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
  const deletedP = anchorProperty === undefined
    ? Promise.resolve([] as TargetObject[])
    : wrap('reading deleted objects', 'deleted', Promise.all([
      readAll(`/directory/deletedItems/microsoft.graph.user?$select=${userProps.join(',')}&$top=${PAGE}`, 'user', userProps),
      readAll(`/directory/deletedItems/microsoft.graph.group?$select=${groupProps.join(',')}&$top=${PAGE}`, 'group', groupProps),
    ]).then(([u, g]) => [...u, ...g].filter((o) => o.anchor !== undefined)));

  const [users, groups, byGroup, deleted] = await Promise.all([usersP, groupsP, membersP, deletedP]);

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
      const read = await wrap('reading group memberships', 'members', readMembersPerGroup(graph, transport, missing.map((g) => g.id), ctx.concurrency));
      for (const g of missing) {
        g.members = read.get(g.id) ?? [];
        memberships += g.members.length;
      }
    }
  }

  return {
    snapshot: { system: 'entra', objects: [...users, ...groups], deleted },
    stats: { users: users.length, groups: groups.length, memberships, membersVia, groupsReadSingly },
  };
}

/** Direct members of every group in one paged delta pass. */
async function readMembersDelta(graph: Graph): Promise<Map<string, Set<string>>> {
  const byGroup = new Map<string, Set<string>>();
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
        else set.add(m.id);
      }
    }
  }
  return byGroup;
}

/** Direct members of the given groups, 20 groups per `$batch`, following nextLinks of big groups. */
export async function readMembersPerGroup(graph: Graph, transport: BatchTransport, groupIds: string[], concurrency: number): Promise<Map<string, string[]>> {
  const queue = new BatchQueue(transport, { concurrency, writeBudget: null });
  const out = new Map<string, string[]>();
  await Promise.all(groupIds.map(async (gid) => {
    const res = await queue.submit({ method: 'GET', url: `/groups/${gid}/members?$select=id&$top=${PAGE}` });
    if (res.status === 404) {
      out.set(gid, []); // deleted since the group list was read
      return;
    }
    if (res.status < 200 || res.status >= 300) {
      const e = (res.body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new GraphCallError({ status: res.status, code: e?.code ?? 'Error', message: e?.message ?? 'failed', method: 'GET', path: `/groups/${gid}/members` });
    }
    const body = res.body as { value?: { id: string }[]; '@odata.nextLink'?: string };
    const ids = (body.value ?? []).map((m) => m.id);
    if (body['@odata.nextLink'] !== undefined) {
      for await (const page of graph.pages<{ id: string }>(body['@odata.nextLink'])) for (const m of page) ids.push(m.id);
    }
    out.set(gid, ids);
  }));
  return out;
}
