/**
 * Incremental reads of the tenant through Graph delta queries (graph-facts §5, pipeline-and-delta-facts §2).
 *
 * A full read first asks `/users/delta` and `/groups/delta` for links that start now (`$deltatoken=latest`),
 * then reads everything: a change made while the full read runs is replayed by the next round, and replays
 * are harmless because every returned object is folded in as an upsert. A later run follows the stored links
 * and folds what they return (objects, `members@delta`, `manager@delta`, `@removed`) into the stored
 * snapshot, which is then what a full read would have returned. A link Graph refuses (410 resync, expired
 * `syncStateNotFound`) or a read scope that changed (the `$select` lists, the anchor extension) means a full read.
 */
import { createHash } from 'node:crypto';
import type { TargetObject, TargetSnapshot } from '../../model/target.js';
import type { BatchTransport } from './batch.js';
import { TargetError } from '../../errors.js';
import { GraphCallError } from './graph.js';
import type { Graph } from './graph.js';
import { toTargetError } from './errors.js';
import { DIRECTORY_SYNC_PATHS, readDirectorySync } from './takeover.js';
import {
  DIRECTORY_ROLES_PATH,
  ALWAYS_GROUP,
  ALWAYS_USER,
  readAdminRoles,
  readSnapshot,
  selectList,
  toObject,
  type EntraReadRequest,
  type MembersVia,
  type ReadStats,
} from './read.js';

/** What the next incremental read of the tenant starts from: no secret (links carry opaque tokens only). */
export interface TargetDeltaState {
  /** Digest of what was read (tenant, endpoint, `$select` lists, anchor): another scope means a full read. */
  scope: string;
  links: { users: string; groups: string };
  snapshot: Omit<TargetSnapshot, 'tenant'>;
}

/** How a part of the state was read, and why a full read when it was one. */
export interface PartRead {
  part: string;
  mode: 'full' | 'incremental';
  reason: string;
  /** Objects (or entries) the incremental read folded in; 0 for a full read. */
  changes?: number;
}

export interface DeltaReadContext {
  tenantId: string;
  anchorProperty: string | undefined;
  digestProperty?: string | undefined;
  endpoint: string;
  membersVia: MembersVia;
  concurrency: number;
}

interface Selects {
  user: string[];
  group: string[];
  readManagers: boolean;
}

function selectsOf(ctx: DeltaReadContext, request: EntraReadRequest): Selects {
  return {
    user: selectList(ALWAYS_USER, request.userProperties, ctx.anchorProperty, ctx.digestProperty),
    group: selectList(ALWAYS_GROUP, request.groupProperties, ctx.anchorProperty, ctx.digestProperty),
    readManagers: request.userProperties.includes('manager'),
  };
}

export function targetScope(ctx: DeltaReadContext, request: EntraReadRequest): string {
  const s = selectsOf(ctx, request);
  return createHash('sha256')
    .update(
      JSON.stringify({
        // The tenant, not the endpoint: an embedded emulator listens on another port each run.
        tenant: ctx.tenantId,
        user: s.user,
        group: s.group,
        manager: s.readManagers,
        members: request.readMembers,
        anchor: ctx.anchorProperty ?? null,
        digest: ctx.digestProperty ?? null,
      }),
    )
    .digest('hex')
    .slice(0, 32);
}

/** A link as a path under the API version: the host is the endpoint's (an emulator's port changes per run). */
function relativeLink(link: string): string {
  const m = /^https?:\/\/[^/]+\/v1\.0(\/.*)$/i.exec(link);
  return m !== null ? m[1]! : link;
}

const deltaPath = (set: 'users' | 'groups', select: string[]): string => `/${set}/delta?$select=${select.join(',')}`;

/** The links a later run follows, for changes from now on (asked before a full read, so nothing is missed). */
async function latestLinks(graph: Graph, s: Selects): Promise<{ users: string; groups: string }> {
  const one = async (path: string): Promise<string> => {
    const page = await graph.get<{ '@odata.deltaLink'?: string }>(`${path}&$deltatoken=latest`);
    const link = page['@odata.deltaLink'];
    if (typeof link !== 'string')
      throw new TargetError(
        'entra_delta_no_link',
        `Entra: ${path} answered $deltatoken=latest without an @odata.deltaLink`,
      );
    return relativeLink(link);
  };
  const [users, groups] = await Promise.all([
    one(deltaPath('users', s.readManagers ? [...s.user, 'manager'] : s.user)),
    one(deltaPath('groups', [...s.group, 'members'])),
  ]);
  return { users, groups };
}

/** Graph refused a stored link: the caller reads everything again. */
export class DeltaRefused extends Error {}

function refusal(err: unknown): string | undefined {
  if (!(err instanceof GraphCallError)) return undefined;
  if (err.status === 410) return `Graph refused the stored delta link (410 ${err.code}: resync required)`;
  if (err.code === 'syncStateNotFound' || err.code === 'syncStateInvalid')
    return `Graph refused the stored delta link (${err.status} ${err.code}: expired)`;
  return undefined;
}

/**
 * Reads the tenant: by following `prior`'s links when it is for the same scope, else in full (with links for
 * the next run asked first). Returns the snapshot a full read would give, the state for the next run, and how.
 */
export async function readTargetWithDelta(
  graph: Graph,
  transport: BatchTransport,
  ctx: DeltaReadContext,
  request: EntraReadRequest,
  prior: TargetDeltaState | undefined,
  full: string | undefined,
  /** A round already fetched from prior's links (a reuse check that found changes), folded instead of fetched. */
  fetched?: DeltaRound,
): Promise<{
  snapshot: Omit<TargetSnapshot, 'tenant'>;
  stats: ReadStats | undefined;
  state: TargetDeltaState;
  read: PartRead;
  /** The directory role holders as read (every kind of holder), for roundFingerprint. */
  admins: Map<string, string[]>;
}> {
  const scope = targetScope(ctx, request);
  const selects = selectsOf(ctx, request);
  let why = full;
  if (why === undefined) {
    if (prior === undefined) why = 'no state';
    else if (prior.scope !== scope) why = 'the read scope changed (attributes, anchor or tenant)';
  }
  if (why === undefined && prior !== undefined) {
    try {
      const sameLinks =
        fetched !== undefined && fetched.from.users === prior.links.users && fetched.from.groups === prior.links.groups;
      const round = sameLinks ? fetched : await fetchDeltaRound(graph, ctx, request, prior.links);
      const folded = foldRound(ctx, request, prior, round);
      return {
        snapshot: folded.snapshot,
        admins: round.admins,
        stats: undefined,
        state: { scope, links: folded.links, snapshot: folded.snapshot },
        read: { part: 'target', mode: 'incremental', reason: 'Graph delta', changes: folded.changes },
      };
    } catch (err) {
      if (!(err instanceof DeltaRefused)) throw err;
      why = err.message;
    }
  }
  const links = await latestLinks(graph, selects).catch((err: unknown) => {
    throw toTargetError(err, 'asking Graph for delta links', { endpoint: ctx.endpoint, permission: 'users' });
  });
  const { snapshot, stats, admins } = await readSnapshot(graph, transport, ctx, request);
  return {
    snapshot,
    admins,
    stats,
    state: { scope, links, snapshot },
    read: { part: 'target', mode: 'full', reason: why ?? 'no state' },
  };
}

type Raw = Record<string, unknown>;
interface BatchItem {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}
/** Statuses worth one more try as a direct call (which retries them with backoff). */
const TRANSIENT = new Set([429, 500, 502, 503, 504]);

function itemError(item: BatchItem, path: string): GraphCallError {
  const e = (item.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  return new GraphCallError({
    status: item.status,
    code: e?.code ?? 'Error',
    message: e?.message ?? `HTTP ${item.status}`,
    method: 'GET',
    path,
    ...(item.headers !== undefined ? { headers: item.headers } : {}),
  });
}
type RefDelta = { id?: string; '@removed'?: unknown }[];

/**
 * One round of the stored links, fetched but not yet folded: the changes as Graph sent them, and what is read
 * each time besides (directory roles, the directory-sync status, deleted items of soft deletes). A round
 * without changes says the tenant is as the stored snapshot holds it, besides those (src/sync/plan-memo.ts).
 */
export interface DeltaRound {
  /** The links the round followed. */
  from: { users: string; groups: string };
  links: { users: string; groups: string };
  users: Raw[];
  groups: Raw[];
  /** Objects (with `@removed`, entries) the round returned. */
  changes: number;
  /** Soft-deleted objects as deleted items holds them, by id (absent: purged meanwhile). */
  deletedItems: Map<string, Raw>;
  admins: Map<string, string[]>;
  adminRolesUnread?: string;
  directorySync?: NonNullable<TargetSnapshot['directorySync']>;
}

/** A digest of what a round reads besides the changes (roles, directory-sync status): equal → same snapshot. */
export function roundFingerprint(round: Pick<DeltaRound, 'admins' | 'adminRolesUnread' | 'directorySync'>): string {
  const admins = [...round.admins]
    .map(([id, roles]) => [id, [...roles].sort()])
    .sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
  return createHash('sha256')
    .update(
      JSON.stringify({
        admins,
        unread: round.adminRolesUnread ?? null,
        sync: round.directorySync ?? null,
      }),
    )
    .digest('hex')
    .slice(0, 32);
}

/** Follows `links` once (a `$batch` with roles and the directory-sync status; more pages when there are any). */
export async function fetchDeltaRound(
  graph: Graph,
  ctx: DeltaReadContext,
  request: EntraReadRequest,
  links: { users: string; groups: string },
): Promise<DeltaRound> {
  const s = selectsOf(ctx, request);
  const { anchorProperty } = ctx;
  type Page = { value?: Raw[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string };
  const softDeleted: { id: string; kind: 'user' | 'group' }[] = [];
  let changes = 0;
  /** A delta round whose first page came in the `$batch` (or is fetched here), following its nextLinks. */
  const follow = async (
    item: BatchItem | undefined,
    link: string,
    kind: 'user' | 'group',
    into: Raw[],
  ): Promise<string> => {
    try {
      if (item !== undefined && item.status !== 200 && !TRANSIENT.has(item.status)) throw itemError(item, link);
      let page: Page = item !== undefined && item.status === 200 ? (item.body as Page) : await graph.get<Page>(link);
      for (;;) {
        for (const raw of page.value ?? []) {
          changes++;
          into.push(raw);
          const removed = raw['@removed'] as { reason?: string } | undefined;
          // "changed": soft-deleted, restorable; read below from deleted items as a full read would see it.
          if (removed?.reason === 'changed' && typeof raw['id'] === 'string') softDeleted.push({ id: raw['id'], kind });
        }
        const next = page['@odata.nextLink'];
        if (next === undefined) break;
        page = await graph.get<Page>(next);
      }
      const delta = page['@odata.deltaLink'];
      if (typeof delta !== 'string') throw new DeltaRefused(`Graph's ${kind}s delta ended without a deltaLink`);
      return relativeLink(delta);
    } catch (err) {
      if (err instanceof DeltaRefused) throw err;
      const why = refusal(err);
      if (why !== undefined) throw new DeltaRefused(why);
      throw toTargetError(err, `following the ${kind}s delta link`, { endpoint: ctx.endpoint, permission: `${kind}s` });
    }
  };

  // The two delta rounds' first pages, the directory roles and the directory-sync status in one `$batch`: a run
  // without changes costs one request besides the connection's (graph json-batching: up to 20 GETs in one POST).
  let batch: BatchItem[] = [];
  try {
    const res = await graph.post<{ responses?: BatchItem[] }>('/$batch', {
      requests: [
        { id: 'users', method: 'GET', url: links.users },
        { id: 'groups', method: 'GET', url: links.groups },
        { id: 'roles', method: 'GET', url: DIRECTORY_ROLES_PATH },
        { id: 'organization', method: 'GET', url: DIRECTORY_SYNC_PATHS.organization },
        { id: 'synchronization', method: 'GET', url: DIRECTORY_SYNC_PATHS.synchronization },
      ],
    });
    batch = res.responses ?? [];
  } catch {
    // No batch (refused, or not offered): each is read on its own below.
  }
  const byId = (id: string): BatchItem | undefined => batch.find((r) => String(r.id) === id);
  const users: Raw[] = [];
  const groups: Raw[] = [];
  const usersLink = await follow(byId('users'), links.users, 'user', users);
  const groupsLink = await follow(byId('groups'), links.groups, 'group', groups);
  const roles = byId('roles');
  // Whether a sync client runs, as a full read reads it: from the batch, else (absent, throttled) directly.
  const fromBatch = async <T>(id: string, path: string): Promise<T> => {
    const item = byId(id);
    if (item === undefined || TRANSIENT.has(item.status)) return graph.get<T>(path);
    if (item.status !== 200) throw itemError(item, path);
    return item.body as T;
  };
  const directorySync = await readDirectorySync({
    get: <T>(path: string): Promise<T> =>
      path === DIRECTORY_SYNC_PATHS.organization
        ? fromBatch<T>('organization', path)
        : path === DIRECTORY_SYNC_PATHS.synchronization
          ? fromBatch<T>('synchronization', path)
          : graph.get<T>(path),
  });

  // Soft-deleted objects as deleted items holds them (only adsync's count: the ones with an anchor).
  const deletedItems = new Map<string, Raw>();
  if (anchorProperty !== undefined && softDeleted.length > 0) {
    await Promise.all(
      softDeleted.map(async ({ id, kind }) => {
        const props = kind === 'user' ? s.user : s.group;
        try {
          const raw = await graph.get<Raw>(
            `/directory/deletedItems/${encodeURIComponent(id)}?$select=${props.join(',')}`,
          );
          deletedItems.set(id, raw);
        } catch (err) {
          if (err instanceof GraphCallError && err.status === 404) return; // purged meanwhile, or never restorable
          throw toTargetError(err, 'reading deleted objects', { endpoint: ctx.endpoint, permission: 'deleted' });
        }
      }),
    );
  }

  // Directory roles are not in the users' delta: read them each time (one request unless a role is held
  // through a role-assignable group).
  let adminRolesUnread: string | undefined;
  const fetchedRoles = roles?.status === 200 ? (roles.body as Parameters<typeof readAdminRoles>[1]) : undefined;
  const admins = await (request.requireAdminRoles
    ? readAdminRoles(graph, fetchedRoles).catch((err: unknown) => {
        throw toTargetError(err, 'reading directory role holders (soft match never adopts an admin)', {
          endpoint: ctx.endpoint,
          permission: 'roles',
        });
      })
    : readAdminRoles(graph, fetchedRoles).catch((err: unknown) => {
        adminRolesUnread = toTargetError(err, 'reading directory role holders', {
          endpoint: ctx.endpoint,
          permission: 'roles',
        }).message;
        return new Map<string, string[]>();
      }));
  return {
    from: links,
    links: { users: usersLink, groups: groupsLink },
    users,
    groups,
    changes,
    deletedItems,
    admins,
    ...(adminRolesUnread !== undefined ? { adminRolesUnread } : {}),
    ...(directorySync !== undefined ? { directorySync } : {}),
  };
}

/** Folds a round into the stored snapshot (which is not changed: a failed fold leaves it as it was). */
function foldRound(
  ctx: DeltaReadContext,
  request: EntraReadRequest,
  prior: TargetDeltaState,
  round: DeltaRound,
): { snapshot: Omit<TargetSnapshot, 'tenant'>; links: { users: string; groups: string }; changes: number } {
  const s = selectsOf(ctx, request);
  const { anchorProperty, digestProperty } = ctx;
  const live = new Map<string, TargetObject>();
  for (const o of prior.snapshot.objects)
    live.set(o.id, { ...o, attrs: { ...o.attrs }, ...(o.members ? { members: [...o.members] } : {}) });
  const deleted = new Map(prior.snapshot.deleted.map((o) => [o.id, o]));
  const memberSets = new Map<string, Set<string>>();
  const membersOf = (g: TargetObject): Set<string> => {
    let set = memberSets.get(g.id);
    if (set === undefined) memberSets.set(g.id, (set = new Set(g.members ?? [])));
    return set;
  };
  const softDeleted: { id: string; kind: 'user' | 'group' }[] = [];

  const drop = (id: string): void => {
    live.delete(id);
    memberSets.delete(id);
    // Graph drops a deleted object's memberships (the groups' delta says so too; this keeps it true either way).
    for (const g of live.values()) {
      if (g.kind !== 'group') continue;
      const set = memberSets.get(g.id);
      if (set !== undefined) set.delete(id);
      else if (g.members?.includes(id)) membersOf(g).delete(id);
    }
  };

  const fold = (raw: Raw, kind: 'user' | 'group', props: string[]): void => {
    const id = raw['id'];
    if (typeof id !== 'string') return;
    const removed = raw['@removed'] as { reason?: string } | undefined;
    if (removed !== undefined) {
      drop(id);
      deleted.delete(id);
      if (removed.reason === 'changed') softDeleted.push({ id, kind });
      return;
    }
    deleted.delete(id); // restored, if it was deleted
    const full = props.some((p) => p !== 'id' && p in raw);
    let o = live.get(id);
    if (full) {
      const fresh = toObject(raw, kind, props, anchorProperty, digestProperty);
      if (o?.adminRoles !== undefined) fresh.adminRoles = o.adminRoles;
      if (kind === 'user' && s.readManagers) fresh.attrs['manager'] = o?.attrs['manager'] ?? null;
      if (kind === 'group') fresh.members = o?.members ?? [];
      live.set(id, (o = fresh));
    } else if (o === undefined) {
      throw new DeltaRefused(`Graph's delta returned ${kind} ${id} without its properties`);
    }
    if (kind === 'user' && s.readManagers) {
      const m = raw['manager@delta'] as RefDelta | undefined;
      if (Array.isArray(m)) {
        for (const r of m) if (typeof r.id === 'string') o.attrs['manager'] = r['@removed'] !== undefined ? null : r.id;
      } else if (full) o.attrs['manager'] = null; // a full object without manager@delta has none
    }
    if (kind === 'group') {
      const m = raw['members@delta'] as RefDelta | undefined;
      if (Array.isArray(m)) {
        const set = membersOf(o);
        for (const r of m) {
          if (typeof r.id !== 'string') continue;
          if (r['@removed'] !== undefined) set.delete(r.id);
          else set.add(r.id);
        }
      }
    }
  };

  for (const raw of round.users) fold(raw, 'user', s.user);
  for (const raw of round.groups) fold(raw, 'group', s.group);
  for (const [gid, set] of memberSets) {
    const g = live.get(gid);
    if (g !== undefined) g.members = [...set];
  }
  for (const { id, kind } of softDeleted) {
    const raw = round.deletedItems.get(id);
    if (raw === undefined) continue;
    const o = toObject(raw, kind, kind === 'user' ? s.user : s.group, anchorProperty, digestProperty);
    if (o.anchor !== undefined) deleted.set(id, o);
  }
  const { admins, adminRolesUnread, directorySync } = round;
  const objects: TargetObject[] = [];
  for (const o of live.values()) {
    if (o.kind === 'user') {
      const roles = admins.get(o.id);
      if (roles !== undefined) o.adminRoles = roles;
      else delete o.adminRoles;
    }
    objects.push(o);
  }
  // A full read lists users before groups.
  objects.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'user' ? -1 : 1));
  return {
    snapshot: {
      system: 'entra',
      objects,
      deleted: [...deleted.values()],
      ...(adminRolesUnread !== undefined ? { adminRolesUnread } : {}),
      ...(directorySync !== undefined ? { directorySync } : {}),
    },
    links: round.links,
    changes: round.changes,
  };
}
