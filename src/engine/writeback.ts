/**
 * Writeback (Entra ID → AD): the same pipeline as the inbound sync with the roles swapped — the tenant, as
 * read for the plan, is the source; AD is the target. Pure: the session hands over the Entra snapshot, the
 * desired state of the inbound pass (which AD object each anchor is), facts about those AD objects collected
 * before the source snapshots were dropped, and the written-back groups found in each group rule's OU.
 *
 *   anchor      ms-DS-ConsistencyGuid ← objectGUID where it is empty (Entra Connect's "Out to AD - User
 *               ImmutableId"). The anchor value does not change (it was objectGUID before), so no cloud object
 *               changes id, and the anchor survives a move to another forest.
 *   group       cloud groups a CEL filter selects → AD groups in an OU, marked adminDescription Group_<cloud id>
 *               (Entra Connect's marker: its default inbound filter, and adsync's, skip such groups, so they
 *               never flow back into Entra) and owned through adsync's own marker, adminDisplayName
 *               adsync:Group_<cloud id>: adminDescription alone proves nothing (Entra Connect writes it too, and
 *               admins set it by hand to keep groups out of sync), so a group without adsync's marker is never
 *               changed or deleted — except that a group adsync wrote before it had a marker (CN and
 *               adminDescription Group_<id> in the rule's OU, its cloud group still selected) is claimed by a
 *               visible update. Members map back to AD DNs through the anchor.
 *   attributes  Entra properties of managed objects → AD attributes, through CEL flows.
 *
 * Every change has target `ad`; ids are DNs. Changes are sorted like the inbound ones.
 */
import type { AttributeChange, Change, MemberRef, ReportItem } from '../model/change.js';
import type { AttrValue, DirectoryEntry, SourceSnapshot } from '../model/entry.js';
import { escapeDnValue, isUnder, normalizeDn } from '../model/dn.js';
import type { ObjectKind, TargetObject, TargetSnapshot } from '../model/target.js';
import type {
  AttributeWritebackSpec,
  GroupWritebackSpec,
  SourceSpec,
  Spec,
  WritebackGroupType,
  WritebackRuleSpec,
} from '../spec/types.js';
import type { DesiredObject, DesiredState } from './desired.js';
import { anchorOf } from './desired.js';
import { sortChanges, sortReports } from './diff.js';
import { compileExpression, referencedAttributes, type CompiledExpression, type FlowContext } from './expr.js';
import { classify } from './scope.js';
import { deniedAttribute } from '../spec/writeback-denylist.js';

/** AD groupType values (the sign bit is ADS_GROUP_TYPE_SECURITY_ENABLED). */
export const GROUP_TYPES: Record<WritebackGroupType, number> = {
  'global-security': -2147483646,
  'domain-local-security': -2147483644,
  'universal-security': -2147483640,
  'universal-distribution': 8,
};

/** The cloud-origin marker on a written-back group (adminDescription), as Entra Connect writes it. */
export const GROUP_MARKER_PREFIX = 'Group_';
/**
 * adsync's ownership marker on a written-back group: adminDisplayName adsync:Group_<cloud id>. adminDisplayName
 * is on every AD object (class top), single-valued, shown by no ADUC tab, and not used by Entra Connect.
 */
export const OWNER_ATTRIBUTE = 'adminDisplayName';
export const OWNER_PREFIX = `adsync:${GROUP_MARKER_PREFIX}`;
export const ownerMarker = (cloudId: string): string => `${OWNER_PREFIX}${cloudId}`;
export const ANCHOR_ATTRIBUTE = 'mS-DS-ConsistencyGuid';
/** The pseudo-attribute of an AD create that carries the new object's DN (never sent as an attribute). */
export const DN_ATTRIBUTE = 'distinguishedName';
/** Attributes the group writeback reads from (and writes to) its groups in AD. */
export const WRITEBACK_GROUP_ATTRIBUTES = [
  'cn',
  'sAMAccountName',
  'displayName',
  'description',
  'groupType',
  'adminDescription',
  'adminDisplayName',
  'member',
];

/** Default flows of a written-back group: AD attribute ← CEL over the cloud group (`source`). */
export const DEFAULT_GROUP_WRITEBACK_FLOWS: Record<string, string> = {
  description: 'source.description',
  displayName: 'source.displayName',
};

/** What the writeback needs to know about one AD object of the inbound pass (kept when the snapshot is dropped). */
export interface AdFacts {
  /** base64 of objectGUID. */
  objectGuid: string;
  /** base64 of ms-DS-ConsistencyGuid, when set. */
  consistencyGuid?: string;
  /** The attribute-writeback attributes (lower-cased) as AD holds them. */
  attrs: Record<string, string[]>;
}

/** An AD group carrying adsync's marker (anywhere in the domain) or the Group_ marker (in a group rule's OU). */
export interface AdGroup {
  dn: string;
  /** Lower-cased attribute → values (strings). */
  attrs: Record<string, string[]>;
  /** The member values could not be read completely: no member is added or removed on their account. */
  membersUnread?: true;
}

/** The names of one object in a writeback OU (any user, group or contact). */
export interface OuName {
  dn: string;
  cn?: string;
  sam?: string;
}

export interface WritebackInput {
  spec: Pick<Spec, 'sources' | 'writeback'>;
  desired: DesiredState;
  facts: ReadonlyMap<string, AdFacts>;
  entra: TargetSnapshot;
  /**
   * Group rule index → its OU's DN (resolved from the spec), the marked groups (adsync's marker anywhere in the
   * domain, Group_ in the OU), and the names of every object in the OU (for CN and sAMAccountName collisions).
   */
  groups: ReadonlyMap<number, { ou: string; existing: AdGroup[]; names?: OuName[] }>;
}

export interface WritebackResult {
  changes: Change[];
  reports: ReportItem[];
  /** AD objects adsync owns through writeback (written-back groups), for percentage guard rails. */
  managed: number;
  /** The AD objects the changes touch, as read (ids are DNs): for saved plans' observed digests. */
  snapshot: TargetSnapshot;
}

// ---- reading helpers (the session calls these while it still holds the source snapshots)

const text = (v: AttrValue): string => (typeof v === 'string' ? v : Buffer.from(v).toString('utf8'));
const b64 = (v: AttrValue): string =>
  (typeof v === 'string' ? Buffer.from(v, 'latin1') : Buffer.from(v.buffer, v.byteOffset, v.byteLength)).toString(
    'base64',
  );

/** AD attributes the attribute-writeback rules of a source write (lower-cased): the source read must include them. */
export function writebackReadAttributes(rules: readonly WritebackRuleSpec[], source: string): string[] {
  const out = new Set<string>();
  for (const r of rules)
    if (r.rule === 'attributes' && r.source === source) for (const a of Object.keys(r.flows)) out.add(a.toLowerCase());
  return [...out].sort();
}

/** Graph properties the writeback expressions read, per kind (added to the Entra read's $select). */
export function writebackGraphProperties(rules: readonly WritebackRuleSpec[]): { user: string[]; group: string[] } {
  const user = new Set<string>();
  const group = new Set<string>();
  for (const r of rules) {
    if (r.rule === 'group') {
      for (const p of ['description', 'mailNickname']) group.add(p);
      for (const e of [r.filter, ...Object.values(r.flows)])
        if (typeof e === 'string') for (const p of referencedAttributes(e)) group.add(p);
    } else if (r.rule === 'attributes') {
      const set = r.kind === 'group' ? group : user;
      for (const e of Object.values(r.flows)) for (const p of referencedAttributes(e)) set.add(p);
    }
  }
  user.delete('id');
  group.delete('id');
  return { user: [...user].sort(), group: [...group].sort() };
}

/** Facts about every user and group of a snapshot, by anchor (objectGUID and ms-DS-ConsistencyGuid as base64). */
export function collectFacts(
  snapshot: SourceSnapshot,
  source: Pick<SourceSpec, 'anchor'>,
  attributes: readonly string[],
  into: Map<string, AdFacts>,
): void {
  for (const entry of snapshot.entries) {
    const kind = classify(entry);
    if (kind !== 'user' && kind !== 'group') continue;
    const anchor = anchorOf(entry, source);
    const guid = entry.attrs.objectguid?.[0];
    if (anchor === undefined || guid === undefined) continue;
    into.set(anchor, factsOf(entry, guid, attributes));
  }
}

function factsOf(entry: DirectoryEntry, guid: AttrValue, attributes: readonly string[]): AdFacts {
  const f: AdFacts = { objectGuid: b64(guid), attrs: {} };
  const cg = entry.attrs['ms-ds-consistencyguid']?.[0];
  if (cg !== undefined) f.consistencyGuid = b64(cg);
  for (const a of attributes) {
    const v = entry.attrs[a];
    if (v !== undefined && v.length > 0) f.attrs[a] = v.map(text);
  }
  return f;
}

// ---- expressions over Graph objects

/**
 * Compiles a writeback expression. The engine evaluates some inbound shapes (`source.x`) natively over raw AD
 * values; a Graph object is not that, so the expression is parenthesized, which CEL reads identically and
 * which no native shape matches: every writeback expression runs through CEL.
 */
export function compileWriteback(expression: string): CompiledExpression {
  return compileExpression(`(${expression})`);
}

/** The CEL context of a Graph object: `source` (and `sourceAll`) hold its properties, absent ones null. */
function graphContext(t: TargetObject, reads: readonly string[], dn = ''): FlowContext {
  const source: Record<string, unknown> = { id: t.id };
  for (const p of reads) source[p] = null;
  for (const [k, v] of Object.entries(t.attrs)) source[k] = v === undefined ? null : v;
  const sourceAll: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(source)) sourceAll[k] = v === null ? [] : Array.isArray(v) ? v : [v];
  return {
    attrs: {},
    source: source as FlowContext['source'],
    sourceAll: sourceAll as FlowContext['sourceAll'],
    anchor: t.anchor ?? '',
    dn,
    domain: '',
    mailEnabled: t.attrs['mailEnabled'] === true,
  };
}

/** A CEL result as AD attribute values: null/empty → none; lists element-wise; booleans in AD's TRUE/FALSE. */
export function toAdValues(v: unknown): string[] {
  if (v === null || v === undefined || v === '') return [];
  if (Array.isArray(v)) return v.flatMap(toAdValues);
  if (typeof v === 'boolean') return [v ? 'TRUE' : 'FALSE'];
  if (typeof v === 'object') return [JSON.stringify(v)];
  return [String(v)];
}

const sameValues = (a: readonly string[], b: readonly string[]): boolean => {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((x, i) => x === sb[i]);
};

/** How a value list shows in a plan: absent, one string, or the list. */
const shown = (values: readonly string[]): unknown =>
  values.length === 0 ? undefined : values.length === 1 ? values[0] : [...values];

function attributeChange(
  name: string,
  before: readonly string[],
  after: readonly string[],
  flow: string,
): AttributeChange {
  const c: AttributeChange = { name, flow };
  const b = shown(before);
  const a = shown(after);
  if (b !== undefined) c.before = b;
  if (a !== undefined) c.after = a;
  return c;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** sAMAccountName of a written-back group: its display name without the characters AD forbids, + the id's tail. */
export function groupSamAccountName(displayName: unknown, id: string): string {
  // Cut on code points, never inside a surrogate pair: half an emoji is stored by AD as U+FFFD, and the name
  // would differ from the planned one on every plan.
  const clean = (typeof displayName === 'string' ? displayName : '')
    .replace(LONE_SURROGATE, '\uFFFD')
    .replace(/["/\\[\]:;|=,+*?<>@\x00-\x1f]/g, '')
    .trim()
    .replace(/\.+$/, '');
  const base = Array.from(clean).slice(0, 51).join('').trim();
  const tail = id.replace(/-/g, '').slice(-12);
  return base === '' ? `Group_${tail}` : `${base}_${tail}`;
}

/** The DN of the written-back group of a cloud group. */
export function writebackGroupDn(ou: string, cloudId: string): string {
  return `CN=${escapeDnValue(`${GROUP_MARKER_PREFIX}${cloudId}`)},${ou}`;
}

const labelOfEntra = (t: TargetObject): string => {
  const v = t.kind === 'user' ? t.attrs['userPrincipalName'] : t.attrs['displayName'];
  return typeof v === 'string' && v !== '' ? v : t.id;
};

// ---- the plan

interface PendingUpdate {
  kind: ObjectKind;
  anchor: string;
  dn: string;
  source: string;
  label: string;
  rules: Set<string>;
  attributes: AttributeChange[];
  observed: Record<string, unknown>;
}

export function planWriteback(input: WritebackInput): WritebackResult {
  const { desired, facts, entra } = input;
  const changes: Change[] = [];
  const reports: ReportItem[] = [];
  const adObjects: TargetObject[] = [];
  let managed = 0;
  const updates = new Map<string, PendingUpdate>();
  const pending = (o: DesiredObject, rule: string): PendingUpdate => {
    const key = `${o.kind} ${o.anchor}`;
    let u = updates.get(key);
    if (!u)
      updates.set(
        key,
        (u = {
          kind: o.kind,
          anchor: o.anchor,
          dn: o.dn,
          source: o.source,
          label: o.label,
          rules: new Set(),
          attributes: [],
          observed: {},
        }),
      );
    u.rules.add(rule);
    return u;
  };

  for (const rule of input.spec.writeback) {
    if (rule.rule !== 'anchor') continue;
    const where = `writeback[${rule.index}].anchor`;
    const kinds = new Set<ObjectKind>(rule.kinds);
    for (const o of desired.objects) {
      if (o.source !== rule.source || !kinds.has(o.kind) || o.readOnly || desired.held.has(o.anchor)) continue;
      const f = facts.get(o.anchor);
      if (!f || f.consistencyGuid !== undefined) continue;
      const u = pending(o, where);
      u.observed['ms-ds-consistencyguid'] = null;
      u.attributes.push({
        name: ANCHOR_ATTRIBUTE,
        after: f.objectGuid,
        flow: `${where}: objectGUID, where ms-DS-ConsistencyGuid is empty (Entra Connect's "Out to AD - User ImmutableId")`,
      });
    }
  }

  const byId = new Map<string, TargetObject>();
  for (const t of entra.objects) byId.set(t.id, t);

  for (const rule of input.spec.writeback) {
    if (rule.rule === 'attributes') attributeWriteback(rule, input, pending, reports);
    if (rule.rule !== 'anchor') reports.push(...protectedWarnings(rule));
  }

  // sAMAccountName is unique in a domain, compared case-insensitively: one map per source across group rules.
  const samTaken = new Map<string, Map<string, string>>();
  for (const rule of input.spec.writeback) {
    if (rule.rule !== 'group') continue;
    const g = input.groups.get(rule.index);
    if (!g) continue;
    let taken = samTaken.get(rule.source);
    if (!taken) samTaken.set(rule.source, (taken = new Map()));
    managed += groupWriteback(rule, g.ou, g.existing, g.names ?? [], taken, input, byId, changes, reports, adObjects);
  }

  for (const u of updates.values()) {
    u.attributes.sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1));
    changes.push({
      action: 'update',
      kind: u.kind,
      anchor: u.anchor,
      target: 'ad',
      id: u.dn,
      sourceDn: u.dn,
      source: u.source,
      label: u.label,
      rule: [...u.rules].join(', '),
      attributes: u.attributes,
    });
    adObjects.push({ id: u.dn, kind: u.kind, anchor: u.anchor, attrs: u.observed });
  }
  return {
    changes: sortChanges(changes),
    reports: sortReports(reports),
    managed,
    snapshot: { system: 'ad', objects: adObjects, deleted: [] },
  };
}

/** A rule that writes protected attributes (allowProtected) says so in every plan, whether or not it changes anything. */
function protectedWarnings(rule: GroupWritebackSpec | AttributeWritebackSpec): ReportItem[] {
  const where = `writeback[${rule.index}].${rule.rule === 'group' ? 'group' : 'attributes'}`;
  return (rule.allowProtected ?? []).map((attr) => {
    const deny = deniedAttribute(attr);
    return {
      code: 'writeback-protected-allowed',
      kind: rule.rule === 'group' ? 'group' : rule.kind,
      target: 'ad',
      source: rule.source,
      label: where,
      reason: `WARNING: ${where}.allowProtected lets this rule write ${attr}, a protected attribute (${deny?.reason ?? 'protected'}): whoever can change the cloud value controls it in AD`,
    };
  });
}

/** The flow text of a change to an attribute the rule writes only because allowProtected says so. */
const protectedNote = (attr: string, where: string): string =>
  deniedAttribute(attr) ? ` (PROTECTED attribute, allowed by ${where}.allowProtected)` : '';

function attributeWriteback(
  rule: AttributeWritebackSpec,
  input: WritebackInput,
  pending: (o: DesiredObject, rule: string) => PendingUpdate,
  reports: ReportItem[],
): void {
  const where = `writeback[${rule.index}].attributes`;
  const flows = Object.entries(rule.flows)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([attr, expression]) => ({
      attr,
      lower: attr.toLowerCase(),
      evaluate: compileWriteback(expression),
      reads: referencedAttributes(expression),
    }));
  const reads = [...new Set(flows.flatMap((f) => f.reads))];
  for (const t of input.entra.objects) {
    if (t.kind !== rule.kind || t.anchor === undefined) continue;
    const o = input.desired.byAnchor.get(t.anchor);
    // Objects adsync manages from this source (in scope now); others are none of this rule's business.
    if (!o || o.source !== rule.source || o.kind !== rule.kind || o.readOnly || input.desired.held.has(o.anchor))
      continue;
    const f = input.facts.get(o.anchor);
    if (!f) continue;
    const ctx = graphContext(t, reads, o.dn);
    for (const flow of flows) {
      let after: string[];
      try {
        after = toAdValues(flow.evaluate(ctx));
      } catch (err) {
        reports.push({
          code: 'writeback-flow-error',
          kind: o.kind,
          target: 'ad',
          anchor: o.anchor,
          sourceDn: o.dn,
          source: o.source,
          label: o.label,
          reason: `${where}.flows.${flow.attr} failed: ${(err as Error).message.split('\n')[0]}; ${flow.attr} is left as it is`,
        });
        continue;
      }
      const before = f.attrs[flow.lower] ?? [];
      if (sameValues(before, after)) continue;
      const u = pending(o, where);
      u.observed[flow.lower] = before;
      u.attributes.push(
        attributeChange(flow.attr, before, after, `${where}.flows.${flow.attr}${protectedNote(flow.attr, where)}`),
      );
    }
  }
}

/** Groups of a writeback OU by adsync's marker (proven) and by the Group_ marker alone (in the OU, not proven). */
export function ownedGroups(
  ou: string,
  existing: readonly AdGroup[],
): { owned: Map<string, AdGroup>; legacy: Map<string, AdGroup> } {
  const owned = new Map<string, AdGroup>();
  const legacy = new Map<string, AdGroup>();
  const nou = normalizeOrSelf(ou);
  for (const g of [...existing].sort((a, b) => (a.dn < b.dn ? -1 : a.dn > b.dn ? 1 : 0))) {
    const own = g.attrs['admindisplayname']?.[0];
    if (own !== undefined && own.startsWith(OWNER_PREFIX)) {
      const id = own.slice(OWNER_PREFIX.length);
      const seen = owned.get(id);
      if (!seen) owned.set(id, g);
      // One marker seen twice (a read that caught a move, or a copied marker): if either sighting's members
      // could not be read, none of them are trusted.
      else if (g.membersUnread && !seen.membersUnread) owned.set(id, { ...seen, membersUnread: true });
      continue;
    }
    const marker = g.attrs['admindescription']?.[0];
    if (marker !== undefined && marker.startsWith(GROUP_MARKER_PREFIX) && isUnder(normalizeOrSelf(g.dn), nou)) {
      const id = marker.slice(GROUP_MARKER_PREFIX.length);
      if (!legacy.has(id)) legacy.set(id, g);
    }
  }
  return { owned, legacy };
}

/** Returns how many AD groups the rule owns (provably). */
function groupWriteback(
  rule: GroupWritebackSpec,
  ou: string,
  existing: readonly AdGroup[],
  names: readonly OuName[],
  samTaken: Map<string, string>,
  input: WritebackInput,
  byId: ReadonlyMap<string, TargetObject>,
  changes: Change[],
  reports: ReportItem[],
  adObjects: TargetObject[],
): number {
  const where = `writeback[${rule.index}].group`;
  const filter = compileWriteback(rule.filter);
  const flowMap = new Map<string, string>(
    Object.entries(DEFAULT_GROUP_WRITEBACK_FLOWS).map(([k, v]) => [k, v] as [string, string]),
  );
  const origin = new Map<string, string>([...flowMap.keys()].map((k) => [k, `default group writeback ${k}`]));
  let samDefault = true;
  for (const [attr, expr] of Object.entries(rule.flows)) {
    if (attr.toLowerCase() === 'samaccountname') samDefault = false;
    const existingKey = [...flowMap.keys()].find((k) => k.toLowerCase() === attr.toLowerCase());
    if (existingKey !== undefined) flowMap.delete(existingKey);
    if (expr === null) continue;
    flowMap.set(attr, expr);
    origin.set(attr, `${where}.flows.${attr}`);
  }
  const flows = [...flowMap].map(([attr, expression]) => ({
    attr,
    lower: attr.toLowerCase(),
    evaluate: compileWriteback(expression),
    flow: origin.get(attr)!,
    reads: referencedAttributes(expression),
  }));
  const reads = [...new Set([...referencedAttributes(rule.filter), ...flows.flatMap((f) => f.reads)])];
  const groupType = String(GROUP_TYPES[rule.groupType]);

  // The AD groups this rule owns: adsync's marker with the cloud id (wherever an admin moved them). Groups with
  // only the Group_ marker are not proven adsync's; one at adsync's own DN whose cloud group is selected is
  // claimed (a visible update adds the marker), every other one is left alone, never deleted.
  const { owned, legacy } = ownedGroups(ou, existing);
  const nou = normalizeOrSelf(ou);
  const claimed = new Set<string>();
  const ouCn = new Map<string, string>();
  for (const n of names) {
    if (n.cn !== undefined) ouCn.set(n.cn.toLowerCase(), n.dn);
    if (n.sam !== undefined && !samTaken.has(n.sam.toLowerCase())) samTaken.set(n.sam.toLowerCase(), n.dn);
  }
  for (const g of owned.values()) for (const v of g.attrs['samaccountname'] ?? []) samTaken.set(v.toLowerCase(), g.dn);
  for (const g of legacy.values()) for (const v of g.attrs['samaccountname'] ?? []) samTaken.set(v.toLowerCase(), g.dn);

  // Selection: cloud groups (adsync's own synchronized groups carry its anchor and are never written back).
  const selected: TargetObject[] = [];
  const held = new Set<string>();
  for (const t of input.entra.objects) {
    if (t.kind !== 'group' || t.anchor !== undefined) continue;
    let verdict: unknown;
    try {
      verdict = filter(graphContext(t, reads));
    } catch (err) {
      held.add(t.id);
      if (owned.has(t.id)) {
        reports.push({
          code: 'writeback-filter-error',
          kind: 'group',
          target: 'ad',
          anchor: t.id,
          label: labelOfEntra(t),
          reason: `${where}.filter failed: ${(err as Error).message.split('\n')[0]}; the written-back group is left as it is`,
        });
      }
      continue;
    }
    if (verdict === true) selected.push(t);
  }
  selected.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const t of selected) {
    const l = legacy.get(t.id);
    if (!owned.has(t.id) && l && normalizeOrSelf(l.dn) === normalizeOrSelf(writebackGroupDn(ou, t.id))) {
      owned.set(t.id, l);
      claimed.add(t.id);
    }
  }
  const selectedIds = new Set(selected.map((t) => t.id));
  const notWritten = new Set<string>();
  const dnOf = (id: string): string => owned.get(id)?.dn ?? writebackGroupDn(ou, id);
  const notOwned = (g: AdGroup): string =>
    `${g.dn} carries adminDescription ${g.attrs['admindescription']?.[0] ?? ''} but not adsync's marker (${OWNER_ATTRIBUTE} ${ownerMarker('<cloud id>')}): Entra Connect writes Group_ markers too, and admins set them by hand, so adsync neither changes nor deletes it`;

  for (const t of selected) {
    const label = labelOfEntra(t);
    const current = owned.get(t.id);
    const dn = dnOf(t.id);
    const base = {
      kind: 'group' as const,
      anchor: t.id,
      target: 'ad' as const,
      source: rule.source,
      label,
      rule: where,
    };
    if (!current && legacy.has(t.id)) {
      notWritten.add(t.id);
      reports.push({
        code: 'writeback-not-owned',
        kind: 'group',
        target: 'ad',
        anchor: t.id,
        source: rule.source,
        label,
        reason: `${notOwned(legacy.get(t.id)!)}; the cloud group is not written back while it is there (its CN is not ${escapeDnValue(GROUP_MARKER_PREFIX + t.id)})`,
      });
      continue;
    }
    if (current && !isUnder(normalizeOrSelf(current.dn), nou)) {
      reports.push({
        code: 'writeback-group-moved',
        kind: 'group',
        target: 'ad',
        anchor: t.id,
        source: rule.source,
        label,
        reason: `the written-back group was moved out of ${where}.ou to ${current.dn}; adsync keeps it up to date where it is`,
      });
    }
    const ctx = graphContext(t, reads, dn);
    const wanted = new Map<string, { name: string; values: string[]; flow: string }>();
    let failed: string | undefined;
    for (const f of flows) {
      try {
        wanted.set(f.lower, { name: f.attr, values: toAdValues(f.evaluate(ctx)), flow: f.flow });
      } catch (err) {
        failed = `${f.flow} failed: ${(err as Error).message.split('\n')[0]}`;
        break;
      }
    }
    if (failed) {
      reports.push({
        code: 'writeback-flow-error',
        kind: 'group',
        target: 'ad',
        anchor: t.id,
        label,
        reason: `${failed}; the group is ${current ? 'left as it is' : 'not written back'}`,
      });
      continue;
    }
    if (samDefault)
      wanted.set('samaccountname', {
        name: 'sAMAccountName',
        values: [groupSamAccountName(t.attrs['displayName'], t.id)],
        flow: 'default group writeback sAMAccountName (displayName without the characters AD forbids, _ and the end of the cloud id)',
      });
    wanted.set('grouptype', { name: 'groupType', values: [groupType], flow: `${where}.groupType (${rule.groupType})` });
    wanted.set('admindescription', {
      name: 'adminDescription',
      values: [`${GROUP_MARKER_PREFIX}${t.id}`],
      flow: `${where}: cloud-origin marker (inbound default filters skip adminDescription Group_*, so it never flows back)`,
    });
    wanted.set('admindisplayname', {
      name: OWNER_ATTRIBUTE,
      values: [ownerMarker(t.id)],
      flow: claimed.has(t.id)
        ? `${where}: adsync's ownership marker; claims this group, written back before adsync marked its groups (CN and adminDescription Group_<cloud id> in ${where}.ou, cloud group selected)`
        : `${where}: adsync's ownership marker (the cloud id it wrote)`,
    });

    // Names AD keeps unique, compared case-insensitively: the CN in the OU, the sAMAccountName in the domain.
    const sam = wanted.get('samaccountname')?.values[0];
    const samOwner = sam === undefined ? undefined : samTaken.get(sam.toLowerCase());
    if (!current) {
      const cn = `${GROUP_MARKER_PREFIX}${t.id}`;
      const cnOwner = ouCn.get(cn.toLowerCase());
      const clash =
        cnOwner !== undefined
          ? `its CN ${cn} is taken by ${cnOwner}`
          : samOwner !== undefined
            ? `its sAMAccountName ${sam} is taken by ${samOwner} (AD compares sAMAccountName case-insensitively)`
            : undefined;
      if (clash !== undefined) {
        notWritten.add(t.id);
        reports.push({
          code: 'writeback-name-collision',
          kind: 'group',
          target: 'ad',
          anchor: t.id,
          source: rule.source,
          label,
          reason: `${clash}: the cloud group is not written back`,
          other: { label: (cnOwner ?? samOwner)!, id: (cnOwner ?? samOwner)! },
        });
        continue;
      }
    } else if (
      sam !== undefined &&
      samOwner !== undefined &&
      normalizeOrSelf(samOwner) !== normalizeOrSelf(current.dn) &&
      !(current.attrs['samaccountname'] ?? []).some((v) => v.toLowerCase() === sam.toLowerCase())
    ) {
      // An existing group renamed onto a name that is taken: everything else is kept up to date.
      reports.push({
        code: 'writeback-name-collision',
        kind: 'group',
        target: 'ad',
        anchor: t.id,
        source: rule.source,
        label,
        reason: `its new sAMAccountName ${sam} is taken by ${samOwner} (AD compares sAMAccountName case-insensitively): the sAMAccountName is left as it is`,
        other: { label: samOwner, id: samOwner },
      });
      wanted.delete('samaccountname');
    }
    if (sam !== undefined && wanted.has('samaccountname')) samTaken.set(sam.toLowerCase(), dn);

    if (!current) {
      const attributes: AttributeChange[] = [
        { name: DN_ATTRIBUTE, after: dn, flow: `${where}.ou` },
        { name: 'objectClass', after: 'group', flow: where },
      ];
      for (const w of wanted.values())
        if (w.values.length > 0) attributes.push(attributeChange(w.name, [], w.values, w.flow));
      attributes.sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1));
      changes.push({ ...base, action: 'create', attributes });
    } else {
      const attributes: AttributeChange[] = [];
      for (const [lower, w] of wanted) {
        const before = current.attrs[lower] ?? [];
        if (!sameValues(before, w.values)) attributes.push(attributeChange(w.name, before, w.values, w.flow));
      }
      attributes.sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1));
      if (attributes.length > 0) changes.push({ ...base, action: 'update', id: current.dn, attributes });
      adObjects.push({
        id: current.dn,
        kind: 'group',
        anchor: t.id,
        attrs: current.attrs,
        members: [...(current.attrs['member'] ?? [])].map(normalizeOrSelf).sort(),
      });
    }

    // Members: synchronized objects of this forest by their DN; nested written-back groups by theirs.
    const want = new Map<string, MemberRef>();
    const cloudOnly: string[] = [];
    const elsewhere: string[] = [];
    for (const mid of t.members ?? []) {
      const m = byId.get(mid);
      if (!m) continue;
      if (m.anchor !== undefined) {
        const o = input.desired.byAnchor.get(m.anchor);
        if (o && o.source === rule.source && !o.readOnly)
          want.set(o.ndn, { anchor: o.anchor, kind: o.kind, id: o.dn, label: o.label });
        else if (!input.desired.held.has(m.anchor)) elsewhere.push(labelOfEntra(m)); // held ones stay as they are
      } else if (m.kind === 'group' && selectedIds.has(m.id) && !notWritten.has(m.id)) {
        const mdn = dnOf(m.id);
        want.set(normalizeOrSelf(mdn), { anchor: m.id, kind: 'group', id: mdn, label: labelOfEntra(m) });
      } else cloudOnly.push(`${m.kind} ${labelOfEntra(m)}`);
    }
    if (cloudOnly.length > 0) {
      cloudOnly.sort();
      reports.push({
        code: 'writeback-cloud-only-members',
        kind: 'group',
        target: 'ad',
        anchor: t.id,
        label,
        reason: `${cloudOnly.length} member(s) exist only in the cloud (no AD object to add): ${listed(cloudOnly)}`,
      });
    }
    if (elsewhere.length > 0) {
      elsewhere.sort();
      reports.push({
        code: 'writeback-members-out-of-scope',
        kind: 'group',
        target: 'ad',
        anchor: t.id,
        label,
        reason: `${elsewhere.length} synchronized member(s) are not in scope of source ${rule.source} now: ${listed(elsewhere)}`,
      });
    }
    if (current?.membersUnread) {
      reports.push({
        code: 'writeback-members-unread',
        kind: 'group',
        target: 'ad',
        anchor: t.id,
        source: rule.source,
        label,
        reason: `the members of ${current.dn} could not be read completely from AD (a ranged read broke off): no member is added or removed this run`,
      });
      continue;
    }
    const have = new Map<string, string>();
    for (const v of current?.attrs['member'] ?? []) have.set(normalizeOrSelf(v), v);
    const adds = [...want]
      .filter(([k]) => !have.has(k))
      .map(([, m]) => m)
      .sort(byLabel);
    const removes: MemberRef[] = [];
    // An empty cloud group (members: []) empties its AD group; members not read at all remove nothing.
    if (t.members === undefined) {
      reports.push({
        code: 'members-unread',
        kind: 'group',
        target: 'ad',
        anchor: t.id,
        label,
        reason: "the cloud group's members were not read: members in AD are left as they are",
      });
    }
    for (const [k, raw] of t.members === undefined ? [] : have) {
      // Held objects (flow error, duplicate anchor) are left as they are: their memberships too.
      if (want.has(k) || input.desired.heldDns?.has(k)) continue;
      const o = input.desired.byDn.get(k);
      removes.push(
        o
          ? { anchor: o.anchor, kind: o.kind, id: raw, label: o.label }
          : { anchor: `dn:${k}`, kind: 'user', id: raw, label: raw },
      );
    }
    removes.sort(byLabel);
    const memberBase = { ...base, rule: `${where}.member`, id: dn };
    if (adds.length > 0) changes.push({ ...memberBase, action: 'add-members', members: adds });
    if (removes.length > 0 && current) changes.push({ ...memberBase, action: 'remove-members', members: removes });
  }

  // Written-back groups whose cloud group is gone or no longer selected leave AD (guard rails count them);
  // one an admin moved out of the OU is left where it is.
  for (const [id, g] of owned) {
    if (selectedIds.has(id) || held.has(id)) continue;
    const t = byId.get(id);
    const label = g.attrs['displayname']?.[0] ?? g.attrs['cn']?.[0] ?? g.dn;
    const reason = t
      ? `out of scope: ${where}.filter no longer selects the cloud group`
      : 'the cloud group no longer exists';
    if (!isUnder(normalizeOrSelf(g.dn), nou)) {
      // (adsync's groups of other rules' OUs are found by the same domain-wide search: none of this rule's business)
      if (t) continue;
      reports.push({
        code: 'writeback-group-moved',
        kind: 'group',
        target: 'ad',
        anchor: id,
        source: rule.source,
        label,
        reason: `${reason}, but the written-back group was moved out of ${where}.ou to ${g.dn}: adsync does not delete it there`,
      });
      continue;
    }
    changes.push({
      action: 'delete',
      kind: 'group',
      anchor: id,
      target: 'ad',
      source: rule.source,
      id: g.dn,
      label,
      rule: where,
      reason,
    });
    adObjects.push({
      id: g.dn,
      kind: 'group',
      anchor: id,
      attrs: g.attrs,
      members: [...(g.attrs['member'] ?? [])].map(normalizeOrSelf).sort(),
    });
  }
  for (const [id, g] of legacy) {
    if (owned.get(id) === g || selectedIds.has(id)) continue;
    reports.push({
      code: 'writeback-not-owned',
      kind: 'group',
      target: 'ad',
      anchor: id,
      source: rule.source,
      label: g.attrs['displayname']?.[0] ?? g.attrs['cn']?.[0] ?? g.dn,
      reason: notOwned(g),
    });
  }
  return [...owned.values()].filter((g) => isUnder(normalizeOrSelf(g.dn), nou)).length;
}

function listed(items: readonly string[]): string {
  return items.slice(0, 20).join(', ') + (items.length > 20 ? `, and ${items.length - 20} more` : '');
}

function byLabel(a: MemberRef, b: MemberRef): number {
  const x = a.label.toLowerCase();
  const y = b.label.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a.anchor < b.anchor ? -1 : a.anchor > b.anchor ? 1 : 0;
}

function normalizeOrSelf(dn: string): string {
  try {
    return normalizeDn(dn);
  } catch {
    return dn;
  }
}
