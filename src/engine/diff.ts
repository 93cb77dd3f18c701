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
    obj.attrs.userPrincipalName = `${nick}@${tenant.initialDomain}`;
    obj.provenance.userPrincipalName = `${obj.provenance.userPrincipalName ?? 'default user.userPrincipalName'} (suffix ${suffix} is not a verified domain: ${tenant.initialDomain} fallback)`;
    obj.label = obj.attrs.userPrincipalName as string;
  }
}

/** Properties Graph needs on create that are not flows: a synced group is a plain security group. */
const CREATE_CONSTANTS: Partial<Record<ObjectKind, Record<string, unknown>>> = {
  group: { groupTypes: [], mailEnabled: false, securityEnabled: true },
};

const KIND_RANK: Record<ObjectKind, number> = { user: 0, group: 1, contact: 2 };
const ACTION_RANK: Record<Change['action'], number> = { create: 0, restore: 1, update: 2, 'add-members': 3, 'remove-members': 4, delete: 5 };

function compareKeys(a: { kind: ObjectKind; label: string; anchor?: string }, b: { kind: ObjectKind; label: string; anchor?: string }): number {
  const k = KIND_RANK[a.kind] - KIND_RANK[b.kind];
  if (k !== 0) return k;
  const la = a.label.toLowerCase();
  const lb = b.label.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  const aa = a.anchor ?? '';
  const ab = b.anchor ?? '';
  return aa < ab ? -1 : aa > ab ? 1 : 0;
}

export function sortChanges(changes: Change[]): Change[] {
  return changes.sort((a, b) => compareKeys(a, b) || ACTION_RANK[a.action] - ACTION_RANK[b.action]);
}

export function sortReports(reports: ReportItem[]): ReportItem[] {
  return reports.sort((a, b) => compareKeys(a, b) || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
}

function labelOfTarget(t: TargetObject): string {
  const v = t.kind === 'user' ? t.attrs.userPrincipalName : t.attrs.displayName;
  return typeof v === 'string' && v ? v : t.id;
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

  // Anchors that will exist after apply (kept, restored or created), and their ids where known.
  const present = new Map<string, string | undefined>();
  const desiredAnchors = new Set<string>();
  const byAnchor = new Map<string, DesiredObject>();
  for (const obj of desired.objects) byAnchor.set(obj.anchor, obj);

  for (const obj of desired.objects) {
    desiredAnchors.add(obj.anchor);
    if (obj.readOnly || desired.held.has(obj.anchor)) continue;
    const base = { kind: obj.kind, anchor: obj.anchor, target: system, sourceDn: obj.dn, source: obj.source, label: obj.label, rule: obj.rule };
    const current = owned.get(obj.anchor);
    if (current && current.kind !== obj.kind) {
      reports.push({ code: 'kind-mismatch', kind: obj.kind, target: system, anchor: obj.anchor, sourceDn: obj.dn, source: obj.source, label: obj.label, reason: `the ${current.kind} ${current.id} in the target carries this anchor; adsync leaves both alone` });
      continue;
    }
    if (current) {
      present.set(obj.anchor, current.id);
      const attributes = changedAttributes(obj, current);
      if (attributes.length > 0) changes.push({ ...base, action: 'update', id: current.id, attributes });
      continue;
    }
    const gone = deleted.get(obj.anchor);
    if (gone) {
      present.set(obj.anchor, gone.id);
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
    present.set(obj.anchor, undefined);
    const attributes: AttributeChange[] = [];
    for (const [name, value] of Object.entries(obj.attrs)) if (!isEmpty(value)) attributes.push(attributeChange(name, undefined, value, obj.provenance[name] ?? 'default'));
    for (const [name, value] of Object.entries(CREATE_CONSTANTS[obj.kind] ?? {})) attributes.push({ name, after: value, flow: `default ${obj.kind} (security group)` });
    attributes.sort((a, b) => (a.name < b.name ? -1 : 1));
    changes.push({ ...base, action: 'create', attributes });
  }

  // Deletes: owned objects no longer desired. Held objects (flow errors, duplicates) are never deleted.
  const deleting = new Set<string>();
  for (const [anchor, t] of owned) {
    if (desiredAnchors.has(anchor) || desired.held.has(anchor)) continue;
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
  for (const group of desired.objects) {
    if (group.kind !== 'group' || !group.members || !present.has(group.anchor)) continue;
    const groupId = present.get(group.anchor);
    const want = new Map<string, DesiredObject>();
    let readOnlyMembers = 0;
    for (const ndn of group.members) {
      const m = desired.byDn.get(ndn);
      if (!m) continue; // out of scope, or not a synchronized object: Entra Connect skips such members too
      if (m.readOnly) {
        readOnlyMembers++;
        continue;
      }
      if (present.has(m.anchor)) want.set(m.anchor, m);
    }
    if (readOnlyMembers > 0) {
      reports.push({ code: 'members-not-synced', kind: 'group', target: system, anchor: group.anchor, sourceDn: group.dn, source: group.source, label: group.label, reason: `${readOnlyMembers} member(s) are contacts or mail-enabled groups, which Graph can't write` });
    }
    const current = groupId !== undefined ? owned.get(group.anchor) : undefined;
    const have = new Set<string>();
    for (const id of current?.members ?? []) {
      const a = anchorOfId.get(id);
      if (a !== undefined) have.add(a); // members adsync doesn't own are left alone
    }
    const ref = (anchor: string, m: DesiredObject | undefined, t: TargetObject | undefined): MemberRef => {
      const id = present.get(anchor) ?? t?.id;
      return { anchor, kind: m?.kind ?? t?.kind ?? 'user', label: m?.label ?? (t ? labelOfTarget(t) : anchor), ...(id !== undefined ? { id } : {}) };
    };
    const adds = [...want.keys()].filter((a) => !have.has(a)).map((a) => ref(a, want.get(a), owned.get(a))).sort(byLabel);
    const removes = [...have].filter((a) => !want.has(a) && !deleting.has(a)).map((a) => ref(a, byAnchor.get(a), owned.get(a))).sort(byLabel);
    const base = { kind: 'group' as const, anchor: group.anchor, target: system, sourceDn: group.dn, source: group.source, label: group.label, rule: `${group.rule}.member` };
    if (adds.length > 0) changes.push({ ...base, action: 'add-members', ...(groupId !== undefined ? { id: groupId } : {}), members: adds });
    if (removes.length > 0 && groupId !== undefined) changes.push({ ...base, action: 'remove-members', id: groupId, members: removes });
  }

  return { changes: sortChanges(changes), reports: sortReports(reports), managed: owned.size };
}

function byLabel(a: MemberRef, b: MemberRef): number {
  const la = a.label.toLowerCase();
  const lb = b.label.toLowerCase();
  return la < lb ? -1 : la > lb ? 1 : a.anchor < b.anchor ? -1 : a.anchor > b.anchor ? 1 : 0;
}

function changedAttributes(obj: DesiredObject, current: TargetObject): AttributeChange[] {
  const out: AttributeChange[] = [];
  for (const [name, value] of Object.entries(obj.attrs)) {
    const before = current.attrs[name];
    if (!sameValue(before, value)) out.push(attributeChange(name, before, value, obj.provenance[name] ?? 'default'));
  }
  return out;
}
