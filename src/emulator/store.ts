/**
 * The emulated tenant's state, built for 100k users / 10k groups / 1M memberships in one process:
 * objects by id in Maps, insertion-ordered arrays for stable cursor paging, eq-indexes on the properties clients
 * filter by (UPN, mail, immutable id, directory extensions ...), membership as Sets in both directions, and an
 * append-only change log that delta queries read. Persistence is one JSON write on demand.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import type { Kind } from './schema.js';

export interface DirObject {
  id: string;
  kind: Kind;
  /** Position in insertion order; paging cursors are ords. */
  ord: number;
  /** Stored properties (sparse: unset = null / []). Extension properties live here too. */
  props: Record<string, unknown>;
  /** Replication lag: invisible to other requests before this time (ms since epoch). */
  visibleAt: number;
  live: boolean;
}

export interface ExtensionProperty {
  id: string;
  name: string;
  dataType: string;
  isMultiValued: boolean;
  isSyncedFromOnPremises: boolean;
  targetObjects: string[];
  appDisplayName: string;
  /** Object id of the application that owns it. */
  appObjectId: string;
}

export interface Application {
  id: string;
  appId: string;
  displayName: string;
  createdDateTime: string;
  /** Client secrets accepted at the token endpoint. Never rendered. */
  secrets: string[];
  /** Application permissions granted (admin-consented) on Graph: the token's `roles`. Absent = DEFAULT_ROLES. */
  roles?: string[];
  /** Object id of the app's service principal in the tenant (the token's `oid`/`sub`). */
  servicePrincipalId?: string;
}

/** An activated directory role (`/directoryRoles`) and the ids of its members. */
export interface DirectoryRole {
  id: string;
  displayName: string;
  description: string;
  roleTemplateId: string;
  members: Set<string>;
}

/** An insertion-ordered collection with eq indexes. */
export class Collection {
  readonly byId = new Map<string, DirObject>();
  private order: DirObject[] = [];
  private dead = 0;
  private nextOrd = 1;
  /** path → normalized value → id, or ids when several objects share the value (most values are unique). */
  readonly indexes = new Map<string, Map<string, IndexEntry>>();

  constructor(indexed: string[] = []) {
    for (const p of indexed) this.indexes.set(p, new Map());
  }

  get size(): number {
    return this.byId.size;
  }

  add(o: DirObject): void {
    o.ord = this.nextOrd++;
    o.live = true;
    this.byId.set(o.id, o);
    this.order.push(o);
    this.indexAdd(o);
  }

  remove(o: DirObject): void {
    if (this.byId.get(o.id) !== o) return;
    this.indexRemove(o);
    this.byId.delete(o.id);
    o.live = false;
    this.dead++;
    // Compact when half the array is tombstones; ords stay sorted, so cursors keep working.
    if (this.dead > 1024 && this.dead * 2 > this.order.length) {
      this.order = this.order.filter((x) => this.byId.get(x.id) === x);
      this.dead = 0;
    }
  }

  /** Live objects after the cursor `afterOrd`, in insertion order. */
  *after(afterOrd: number): Generator<DirObject> {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.order[mid]!.ord <= afterOrd) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.order.length; i++) {
      const o = this.order[i]!;
      // Liveness is per collection: a soft-deleted object is the same instance in `deleted`, live there.
      if (this.byId.get(o.id) === o) yield o;
    }
  }

  addIndex(path: string): void {
    if (this.indexes.has(path)) return;
    const idx = new Map<string, IndexEntry>();
    this.indexes.set(path, idx);
    for (const o of this.byId.values()) addKey(idx, o.props[path], o.id);
  }

  /** Call before changing indexed properties of a live object, then `indexAdd` after. */
  indexRemove(o: DirObject): void {
    for (const [path, idx] of this.indexes) {
      const v = o.props[path];
      if (v === undefined || v === null) continue;
      const k = indexKey(v);
      const s = idx.get(k);
      if (s === o.id) idx.delete(k);
      else if (typeof s === 'object') {
        s.delete(o.id);
        if (s.size === 0) idx.delete(k);
      }
    }
  }

  indexAdd(o: DirObject): void {
    for (const [path, idx] of this.indexes) addKey(idx, o.props[path], o.id);
  }

  lookup(path: string, value: unknown): Iterable<string> | undefined {
    if (path === 'id') return typeof value === 'string' && this.byId.has(value) ? [value] : [];
    const idx = this.indexes.get(path);
    if (!idx) return undefined;
    const e = idx.get(indexKey(value));
    return e === undefined ? [] : typeof e === 'string' ? [e] : e;
  }

  isIndexed(path: string): boolean {
    return path === 'id' || this.indexes.has(path);
  }
}

type IndexEntry = string | Set<string>;

function addKey(idx: Map<string, IndexEntry>, v: unknown, id: string): void {
  if (v === undefined || v === null || typeof v === 'object') return;
  const k = indexKey(v);
  const e = idx.get(k);
  if (e === undefined) idx.set(k, id);
  else if (typeof e === 'string') {
    if (e !== id) idx.set(k, new Set([e, id]));
  } else e.add(id);
}

/** Directory string comparisons are case-insensitive, so the index is too. */
export function indexKey(v: unknown): string {
  return typeof v === 'string' ? `s:${v.toLowerCase()}` : `${typeof v}:${String(v)}`;
}

/** One entry of the change log read by delta queries. */
export interface ChangeEntry {
  kind: Kind;
  id: string;
  /** Membership changes (flat, to keep a million of them cheap): the member, its kind, added or removed. */
  memberId?: string;
  memberKind?: Kind;
  removed?: boolean;
  /**
   * The properties an update changed (absent = the whole object: created, deleted, restored). A delta query
   * with $select surfaces the object only when one of these is selected (delta-query-overview).
   */
  props?: string[];
}

/** A licence the tenant bought (GET /subscribedSkus, graph-facts-2 §7.1); consumedUnits is computed. */
export interface SubscribedSku {
  skuId: string;
  skuPartNumber: string;
  appliesTo: string;
  capabilityStatus: string;
  prepaidUnits: { enabled: number; suspended: number; warning: number; lockedOut: number };
  servicePlans: { servicePlanId: string; servicePlanName: string; provisioningStatus: string; appliesTo: string }[];
  subscriptionIds: string[];
  accountId?: string;
  accountName?: string;
}

/** One entry of a user's licenseAssignmentStates (graph-facts-2 §7.1). */
export interface LicenseState {
  assignedByGroup: string | null;
  disabledPlans: string[];
  error: string | null;
  lastUpdatedDateTime: string;
  skuId: string;
  state: 'Active' | 'ActiveWithError' | 'Disabled' | 'Error';
}

/** Entra Connect on the tenant (graph-facts-2 §3.2): organization.onPremisesSyncEnabled and the feature flags. */
export interface DirSyncConfig {
  enabled: boolean | null;
  lastSyncDateTime: string | null;
  features: Record<string, boolean>;
  alertThreshold: number;
}

export interface TenantConfig {
  tenantId: string;
  initialDomain: string;
  domains: string[];
  tenantDisplayName: string;
  createdDateTime: string;
  certPem: string;
  keyPem: string;
  /** The app registration clients authenticate as. */
  appObjectId: string;
  /** Subscribed SKUs (from a fixture). */
  skus?: SubscribedSku[];
  /** Directory synchronization (from a fixture); absent = a cloud-only tenant. */
  dirSync?: DirSyncConfig;
  /** Digest of the fixtures this tenant was created from. */
  fixtureDigest?: string;
}

interface PersistedObject {
  id: string;
  kind: Kind;
  props: Record<string, unknown>;
  members?: string[];
  owners?: string[];
  manager?: string;
  deletedAt?: number;
  memberOf?: string[];
  roles?: string[];
}

interface PersistedState {
  format: 'adsync-graph-emulator/1';
  /**
   * Bumped on a load without `log` (older files): their delta tokens get Graph's 410 reset (graph-facts §5).
   * Kept when the log's tail is stored, so a delta link outlives the process that issued it.
   */
  generation: number;
  /** The change log's tail (at most LOG_KEEP entries): `base` is the sequence number before its first entry. */
  log?: { base: number; entries: PersistedChange[] };
  config: TenantConfig;
  applications: Application[];
  extensionProperties: ExtensionProperty[];
  objects: PersistedObject[];
  deleted: PersistedObject[];
  tokens: [string, number][];
  /** Activated directory roles (absent in older state files). */
  directoryRoles?: {
    id: string;
    displayName: string;
    description: string;
    roleTemplateId: string;
    members: string[];
  }[];
}

/** A change log entry, compact: [kind, id], [kind, id, props], or [kind, id, memberId, memberKind, removed 0|1]. */
type PersistedChange = [Kind, string] | [Kind, string, string[]] | [Kind, string, string, Kind, 0 | 1];

/**
 * How many log entries a saved state keeps. A delta link older than the kept tail gets Graph's 410 reset
 * (graph-facts §5: a resync may be required at any time), which a client must handle anyway.
 */
export const LOG_KEEP = 100_000;

export const USER_INDEXES = [
  'userPrincipalName',
  'mail',
  'mailNickname',
  'displayName',
  'onPremisesImmutableId',
  'onPremisesSecurityIdentifier',
  'employeeId',
];
export const GROUP_INDEXES = ['displayName', 'mailNickname', 'mail', 'onPremisesSecurityIdentifier'];
export const CONTACT_INDEXES = ['mail', 'displayName', 'mailNickname'];

export class Store {
  config: TenantConfig;
  generation = 1;
  readonly users = new Collection(USER_INDEXES);
  readonly groups = new Collection(GROUP_INDEXES);
  readonly contacts = new Collection(CONTACT_INDEXES);
  /** Soft-deleted users and Microsoft 365 groups (graph-facts §1 Delete), with their deletion time. */
  readonly deleted = new Collection();
  readonly deletedAt = new Map<string, number>();
  /** What a soft-deleted object belonged to, for restore (recover-from-deletions: memberships and roles come back). */
  readonly deletedLinks = new Map<string, { memberOf: string[]; roles: string[] }>();
  readonly applications = new Map<string, Application>();
  readonly extensions = new Map<string, ExtensionProperty>();
  /** groupId → member ids; memberId → group ids. */
  readonly members = new Map<string, Set<string>>();
  readonly memberOf = new Map<string, Set<string>>();
  /** userId → managerId, and managerId → direct reports. */
  readonly managers = new Map<string, string>();
  readonly reports = new Map<string, Set<string>>();
  /** groupId → owner ids. */
  readonly owners = new Map<string, Set<string>>();
  /** Lower-cased UPN → user id (uniqueness). */
  readonly upns = new Map<string, string>();
  /** Lower-cased SMTP address (no prefix) → object id; unique across users, groups, contacts (graph-facts §1). */
  readonly proxies = new Map<string, string>();
  /** Delta change log; an entry's sequence number is logBase + its index + 1. */
  readonly log: ChangeEntry[] = [];
  /** Sequence number before the log's first entry (older entries were not kept across a save). */
  logBase = 0;
  readonly tokens = new Map<string, number>();
  /** Activated directory roles by object id. */
  readonly directoryRoles = new Map<string, DirectoryRole>();
  dirty = false;

  constructor(config: TenantConfig) {
    this.config = config;
  }

  collection(kind: Kind): Collection {
    return kind === 'user' ? this.users : kind === 'group' ? this.groups : this.contacts;
  }

  /** Any live directory object by id. */
  get(id: string): DirObject | undefined {
    return this.users.byId.get(id) ?? this.groups.byId.get(id) ?? this.contacts.byId.get(id);
  }

  get seq(): number {
    return this.logBase + this.log.length;
  }

  logChange(e: ChangeEntry): void {
    this.log.push(e);
    this.dirty = true;
  }

  newObject(kind: Kind, props: Record<string, unknown>, visibleAt = 0): DirObject {
    const id = typeof props['id'] === 'string' ? props['id'] : randomUUID();
    return { id, kind, ord: 0, props: { ...props, id }, visibleAt, live: false };
  }

  // ---- proxy addresses (mail) uniqueness ----
  static smtpKey(addr: string): string {
    return addr.replace(/^smtp:/i, '').toLowerCase();
  }

  registerAddresses(o: DirObject): void {
    const mail = o.props['mail'];
    if (typeof mail === 'string') this.proxies.set(mail.toLowerCase(), o.id);
    const pa = o.props['proxyAddresses'];
    if (Array.isArray(pa))
      for (const a of pa) if (typeof a === 'string' && /^smtp:/i.test(a)) this.proxies.set(Store.smtpKey(a), o.id);
    if (o.kind === 'user' && typeof o.props['userPrincipalName'] === 'string')
      this.upns.set(o.props['userPrincipalName'].toLowerCase(), o.id);
  }

  unregisterAddresses(o: DirObject): void {
    const drop = (k: string): void => {
      if (this.proxies.get(k) === o.id) this.proxies.delete(k);
    };
    const mail = o.props['mail'];
    if (typeof mail === 'string') drop(mail.toLowerCase());
    const pa = o.props['proxyAddresses'];
    if (Array.isArray(pa)) for (const a of pa) if (typeof a === 'string') drop(Store.smtpKey(a));
    const upn = o.props['userPrincipalName'];
    if (o.kind === 'user' && typeof upn === 'string' && this.upns.get(upn.toLowerCase()) === o.id)
      this.upns.delete(upn.toLowerCase());
  }

  // ---- membership ----
  addMember(groupId: string, member: DirObject): void {
    let s = this.members.get(groupId);
    if (!s) {
      s = new Set();
      this.members.set(groupId, s);
    }
    s.add(member.id);
    let m = this.memberOf.get(member.id);
    if (!m) {
      m = new Set();
      this.memberOf.set(member.id, m);
    }
    m.add(groupId);
    this.logChange({ kind: 'group', id: groupId, memberId: member.id, memberKind: member.kind, removed: false });
    if (member.kind === 'user' && this.groups.byId.get(groupId)?.props['assignedLicenses'] !== undefined)
      this.refreshInheritedLicenses(member.id, Date.now());
  }

  removeMember(groupId: string, memberId: string, memberKind: Kind): void {
    this.members.get(groupId)?.delete(memberId);
    this.memberOf.get(memberId)?.delete(groupId);
    this.logChange({ kind: 'group', id: groupId, memberId, memberKind, removed: true });
    if (memberKind === 'user' && this.users.byId.has(memberId)) this.refreshInheritedLicenses(memberId, Date.now());
  }

  // ---- licences (graph-facts-2 §7) ----
  sku(skuId: string): SubscribedSku | undefined {
    return this.config.skus?.find((s) => s.skuId === skuId.toLowerCase());
  }

  /** Users holding the SKU (direct or inherited, counted once), as long as an assignment is not in error. */
  consumedUnits(skuId: string): number {
    let n = 0;
    for (const u of this.users.byId.values()) {
      const states = u.props['licenseAssignmentStates'] as LicenseState[] | undefined;
      if (states?.some((s) => s.skuId === skuId && s.state !== 'Error')) n++;
    }
    return n;
  }

  /** assignedLicenses mirrors the working assignments: one entry per SKU (graph-facts-2 §7.1). */
  static deriveAssignedLicenses(o: DirObject): void {
    const states = (o.props['licenseAssignmentStates'] as LicenseState[] | undefined) ?? [];
    const out: { disabledPlans: string[]; skuId: string }[] = [];
    for (const s of states) {
      if (s.state === 'Error') continue;
      if (!out.some((x) => x.skuId === s.skuId)) out.push({ disabledPlans: [...s.disabledPlans], skuId: s.skuId });
    }
    if (states.length === 0) delete o.props['licenseAssignmentStates'];
    if (out.length === 0) delete o.props['assignedLicenses'];
    else o.props['assignedLicenses'] = out;
  }

  /**
   * Group-based licensing: a user inherits the licences of the groups it is a direct member of (nested
   * membership doesn't license, per group-based licensing docs). A seat that isn't free is an Error/CountViolation.
   */
  refreshInheritedLicenses(userId: string, now: number): void {
    const u = this.users.byId.get(userId);
    if (!u) return;
    const before = JSON.stringify(u.props['licenseAssignmentStates'] ?? []);
    const states = ((u.props['licenseAssignmentStates'] as LicenseState[] | undefined) ?? []).slice();
    const wanted: { gid: string; skuId: string; disabledPlans: string[] }[] = [];
    for (const gid of this.memberOf.get(userId) ?? []) {
      const lic = this.groups.byId.get(gid)?.props['assignedLicenses'] as
        { skuId: string; disabledPlans: string[] }[] | undefined;
      for (const l of lic ?? []) wanted.push({ gid, skuId: l.skuId, disabledPlans: l.disabledPlans });
    }
    const kept = states.filter(
      (s) => s.assignedByGroup === null || wanted.some((w) => w.gid === s.assignedByGroup && w.skuId === s.skuId),
    );
    for (const w of wanted) {
      if (kept.some((s) => s.assignedByGroup === w.gid && s.skuId === w.skuId)) continue;
      const holds = kept.some((s) => s.skuId === w.skuId && s.state !== 'Error');
      const sku = this.sku(w.skuId);
      const full = !holds && (sku === undefined || this.consumedUnits(w.skuId) >= sku.prepaidUnits.enabled);
      kept.push({
        assignedByGroup: w.gid,
        disabledPlans: [...w.disabledPlans],
        error: full ? 'CountViolation' : null,
        lastUpdatedDateTime: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        skuId: w.skuId,
        state: full ? 'Error' : 'Active',
      });
    }
    u.props['licenseAssignmentStates'] = kept;
    Store.deriveAssignedLicenses(u);
    if (JSON.stringify(u.props['licenseAssignmentStates'] ?? []) !== before)
      this.logChange({ kind: 'user', id: userId, props: ['assignedLicenses', 'licenseAssignmentStates'] });
  }

  setManager(userId: string, managerId: string | undefined): void {
    const old = this.managers.get(userId);
    if (old !== undefined) this.reports.get(old)?.delete(userId);
    if (managerId === undefined) this.managers.delete(userId);
    else {
      this.managers.set(userId, managerId);
      let r = this.reports.get(managerId);
      if (!r) {
        r = new Set();
        this.reports.set(managerId, r);
      }
      r.add(userId);
    }
    this.logChange({ kind: 'user', id: userId, props: ['manager'] });
  }

  addOwner(groupId: string, ownerId: string): void {
    let s = this.owners.get(groupId);
    if (!s) {
      s = new Set();
      this.owners.set(groupId, s);
    }
    s.add(ownerId);
    this.dirty = true;
  }

  removeOwner(groupId: string, ownerId: string): void {
    this.owners.get(groupId)?.delete(ownerId);
    this.dirty = true;
  }

  /** Drops every membership the object has, both as member and as group (on delete). */
  detach(o: DirObject): void {
    if (this.managers.has(o.id)) this.setManager(o.id, undefined);
    for (const r of [...(this.reports.get(o.id) ?? [])]) this.setManager(r, undefined);
    this.reports.delete(o.id);
    for (const g of [...(this.memberOf.get(o.id) ?? [])]) this.removeMember(g, o.id, o.kind);
    this.memberOf.delete(o.id);
    if (o.kind === 'group') {
      for (const m of [...(this.members.get(o.id) ?? [])]) {
        this.memberOf.get(m)?.delete(o.id);
      }
      this.members.delete(o.id);
      this.owners.delete(o.id);
    }
    if (this.owners.size > 0) for (const set of this.owners.values()) set.delete(o.id);
    // A deleted object loses its directory role assignments too.
    for (const r of this.directoryRoles.values()) r.members.delete(o.id);
  }

  // ---- extensions ----
  registerExtension(ext: ExtensionProperty): void {
    this.extensions.set(ext.name, ext);
    // Clients filter by their anchor extension with eq: index it (DESIGN §2).
    if (ext.targetObjects.includes('User')) this.users.addIndex(ext.name);
    if (ext.targetObjects.includes('Group')) this.groups.addIndex(ext.name);
  }

  /** Permanently deleted soft-deleted objects older than the retention (graph-facts §1: 30 days). */
  purgeExpired(now: number, retentionMs = 30 * 24 * 3600 * 1000): void {
    for (const o of this.deleted.after(0)) {
      const at = this.deletedAt.get(o.id) ?? 0;
      if (now - at < retentionMs) break; // deletion order = insertion order
      this.deleted.remove(o);
      this.deletedAt.delete(o.id);
      this.deletedLinks.delete(o.id);
      this.logChange({ kind: o.kind, id: o.id });
    }
  }

  // ---- persistence ----
  toJSON(): PersistedState {
    const objects: PersistedObject[] = [];
    for (const c of [this.users, this.groups, this.contacts]) {
      for (const o of c.after(0)) {
        const p: PersistedObject = { id: o.id, kind: o.kind, props: o.props };
        const manager = this.managers.get(o.id);
        if (manager !== undefined) p.manager = manager;
        if (o.kind === 'group') {
          p.members = [...(this.members.get(o.id) ?? [])];
          const owners = this.owners.get(o.id);
          if (owners && owners.size > 0) p.owners = [...owners];
        }
        objects.push(p);
      }
    }
    const deleted: PersistedObject[] = [];
    for (const o of this.deleted.after(0))
      deleted.push({
        id: o.id,
        kind: o.kind,
        props: o.props,
        deletedAt: this.deletedAt.get(o.id) ?? 0,
        ...this.deletedLinks.get(o.id),
      });
    const now = Date.now();
    return {
      format: 'adsync-graph-emulator/1',
      generation: this.generation,
      config: this.config,
      applications: [...this.applications.values()],
      extensionProperties: [...this.extensions.values()],
      objects,
      deleted,
      tokens: [...this.tokens].filter(([, exp]) => exp > now),
      log: this.persistedLog(),
      directoryRoles: [...this.directoryRoles.values()].map((r) => ({
        id: r.id,
        displayName: r.displayName,
        description: r.description,
        roleTemplateId: r.roleTemplateId,
        members: [...r.members],
      })),
    };
  }

  private persistedLog(): { base: number; entries: PersistedChange[] } {
    const from = Math.max(0, this.log.length - LOG_KEEP);
    const entries: PersistedChange[] = [];
    for (let i = from; i < this.log.length; i++) {
      const e = this.log[i]!;
      if (e.memberId !== undefined) entries.push([e.kind, e.id, e.memberId, e.memberKind ?? 'user', e.removed ? 1 : 0]);
      else if (e.props !== undefined) entries.push([e.kind, e.id, e.props]);
      else entries.push([e.kind, e.id]);
    }
    return { base: this.logBase + from, entries };
  }

  async save(path: string): Promise<void> {
    const tmp = `${path}.${process.pid}.tmp`;
    this.dirty = false;
    try {
      await writeFile(tmp, JSON.stringify(this.toJSON()), { mode: 0o600 }); // holds the client secret and key
      await rename(tmp, path);
    } catch (err) {
      this.dirty = true;
      await unlink(tmp).catch(() => undefined); // never leave a half-written copy behind
      throw new Error(
        `cannot save the emulator state to ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        { cause: err },
      );
    }
  }

  static exists(path: string): boolean {
    return existsSync(path);
  }

  static loadSync(path: string): Store {
    return Store.fromJSON(JSON.parse(readFileSync(path, 'utf8')) as PersistedState);
  }

  static async load(path: string): Promise<Store> {
    try {
      return Store.fromJSON(JSON.parse(await readFile(path, 'utf8')) as PersistedState);
    } catch (err) {
      throw new Error(`cannot load the emulator state ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  static fromJSON(s: PersistedState): Store {
    if (s.format !== 'adsync-graph-emulator/1')
      throw new Error(`not an emulator state file (format ${String(s.format)})`);
    const store = new Store(s.config);
    if (s.log !== undefined) {
      store.generation = s.generation;
      store.logBase = s.log.base;
      for (const e of s.log.entries) {
        if (e.length === 5)
          store.log.push({ kind: e[0], id: e[1], memberId: e[2], memberKind: e[3], removed: e[4] === 1 });
        else if (e.length === 3) store.log.push({ kind: e[0], id: e[1], props: e[2] });
        else store.log.push({ kind: e[0], id: e[1] });
      }
    } else store.generation = (s.generation ?? 0) + 1;
    for (const a of s.applications) store.applications.set(a.id, a);
    for (const e of s.extensionProperties) store.registerExtension(e);
    for (const p of s.objects) {
      const o: DirObject = { id: p.id, kind: p.kind, ord: 0, props: p.props, visibleAt: 0, live: false };
      store.collection(p.kind).add(o);
      store.registerAddresses(o);
    }
    for (const p of s.objects) {
      if (p.manager !== undefined) {
        store.managers.set(p.id, p.manager);
        let r = store.reports.get(p.manager);
        if (!r) {
          r = new Set();
          store.reports.set(p.manager, r);
        }
        r.add(p.id);
      }
      if (p.kind !== 'group' || !p.members) continue;
      if (p.owners) store.owners.set(p.id, new Set(p.owners));
      const set = new Set<string>();
      store.members.set(p.id, set);
      for (const m of p.members) {
        set.add(m);
        let r = store.memberOf.get(m);
        if (!r) {
          r = new Set();
          store.memberOf.set(m, r);
        }
        r.add(p.id);
      }
    }
    for (const p of s.deleted) {
      const o: DirObject = { id: p.id, kind: p.kind, ord: 0, props: p.props, visibleAt: 0, live: false };
      store.deleted.add(o);
      store.deletedAt.set(o.id, p.deletedAt ?? 0);
      if (p.memberOf || p.roles) store.deletedLinks.set(o.id, { memberOf: p.memberOf ?? [], roles: p.roles ?? [] });
    }
    for (const [t, exp] of s.tokens) store.tokens.set(t, exp);
    for (const r of s.directoryRoles ?? []) store.directoryRoles.set(r.id, { ...r, members: new Set(r.members) });
    return store;
  }
}
