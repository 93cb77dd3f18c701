/**
 * Desired objects vs the target's objects → a deterministic, sorted list of changes and report items.
 * Join is by anchor (hard match). adsync changes or deletes only what it owns (objects carrying its anchor);
 * unowned (cloud-only) objects are never touched, and a collision with one is reported, not resolved.
 * Memberships are compared as sets of anchors, so the cost follows the changes, not the group sizes.
 */
import type { AttributeChange, Change, MemberRef, ReportItem } from '../model/change.js';
import type { ObjectKind, TargetObject, TargetSnapshot, TargetSystem, TenantInfo } from '../model/target.js';
import type { DesiredObject, DesiredState } from './desired.js';

export interface DiffResult {
  changes: Change[];
  reports: ReportItem[];
  /** How many objects adsync owns in the target (for percentage guard rails). */
  managed: number;
}

/** Values Graph treats as "no value" compare equal: null, absent, '' and []. */
function isEmpty(v: unknown): boolean {
  return v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);
}

export function sameValue(a: unknown, b: unknown): boolean {
  if (isEmpty(a) || isEmpty(b)) return isEmpty(a) && isEmpty(b);
  if (Array.isArray(a) || Array.isArray(b) || (typeof a === 'object' && typeof b === 'object')) return JSON.stringify(a) === JSON.stringify(b);
  return a === b;
}

function attributeChange(name: string, before: unknown, after: unknown, flow: string): AttributeChange {
  const c: AttributeChange = { name, flow };
  if (!isEmpty(before)) c.before = before;
  if (!isEmpty(after)) c.after = after;
  return c;
}

/**
 * Entra's rule for UPNs whose suffix is not a verified domain: the user gets
 * `<mailNickname>@<initial domain>` (the MOERA), as Entra does for synced users (entra-connect-defaults §5).
 */
export function applyTenantRules(objects: readonly DesiredObject[], tenant: TenantInfo | undefined): void {
  if (!tenant) return;
  const verified = new Set(tenant.verifiedDomains.map((d) => d.toLowerCase()));
  for (const obj of objects) {
    if (obj.kind !== 'user' || obj.readOnly) continue;
    const upn = obj.attrs.userPrincipalName;
    if (typeof upn !== 'string') continue;
    const suffix = upn.slice(upn.lastIndexOf('@') + 1).toLowerCase();
    if (verified.has(suffix)) continue;
    const nick = typeof obj.attrs.mailNickname === 'string' ? obj.attrs.mailNickname : upn.slice(0, upn.lastIndexOf('@'));
    const moera = `${nick}@${tenant.initialDomain}`;
    obj.attrs.userPrincipalName = moera;
    obj.provenance = { ...obj.provenance, userPrincipalName: `${obj.provenance.userPrincipalName ?? 'default user.userPrincipalName'} (suffix ${suffix} is not a verified domain: ${tenant.initialDomain} fallback)` };
    obj.label = moera;
    obj.sortKey = moera.toLowerCase();
  }
}

/** Properties Graph needs on create that are not flows: a synced group is a plain security group. */
const CREATE_CONSTANTS: Partial<Record<ObjectKind, Record<string, unknown>>> = {
  group: { groupTypes: [], mailEnabled: false, securityEnabled: true },
};

const KIND_RANK: Record<ObjectKind, number> = { user: 0, group: 1, contact: 2 };
const ACTION_RANK: Record<Change['action'], number> = { create: 0, restore: 1, update: 2, 'add-members': 3, 'remove-members': 4, delete: 5 };

interface Sortable {
  kind: ObjectKind;
  key: string;
  anchor: string;
}

function compareSortable(a: Sortable, b: Sortable): number {
  const k = KIND_RANK[a.kind] - KIND_RANK[b.kind];
  if (k !== 0) return k;
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  return a.anchor < b.anchor ? -1 : a.anchor > b.anchor ? 1 : 0;
}

/** Plan order: by kind, then label (case-insensitive), anchor, and action. Sort keys are computed once. */
export function sortChanges(changes: Change[]): Change[] {
  const keyed = changes.map((c) => ({ c, s: { kind: c.kind, key: c.label.toLowerCase(), anchor: c.anchor } }));
  keyed.sort((a, b) => compareSortable(a.s, b.s) || ACTION_RANK[a.c.action] - ACTION_RANK[b.c.action]);
  for (let i = 0; i < keyed.length; i++) changes[i] = keyed[i]!.c;
  return changes;
}

export function sortReports(reports: ReportItem[]): ReportItem[] {
  const keyed = reports.map((r) => ({ r, s: { kind: r.kind, key: r.label.toLowerCase(), anchor: r.anchor ?? '' } }));
  keyed.sort((a, b) => compareSortable(a.s, b.s) || (a.r.code < b.r.code ? -1 : a.r.code > b.r.code ? 1 : 0));
  for (let i = 0; i < keyed.length; i++) reports[i] = keyed[i]!.r;
  return reports;
}

function labelOfTarget(t: TargetObject): string {
  const v = t.kind === 'user' ? t.attrs.userPrincipalName : t.attrs.displayName;
  return typeof v === 'string' && v ? v : t.id;
}

/** The attribute list of a create, in name order, for one kind: flows and create-only constants. */
function createOrder(sample: DesiredObject): { name: string; constant?: unknown }[] {
  const names: { name: string; constant?: unknown }[] = Object.keys(sample.attrs).map((name) => ({ name }));
  for (const [name, constant] of Object.entries(CREATE_CONSTANTS[sample.kind] ?? {})) names.push({ name, constant });
  return names.sort((a, b) => (a.name < b.name ? -1 : 1));
}

export function diff(desired: DesiredState, target: TargetSnapshot, system: TargetSystem = target.system): DiffResult {
  const changes: Change[] = [];
  const reports: ReportItem[] = [...desired.reports];
  applyTenantRules(desired.objects, target.tenant);

  const owned = new Map<string, TargetObject>();
  const anchorOfId = new Map<string, string>();
  const unownedUpns = new Map<string, TargetObject>();
  for (const t of target.objects) {
    if (t.anchor !== undefined) {
      owned.set(t.anchor, t);
      anchorOfId.set(t.id, t.anchor);
    } else if (t.kind === 'user' && typeof t.attrs.userPrincipalName === 'string') {
      unownedUpns.set(t.attrs.userPrincipalName.toLowerCase(), t);
    }
  }
  const deleted = new Map<string, TargetObject>();
  for (const t of target.deleted) if (t.anchor !== undefined && !owned.has(t.anchor)) deleted.set(t.anchor, t);

  // Member lists are sorted per group; ranking every object once makes those sorts integer compares.
  [...desired.objects].sort(bySortKey).forEach((o, i) => (o.rank = i));
  const byRank = (a: DesiredObject, b: DesiredObject) => a.rank! - b.rank!;

  // Objects that will exist after apply (kept, restored or created) → their target id (undefined until created).
  const present = new Map<DesiredObject, string | undefined>();
  const orders = new Map<ObjectKind, { name: string; constant?: unknown }[]>();

  for (const obj of desired.objects) {
    if (obj.readOnly || desired.held.has(obj.anchor)) continue;
    const base = { kind: obj.kind, anchor: obj.anchor, target: system, sourceDn: obj.dn, source: obj.source, label: obj.label, rule: obj.rule };
    const current = owned.get(obj.anchor);
    if (current && current.kind !== obj.kind) {
      reports.push({ code: 'kind-mismatch', kind: obj.kind, target: system, anchor: obj.anchor, sourceDn: obj.dn, source: obj.source, label: obj.label, reason: `the ${current.kind} ${current.id} in the target carries this anchor; adsync leaves both alone` });
      continue;
    }
    if (current) {
      present.set(obj, current.id);
      const attributes = changedAttributes(obj, current);
      if (attributes.length > 0) changes.push({ ...base, action: 'update', id: current.id, attributes });
      continue;
    }
    const gone = deleted.get(obj.anchor);
    if (gone) {
      present.set(obj, gone.id);
      changes.push({ ...base, action: 'restore', id: gone.id, attributes: changedAttributes(obj, gone) });
      continue;
    }
    if (obj.kind === 'user' && typeof obj.attrs.userPrincipalName === 'string') {
      const holder = unownedUpns.get(obj.attrs.userPrincipalName.toLowerCase());
      if (holder) {
        reports.push({ code: 'cloud-only-collision', kind: obj.kind, target: system, anchor: obj.anchor, sourceDn: obj.dn, source: obj.source, label: obj.label, reason: `a cloud-only user (${holder.id}) already has this userPrincipalName; adsync never takes over objects it doesn't own` });
        continue;
      }
    }
    present.set(obj, undefined);
    let order = orders.get(obj.kind);
    if (!order) orders.set(obj.kind, (order = createOrder(obj)));
    const attributes: AttributeChange[] = [];
    for (const { name, constant } of order) {
      if (constant !== undefined) {
        attributes.push({ name, after: constant, flow: `default ${obj.kind} (security group)` });
        continue;
      }
      const value = obj.attrs[name];
      if (!isEmpty(value)) attributes.push({ name, after: value, flow: obj.provenance[name] ?? 'default' });
    }
    changes.push({ ...base, action: 'create', attributes });
  }

  // Deletes: owned objects no longer desired. Held objects (flow errors, duplicates) are never deleted.
  const deleting = new Set<string>();
  for (const [anchor, t] of owned) {
    if (desired.byAnchor.has(anchor) || desired.held.has(anchor)) continue;
    const ex = desired.excluded.get(anchor);
    const reason = ex ? `out of scope: ${ex.reason}` : 'no longer in the source';
    deleting.add(anchor);
    changes.push({ action: 'delete', kind: t.kind, anchor, target: system, ...(ex ? { sourceDn: ex.dn, source: ex.source } : {}), label: labelOfTarget(t), rule: ex ? `sources.${ex.source}.scope` : 'ownership', id: t.id, reason });
  }
  for (const obj of desired.objects) {
    if (obj.readOnly && owned.has(obj.anchor)) {
      reports.push({ code: 'owned-now-read-only', kind: obj.kind, target: system, anchor: obj.anchor, sourceDn: obj.dn, source: obj.source, label: obj.label, reason: `${obj.readOnly.reason}; the existing cloud object is left as it is` });
    }
  }

  // Memberships, as set differences in anchor space.
  const memberRef = (m: DesiredObject, id: string | undefined): MemberRef => (id === undefined ? { anchor: m.anchor, kind: m.kind, label: m.label } : { anchor: m.anchor, kind: m.kind, id, label: m.label });
  for (const [group, groupId] of present) {
    if (group.kind !== 'group' || !group.members) continue;
    if (group.readOnlyMembers) {
      reports.push({ code: 'members-not-synced', kind: 'group', target: system, anchor: group.anchor, sourceDn: group.dn, source: group.source, label: group.label, reason: `${group.readOnlyMembers} member(s) are contacts or mail-enabled groups, which Graph can't write` });
    }
    const current = groupId !== undefined ? owned.get(group.anchor) : undefined;
    const have = new Set<string>();
    for (const id of current?.members ?? []) {
      const a = anchorOfId.get(id);
      if (a !== undefined) have.add(a); // members adsync doesn't own are left alone
    }
    const adds: DesiredObject[] = [];
    const wanted = have.size > 0 ? new Set<string>() : undefined;
    for (const m of group.members) {
      if (!present.has(m)) continue; // held, or blocked by a collision
      wanted?.add(m.anchor);
      if (!have.has(m.anchor)) adds.push(m);
    }
    const removes: MemberRef[] = [];
    for (const a of have) {
      if (wanted!.has(a) || deleting.has(a)) continue;
      const m = desired.byAnchor.get(a);
      const t = owned.get(a)!;
      removes.push(m ? memberRef(m, t.id) : { anchor: a, kind: t.kind, id: t.id, label: labelOfTarget(t) });
    }
    const base = { kind: 'group' as const, anchor: group.anchor, target: system, sourceDn: group.dn, source: group.source, label: group.label, rule: `${group.rule}.member` };
    if (adds.length > 0) {
      adds.sort(byRank);
      const refs: MemberRef[] = [];
      let last: DesiredObject | undefined;
      for (const m of adds) {
        if (m === last) continue; // the same DN twice in `member`
        last = m;
        refs.push(memberRef(m, present.get(m)));
      }
      changes.push({ ...base, action: 'add-members', ...(groupId !== undefined ? { id: groupId } : {}), members: refs });
    }
    if (removes.length > 0 && groupId !== undefined) {
      removes.sort((a, b) => (a.label.toLowerCase() < b.label.toLowerCase() ? -1 : a.label.toLowerCase() > b.label.toLowerCase() ? 1 : a.anchor < b.anchor ? -1 : 1));
      changes.push({ ...base, action: 'remove-members', id: groupId, members: removes });
    }
  }

  return { changes: sortChanges(changes), reports: sortReports(reports), managed: owned.size };
}

function bySortKey(a: DesiredObject, b: DesiredObject): number {
  return a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : a.anchor < b.anchor ? -1 : a.anchor > b.anchor ? 1 : 0;
}

function changedAttributes(obj: DesiredObject, current: TargetObject): AttributeChange[] {
  const out: AttributeChange[] = [];
  for (const name in obj.attrs) {
    const value = obj.attrs[name];
    const before = current.attrs[name];
    if (!sameValue(before, value)) out.push(attributeChange(name, before, value, obj.provenance[name] ?? 'default'));
  }
  return out;
}
