/**
 * The convergence test's own world: a small AD directory model, its LDIF rendering, and an independent oracle
 * of what the tenant must hold after an apply under Entra Connect's default rules
 * (../shared/reference/entra-connect-defaults.md §1–§2) and adsync's documented ownership rules (README, DESIGN):
 *
 *   - users in scope (not in the excluded OU) flow displayName (cn fallback), givenName, surname ← sn,
 *     jobTitle ← title, department, mail (all trimmed), userPrincipalName (sAMAccountName@domain fallback),
 *     accountEnabled ← userAccountControl bit 2 clear, onPremisesImmutableId ← the anchor, and manager (only when
 *     the manager is a synchronized user that exists in the tenant);
 *   - security groups in scope: displayName (cn fallback) and the direct members that are synchronized objects;
 *   - a user leaving the source or the scope is soft-deleted (deleted items) and restored — same object id — when
 *     it comes back with the same objectGUID; a security group is deleted for good;
 *   - a restore brings the user back under the UPN and addresses it had: it is held (the user stays in deleted
 *     items) while a live user holds one of them after this apply's deletes and updates; restores go one at a
 *     time (see oracleApply);
 *   - licences (the LDIF run's `licenses:` rule): a synchronized, enabled user whose department is exactly
 *     "Sales" (the raw AD value: CEL compares it untrimmed) holds SPE_E3 directly with YAMMER_ENTERPRISE
 *     disabled; every other owned user holds no direct SPE_E3 (the rule owns the SKU, onDisable and onLeave
 *     remove); a user left as it is keeps what it had;
 *   - adsync never writes an object it doesn't own: a new object whose UPN or mail a cloud-only object holds is not
 *     created; members adsync doesn't own stay in its groups;
 *   - duplicate-attribute resiliency (entra-connect-defaults §5): two source objects computing the same UPN or mail
 *     → one keeps it (the one whose live tenant object holds it, else one in deleted items that held it, else one
 *     that exists there, else the first by DN; a value a cloud-only object holds is nobody's);
 *     the other has only that value quarantined: an existing one keeps its own value, a new one is created
 *     without the mail or with the quarantine UPN <user part><4 digits>@<initial domain>; the rest flows.
 *
 * Deliberately self-contained: it imports nothing from src/ (the test checks that it never imports src/engine),
 * so a bug in the engine can't hide in the oracle too.
 */
import { createHash } from 'node:crypto';

/** Where the forest lives: the LDIF run uses contoso.example; the Samba run its own OU in contoso.test. */
export const WORLD = { domain: 'contoso.example', base: 'DC=contoso,DC=example', samSuffix: '', uniqueUpn: false };

/** The SKU of the licence rule (the emulator template subscribes it) and the plan the rule disables. */
export const LICENSE = {
  skuPartNumber: 'SPE_E3',
  skuId: '05e9a617-0261-4cee-bb44-138d3ef5d965',
  disabledPlan: 'YAMMER_ENTERPRISE',
  disabledPlanId: '7547a3fe-08ee-4ccb-b430-5077c5041653',
  otherPlanId: 'efb87545-963c-4e0d-99df-69c6916d9eb0',
  rule: `  - sku: SPE_E3
    disabledPlans: [YAMMER_ENTERPRISE]
    when: source.department == "Sales"
    onDisable: remove
    onLeave: remove
    owned: true`,
};

export function setWorld(w: typeof WORLD): void {
  Object.assign(WORLD, w);
}
/** In scope: Staff and Sales. Excluded: the OU the spec excludes. */
export const OUS = ['Staff', 'Sales', 'Excluded'] as const;
export type Ou = (typeof OUS)[number];
export const EXCLUDED_OU: Ou = 'Excluded';

export const USER_KEYS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6'] as const;
export const GROUP_KEYS = ['g0', 'g1', 'g2', 'g3'] as const;
/** Attributes a step may set or clear (AD names). */
export const TEXT_ATTRS = ['displayName', 'givenName', 'sn', 'title', 'department'] as const;
export type TextAttr = (typeof TEXT_ATTRS)[number];

export interface DUser {
  kind: 'user';
  key: string;
  cn: string;
  ou: Ou;
  sam: string;
  upn?: string;
  mail?: string;
  displayName?: string;
  givenName?: string;
  sn?: string;
  title?: string;
  department?: string;
  uac: number;
  /** Key of the manager (a linked attribute: AD drops it when the manager is deleted). */
  manager?: string;
}

export interface DGroup {
  kind: 'group';
  key: string;
  cn: string;
  ou: Ou;
  /** Keys of direct members (users or groups). */
  members: string[];
}

export type DObject = DUser | DGroup;

/** The forest: live objects and the deleted objects container (restorable with the same objectGUID). */
export interface Directory {
  objects: Map<string, DObject>;
  deleted: Map<string, DObject>;
}

export function emptyDirectory(): Directory {
  return { objects: new Map(), deleted: new Map() };
}

export function cloneDirectory(d: Directory): Directory {
  const copy = (o: DObject): DObject => (o.kind === 'group' ? { ...o, members: [...o.members] } : { ...o });
  return {
    objects: new Map([...d.objects].map(([k, o]) => [k, copy(o)])),
    deleted: new Map([...d.deleted].map(([k, o]) => [k, copy(o)])),
  };
}

/** objectGUID of a key: 16 stable bytes. */
export function guidOf(key: string): Buffer {
  return createHash('md5').update(`convergence:${key}`).digest();
}

/** The source anchor Entra Connect derives: base64 of ms-DS-ConsistencyGuid, else of objectGUID. */
export function anchorOf(key: string): string {
  return guidOf(key).toString('base64');
}

export function dnOf(o: DObject): string {
  return `CN=${o.cn},OU=${o.ou},${WORLD.base}`;
}

// ---- the directory's own rules (what AD does when an object is deleted) ----

/** AD removes forward links to a deleted object: group memberships and manager values. */
export function deleteObject(d: Directory, key: string): void {
  const o = d.objects.get(key);
  if (!o) return;
  d.objects.delete(key);
  d.deleted.set(key, o);
  for (const other of d.objects.values()) {
    if (other.kind === 'group') other.members = other.members.filter((m) => m !== key);
    else if (other.manager === key) delete other.manager;
  }
}

/** Reanimating a tombstone: same objectGUID, links not restored. */
export function restoreObject(d: Directory, key: string): void {
  const o = d.deleted.get(key);
  if (!o) return;
  d.deleted.delete(key);
  if (o.kind === 'group') o.members = o.members.filter((m) => d.objects.has(m));
  else if (o.manager !== undefined && !d.objects.has(o.manager)) delete o.manager;
  d.objects.set(key, o);
}

// ---- LDIF ----

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

export function toLdif(d: Directory): string {
  const records: string[] = [];
  for (const ou of OUS)
    records.push(
      [`dn: OU=${ou},${WORLD.base}`, 'objectClass: top', 'objectClass: organizationalUnit', `ou: ${ou}`].join('\n'),
    );
  const keys = [...d.objects.keys()].sort();
  for (const key of keys) {
    const o = d.objects.get(key)!;
    const lines = [`dn: ${dnOf(o)}`];
    if (o.kind === 'user') {
      lines.push('objectClass: top', 'objectClass: person', 'objectClass: organizationalPerson', 'objectClass: user');
      lines.push(`cn: ${o.cn}`, `sAMAccountName: ${o.sam}`, `userAccountControl: ${o.uac}`);
      // values go base64 (`::`) so leading and trailing blanks survive, as AD keeps them
      if (o.upn !== undefined) lines.push(`userPrincipalName:: ${b64(o.upn)}`);
      if (o.mail !== undefined) lines.push(`mail:: ${b64(o.mail)}`);
      for (const a of TEXT_ATTRS) if (o[a] !== undefined) lines.push(`${a}:: ${b64(o[a])}`);
      if (o.manager !== undefined) {
        const m = d.objects.get(o.manager);
        if (m) lines.push(`manager: ${dnOf(m)}`);
      }
    } else {
      lines.push(
        'objectClass: top',
        'objectClass: group',
        `cn: ${o.cn}`,
        `sAMAccountName: ${o.cn.replace(/\W/g, '')}`,
        'groupType: -2147483646',
      );
      for (const m of o.members) {
        const mo = d.objects.get(m);
        if (mo) lines.push(`member: ${dnOf(mo)}`);
      }
    }
    lines.push(`objectGUID:: ${guidOf(key).toString('base64')}`);
    records.push(lines.join('\n'));
  }
  return `version: 1\n\n${records.join('\n\n')}\n`;
}

// ---- the tenant as the oracle sees it ----

/** A cloud-only object the test created in the tenant (never owned by adsync). */
export interface CloudOnly {
  id: string;
  kind: 'user' | 'group';
  userPrincipalName?: string;
  mail?: string;
  displayName: string;
}

/** What the oracle expects of one user adsync owns. */
export interface ExpectedUser {
  anchor: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  jobTitle: string | null;
  department: string | null;
  mail: string | null;
  userPrincipalName: string;
  accountEnabled: boolean;
  onPremisesImmutableId: string;
  /** Anchor of the manager, or null. */
  manager: string | null;
  /** Holds SPE_E3 directly (the licence rule: enabled and department exactly "Sales"). */
  licensed: boolean;
  /** Left as it is (its UPN or mail is computed for another source object too): the tenant's values stand. */
  held?: boolean;
  /** Every address it ever had (Graph keeps old mail values in proxyAddresses): lower-cased. */
  addresses: string[];
}

export interface ExpectedGroup {
  anchor: string;
  displayName: string;
  /** Anchors of owned members. */
  members: string[];
  /** Ids of cloud-only members the tenant's admins added (adsync leaves them). */
  cloudMembers: string[];
}

/** The oracle's running model of the tenant: what adsync owns, live and soft-deleted. */
export interface TenantModel {
  users: Map<string, ExpectedUser>;
  groups: Map<string, ExpectedGroup>;
  /** Anchors of owned users in deleted items. */
  deletedUsers: Set<string>;
  /** Anchor → the object id, once known (a restore keeps it). */
  ids: Map<string, string>;
  cloudOnly: CloudOnly[];
  /** Addresses of owned users in deleted items (they come back with a restore). */
  addressesOfDeleted?: Map<string, string[]>;
  /** The UPN and mail owned users in deleted items had (a restore brings them back). */
  lastOfDeleted?: Map<string, { userPrincipalName: string; mail: string | null }>;
}

/** The initial domain of the emulated tenant (the quarantine UPN's domain). */
export const INITIAL_DOMAIN = 'contoso.onmicrosoft.com';

/** Entra's quarantine UPN: the user part, 4 digits (here: from the anchor, so every plan agrees), the initial domain. */
export function quarantineUpnOf(upn: string, anchor: string): string {
  const digits = String(createHash('sha256').update(anchor).digest().readUInt32BE(0) % 10000).padStart(4, '0');
  return `${upn.slice(0, upn.lastIndexOf('@')).slice(0, 60)}${digits}@${INITIAL_DOMAIN}`;
}

export function emptyTenant(): TenantModel {
  return { users: new Map(), groups: new Map(), deletedUsers: new Set(), ids: new Map(), cloudOnly: [] };
}

const trimmed = (v: string | undefined): string | null => {
  if (v === undefined) return null;
  const t = v.trim();
  return t === '' ? null : t;
};

const lower = (v: string | null | undefined): string | undefined => (v ? v.toLowerCase() : undefined);

function inScope(o: DObject): boolean {
  return o.ou !== EXCLUDED_OU;
}

function computeUser(u: DUser): ExpectedUser {
  return {
    anchor: anchorOf(u.key),
    // IIF(IsNullOrEmpty([displayName]),[cn],[displayName]): not trimmed
    displayName: u.displayName !== undefined && u.displayName !== '' ? u.displayName : u.cn,
    givenName: trimmed(u.givenName),
    surname: trimmed(u.sn),
    jobTitle: trimmed(u.title),
    department: trimmed(u.department),
    mail: trimmed(u.mail),
    userPrincipalName: trimmed(u.upn) ?? `${u.sam}@${WORLD.domain}`,
    accountEnabled: (u.uac & 2) === 0,
    onPremisesImmutableId: anchorOf(u.key),
    manager: null, // resolved below, once presence is known
    licensed: (u.uac & 2) === 0 && u.department === 'Sales',
    addresses: [],
  };
}

/**
 * One apply, as the oracle understands the defaults: the previous tenant + the directory now + the cloud-only
 * objects → the tenant after apply. (Cloud edits of owned objects are drift: AD wins, so they don't appear here;
 * a managed user deleted in the cloud sits in deleted items, which the caller records in `prev.deletedUsers`.)
 */
export function oracleApply(prev: TenantModel, dir: Directory): TenantModel {
  const next: TenantModel = {
    users: new Map(),
    groups: new Map(),
    deletedUsers: new Set(prev.deletedUsers),
    ids: new Map(prev.ids),
    cloudOnly: prev.cloudOnly,
  };
  const scoped = [...dir.objects.values()].filter(inScope);
  const users = scoped.filter((o): o is DUser => o.kind === 'user');
  const groups = scoped.filter((o): o is DGroup => o.kind === 'group');
  const computed = new Map(users.map((u) => [u.key, computeUser(u)]));

  // Duplicate-attribute resiliency: one keeps the value, the other has it quarantined (see the file comment).
  const blocked = new Set<string>(); // (nothing is blocked by a duplicate any more)
  const lastOfDeleted = prev.lastOfDeleted ?? new Map<string, { userPrincipalName: string; mail: string | null }>();
  const ndn = (u: DUser): string => dnOf(u).toLowerCase();
  const cloudUpns = new Set(
    prev.cloudOnly
      .filter((c) => c.kind === 'user')
      .map((c) => lower(c.userPrincipalName))
      .filter(Boolean),
  );
  const cloudMails = new Set(prev.cloudOnly.map((c) => lower(c.mail)).filter(Boolean));
  for (const prop of ['userPrincipalName', 'mail'] as const) {
    const by = new Map<string, DUser[]>();
    for (const u of users) {
      const a = anchorOf(u.key);
      const c = computed.get(u.key)!;
      // a new user that meets a cloud-only user on its UPN or mail is not created: it claims nothing
      if (
        !prev.users.has(a) &&
        !prev.deletedUsers.has(a) &&
        (cloudUpns.has(lower(c.userPrincipalName)) || (c.mail !== null && cloudMails.has(lower(c.mail))))
      )
        continue;
      const v = lower(computed.get(u.key)![prop]);
      if (v) by.set(v, [...(by.get(v) ?? []), u]);
    }
    for (const [v, list] of by) {
      // a value a cloud-only object holds is nobody's: each user meets that collision alone (below)
      if (list.length < 2 || (prop === 'userPrincipalName' ? cloudUpns : cloudMails).has(v)) continue;
      const holds = (u: DUser): boolean => {
        const a = anchorOf(u.key);
        const o = prev.users.get(a);
        if (o) return lower(o[prop]) === v || (prop === 'mail' && o.addresses.includes(v));
        const gone = lastOfDeleted.get(a);
        if (!gone || !prev.deletedUsers.has(a)) return false;
        return lower(gone[prop]) === v || (prop === 'mail' && (prev.addressesOfDeleted?.get(a) ?? []).includes(v));
      };
      const exists = (u: DUser): boolean => prev.users.has(anchorOf(u.key)) || prev.deletedUsers.has(anchorOf(u.key));
      // a live holder before one in deleted items (which gave the value up when it was deleted)
      const rank = (u: DUser): number => (holds(u) ? (prev.users.has(anchorOf(u.key)) ? 0 : 1) : exists(u) ? 2 : 3);
      const sorted = [...list].sort((x, y) => rank(x) - rank(y) || (ndn(x) < ndn(y) ? -1 : ndn(x) > ndn(y) ? 1 : 0));
      for (const loser of sorted.slice(1)) {
        const a = anchorOf(loser.key);
        const e = computed.get(loser.key)!;
        const o = prev.users.get(a) ?? (prev.deletedUsers.has(a) ? lastOfDeleted.get(a) : undefined);
        if (o) {
          if (prop === 'mail') e.mail = o.mail;
          else e.userPrincipalName = o.userPrincipalName;
        } else if (prop === 'mail') e.mail = null;
        else e.userPrincipalName = quarantineUpnOf(e.userPrincipalName, a);
      }
    }
  }

  const prevAddresses = prev.addressesOfDeleted ?? new Map<string, string[]>();

  // Owned users this apply deletes (gone from the source or the scope): their addresses are free again.
  const leaving = new Set([...prev.users.keys()].filter((a) => !users.some((u) => anchorOf(u.key) === a)));
  // Which users exist after apply (kept, restored or created), and which change.
  const present = new Set<string>();
  for (const u of users) {
    const anchor = anchorOf(u.key);
    const e = computed.get(u.key)!;
    const owned = prev.users.get(anchor);
    const inDeleted = prev.deletedUsers.has(anchor);
    if (blocked.has(u.key)) {
      if (owned) {
        present.add(u.key);
        next.users.set(anchor, { ...owned, held: true }); // left as it is, cloud edits included
      }
      continue;
    }
    if (!owned && !inDeleted) {
      // a new object: a cloud-only holder of its UPN or mail blocks it
      if (cloudUpns.has(lower(e.userPrincipalName)) || (e.mail && cloudMails.has(lower(e.mail)))) continue;
    }
    if (owned) {
      // an existing object can't take a UPN or address a cloud-only object holds, nor an address another owned
      // user ever had (Graph keeps those in its proxyAddresses): it keeps its own
      const otherHas = (v: string): boolean =>
        [...prev.users].some(([a, o]) => a !== anchor && !leaving.has(a) && o.addresses.includes(v));
      if (cloudUpns.has(lower(e.userPrincipalName))) e.userPrincipalName = owned.userPrincipalName;
      if (e.mail && (cloudMails.has(lower(e.mail)) || otherHas(lower(e.mail)!))) e.mail = owned.mail;
    }
    e.addresses = [
      ...new Set([...(owned?.addresses ?? prevAddresses.get(anchor) ?? []), ...(e.mail ? [lower(e.mail)!] : [])]),
    ].sort();
    present.add(u.key);
    next.deletedUsers.delete(anchor);
    next.users.set(anchor, e);
  }
  // An owned user can't take a UPN or mail another owned user keeps (held, or not changed by this apply): it
  // keeps its own.
  for (const [anchor, e] of next.users) {
    const owned = prev.users.get(anchor);
    if (!owned || e.held) continue;
    const keptByOther = (pick: (x: ExpectedUser) => string | null, v: string | null): boolean =>
      v !== null &&
      lower(v) !== lower(pick(owned)) &&
      [...next.users].some(
        ([a, x]) =>
          a !== anchor &&
          prev.users.has(a) &&
          lower(pick(x)) === lower(v) &&
          (x.held || lower(pick(prev.users.get(a)!)) === lower(v)),
      );
    if (keptByOther((x) => x.userPrincipalName, e.userPrincipalName)) e.userPrincipalName = owned.userPrincipalName;
    if (keptByOther((x) => x.mail, e.mail)) e.mail = owned.mail;
    e.addresses = [...new Set([...owned.addresses, ...(e.mail ? [lower(e.mail)!] : [])])].sort();
  }
  // A new user can't take a UPN or mail an existing user keeps (or refused its own change): that value is
  // quarantined, the user is created with the rest.
  const kept = new Set<string>();
  for (const [anchor, e] of next.users) {
    if (!prev.users.has(anchor)) continue;
    for (const v of [lower(e.userPrincipalName), lower(e.mail), ...e.addresses]) if (v) kept.add(v);
  }
  for (const u of users) {
    const anchor = anchorOf(u.key);
    const e = next.users.get(anchor);
    if (!e || prev.users.has(anchor) || prev.deletedUsers.has(anchor)) continue;
    if (kept.has(lower(e.userPrincipalName)!)) e.userPrincipalName = quarantineUpnOf(e.userPrincipalName, anchor);
    if (e.mail && kept.has(lower(e.mail)!)) {
      e.mail = null;
      e.addresses = [];
    }
  }
  // Restores: Graph brings a user back under the UPN and addresses it had. adsync restores after the updates,
  // one at a time by (UPN as computed from AD, lower-cased; anchor); a restore whose old UPN or one of its old
  // addresses a live user holds then (after this apply's deletes and updates) is held: the user stays in
  // deleted items. One that goes ahead then updates itself, except to a UPN or mail another user holds (it
  // keeps its old one).
  const restoring = users
    .filter((u) => {
      const a = anchorOf(u.key);
      return prev.deletedUsers.has(a) && !prev.users.has(a) && next.users.has(a);
    })
    .map((u) => ({ u, key: computeUser(u).userPrincipalName.toLowerCase(), anchor: anchorOf(u.key) }))
    .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : x.anchor < y.anchor ? -1 : 1));
  if (restoring.length > 0) {
    const upns = new Set<string>();
    const addrs = new Set<string>();
    const restoredValues = new Set<string>();
    for (const [a, x] of next.users) {
      if (!prev.users.has(a)) continue;
      upns.add(lower(x.userPrincipalName)!);
      for (const v of [lower(x.mail), ...x.addresses]) if (v) addrs.add(v);
    }
    for (const c of prev.cloudOnly) {
      if (c.kind === 'user' && c.userPrincipalName) upns.add(lower(c.userPrincipalName)!);
      if (c.mail) addrs.add(lower(c.mail)!);
    }
    for (const { u, anchor } of restoring) {
      const old = lastOfDeleted.get(anchor)!;
      const oldAddrs = prevAddresses.get(anchor) ?? [];
      if (upns.has(lower(old.userPrincipalName)!) || oldAddrs.some((v) => addrs.has(v))) {
        next.users.delete(anchor);
        next.deletedUsers.add(anchor);
        present.delete(u.key);
        continue;
      }
      const e = next.users.get(anchor)!;
      if (upns.has(lower(e.userPrincipalName)!)) e.userPrincipalName = old.userPrincipalName;
      if (e.mail && addrs.has(lower(e.mail)!)) e.mail = old.mail;
      e.addresses = [...new Set([...oldAddrs, ...(e.mail ? [lower(e.mail)!] : [])])].sort();
      upns.add(lower(e.userPrincipalName)!);
      for (const v of e.addresses) addrs.add(v);
      restoredValues.add(lower(e.userPrincipalName)!);
      for (const v of e.addresses) restoredValues.add(v);
    }
    // ...and a new user can't take what a restored user holds: that value is quarantined too
    for (const u of users) {
      const anchor = anchorOf(u.key);
      const e = next.users.get(anchor);
      if (!e || prev.users.has(anchor) || prev.deletedUsers.has(anchor)) continue;
      if (restoredValues.has(lower(e.userPrincipalName)!))
        e.userPrincipalName = quarantineUpnOf(e.userPrincipalName, anchor);
      if (e.mail && restoredValues.has(lower(e.mail)!)) {
        e.mail = null;
        e.addresses = [];
      }
    }
  }
  // Manager: a reference to a user that exists in the tenant after apply; otherwise unset.
  for (const u of users) {
    const anchor = anchorOf(u.key);
    const e = next.users.get(anchor);
    if (!e || blocked.has(u.key) || !present.has(u.key)) continue;
    const m = u.manager;
    e.manager = m !== undefined && m !== u.key && present.has(m) ? anchorOf(m) : null;
  }
  // Users no longer desired: soft-deleted.
  next.addressesOfDeleted = new Map(prevAddresses);
  next.lastOfDeleted = new Map(lastOfDeleted);
  for (const [anchor, o] of prev.users) {
    if (!next.users.has(anchor) && !isDesiredBlocked(anchor, users, blocked)) {
      next.deletedUsers.add(anchor);
      next.addressesOfDeleted.set(anchor, o.addresses);
      next.lastOfDeleted.set(anchor, { userPrincipalName: o.userPrincipalName, mail: o.mail });
    }
  }
  // Groups: security groups are always created (names need not be unique); members are the synchronized ones.
  for (const g of groups) {
    const anchor = anchorOf(g.key);
    const before = prev.groups.get(anchor);
    const members = [
      ...new Set(
        g.members
          .filter((m) => {
            const mo = dir.objects.get(m);
            if (!mo || !inScope(mo)) return false;
            return mo.kind === 'group' ? true : present.has(m);
          })
          .map(anchorOf),
      ),
    ].sort();
    next.groups.set(anchor, {
      anchor,
      displayName: g.cn,
      members,
      cloudMembers: before ? [...before.cloudMembers] : [],
    });
  }
  // A group that is gone is deleted for good: its id is not reused.
  for (const anchor of prev.groups.keys()) if (!next.groups.has(anchor)) next.ids.delete(anchor);
  return next;
}

function isDesiredBlocked(anchor: string, users: DUser[], blocked: Set<string>): boolean {
  return users.some((u) => blocked.has(u.key) && anchorOf(u.key) === anchor);
}
