/**
 * Source snapshots → the desired objects: scope (default filters, then the spec's), anchors, and attribute
 * flows. Pure: plain data in, plain data out. Direction-agnostic in what it produces (objects keyed by anchor
 * with target-named attributes), so writeback can feed the same diff from the other side.
 */
import { AdsyncError } from '../errors.js';
import { sidToString } from '../model/sid.js';
import type { ReportItem } from '../model/change.js';
import type { AttrValue, DirectoryEntry, SourceReadRequest, SourceSnapshot } from '../model/entry.js';
import { domainOfDn, normalizeDn } from '../model/dn.js';
import type { ObjectKind } from '../model/target.js';
import type { SourceSpec, Spec } from '../spec/types.js';
import type { FlowContext } from './expr.js';
import type { FlowWhen } from './flow-timing.js';
import { selectWaves, type Waves } from './takeover.js';
import { ForeignPrincipals } from './foreign-principals.js';
import { REFERENCE_PROPERTIES, type KindFlows } from './flows.js';
import { licenseGroups, selectLicenses, type LicenseSelection } from './licenses.js';
import {
  classify,
  compileScope,
  defaultFilter,
  DEFAULT_GROUP_MEMBER_LIMIT,
  isMailEnabled,
  isSecurityGroup,
  unmatchedScopeEntries,
  type CompiledScope,
} from './scope.js';

export interface DesiredObject {
  kind: ObjectKind;
  anchor: string;
  source: string;
  dn: string;
  /** Normalized DN (the key members refer to). */
  ndn: string;
  /** The source object's objectSid in string form (S-1-5-21-…), when the source has one. */
  sid?: string;
  /** base64 of the source object's objectGUID (differs from `anchor` when that is mS-DS-ConsistencyGuid). */
  guid?: string;
  label: string;
  /** `label` lower-cased, the sort key of plans. */
  sortKey: string;
  /** Target property → value, as the flows computed it (null = no value). */
  attrs: Record<string, unknown>;
  /** Target property → the flow that produced it (shared by every object of a kind unless a rule overrides one). */
  provenance: Readonly<Record<string, string>>;
  /**
   * Groups: the direct members that are synchronized objects (resolved across sources); always set for a
   * group, `[]` when it has none (the diff then removes every member adsync manages).
   */
  members?: DesiredObject[];
  /**
   * Groups: why the source could not read the member list in full. `members` then holds a part: the diff adds
   * what is missing from it but removes nothing, and reports the group (`members-unread`).
   */
  membersUnread?: string;
  /** Groups: how many direct members are read-only objects (contacts, mail-enabled groups). */
  readOnlyMembers?: number;
  /** Groups: member DNs left out for another reason (computer, foreign security principal, out of scope, not read), by reason. */
  skippedMembers?: Record<string, string[]>;
  /** Users: each licence rule's verdict (`licenses:`, src/engine/licenses.ts), by rule index. */
  licenses?: LicenseSelection[];
  /** The takeover/release waves (spec matching.takeover / matching.release) that select it (src/engine/takeover.ts). */
  waves?: Waves;
  /** Set when the target can't write this object (shown as a report item, never changed). */
  readOnly?: { code: string; reason: string };
  rule: string;
  /** Property → timing of its flow, for the flows that are not `always` (flow-timing.ts; shared per kind). */
  timing?: Readonly<Record<string, FlowWhen>>;
  /** `sourceChanged` flows: the value computed from the source, before the tenant's rules rewrote it. */
  sourceValues?: Record<string, unknown>;
  /** Properties holding Entra's fallback name instead of the flow's value (set by applyTenantRules). */
  fallbackNames?: string[];
}

export interface Exclusion {
  anchor: string;
  kind: ObjectKind;
  source: string;
  dn: string;
  code: string;
  reason: string;
}

export interface DesiredState {
  objects: DesiredObject[];
  /** Anchor → object. */
  byAnchor: Map<string, DesiredObject>;
  /** Normalized DN → object, across sources (for references). */
  byDn: Map<string, DesiredObject>;
  /** Anchors of source objects that exist but are out of scope, with the reason (for delete reasons). */
  excluded: Map<string, Exclusion>;
  /** Anchors adsync must neither change nor delete this run (flow errors, duplicates): safe by default. */
  held: Set<string>;
  /**
   * Normalized DNs of the held objects: held means held, memberships too, and a group names its members by
   * DN (writeback keeps them in its AD groups). Optional for hand-built states.
   */
  heldDns?: Set<string>;
  reports: ReportItem[];
  /** Scope entries of the spec that matched nothing the sources returned (see unmatchedScopeEntries). */
  warnings?: string[];
  /**
   * Why an object adsync owns may be missing from every source read although AD still has it: the reads push
   * scope.ous.include and scope.filter to the server, so what left them is never seen (deletes name the rule).
   */
  notRead?: { reason: string; rule: string };
}

/** Attributes the engine itself needs, whatever the flows say. */
const STRUCTURAL = [
  'objectclass',
  'objectguid',
  'objectsid',
  'ms-ds-consistencyguid',
  'samaccountname',
  'member',
  'mail',
  'proxyaddresses',
  'grouptype',
  'useraccountcontrol',
  'iscriticalsystemobject',
  'msexchrecipienttypedetails',
  'admindescription',
  'mailnickname',
  'displayname',
  'msexchhidefromaddresslists',
  'cn',
  'userprincipalname',
];

/** Domain DNS name → its naming-context DN (corp.example → dc=corp,dc=example). */
export function domainToDn(domain: string): string {
  return domain
    .toLowerCase()
    .replace(/\.$/, '')
    .split('.')
    .map((p) => `dc=${p}`)
    .join(',');
}

/** What to ask a source connector for: the attributes flows and scope read, search bases, the filter. */
export function readRequestFor(source: SourceSpec, flows: Record<ObjectKind, KindFlows>): SourceReadRequest {
  const scope = compileScope(source.scope);
  const attributes = new Set(STRUCTURAL);
  for (const k of Object.values(flows)) for (const a of k.readAttributes) attributes.add(a);
  for (const a of scope.attributes) attributes.add(a);
  const baseDns = scope.baseDns.length > 0 ? scope.baseDns : source.scope.domains.map(domainToDn);
  return { attributes: [...attributes].sort(), baseDns, ...(scope.filter ? { filter: scope.filter } : {}) };
}

export function anchorOf(entry: DirectoryEntry, source: Pick<SourceSpec, 'anchor'>): string | undefined {
  const pick =
    source.anchor === 'ms-ds-consistencyguid'
      ? (entry.attrs['ms-ds-consistencyguid']?.[0] ?? entry.attrs.objectguid?.[0])
      : entry.attrs.objectguid?.[0];
  if (pick === undefined) return undefined;
  return (
    typeof pick === 'string' ? Buffer.from(pick, 'latin1') : Buffer.from(pick.buffer, pick.byteOffset, pick.byteLength)
  ).toString('base64');
}

function readOnlyReason(kind: ObjectKind, entry: DirectoryEntry): { code: string; reason: string } | undefined {
  if (kind === 'contact') {
    return {
      code: 'graph-readonly-contact',
      reason:
        'organizational contacts are read-only in Microsoft Graph (Entra Connect writes them through its private channel)',
    };
  }
  if (kind === 'group' && isMailEnabled(entry)) {
    return isSecurityGroup(entry)
      ? {
          code: 'graph-readonly-mail-enabled-security-group',
          reason: 'mail-enabled security groups are read-only in Microsoft Graph (manage them in Exchange Online)',
        }
      : {
          code: 'graph-readonly-distribution-list',
          reason: 'distribution lists are read-only in Microsoft Graph (manage them in Exchange Online)',
        };
  }
  return undefined;
}

function labelOf(kind: ObjectKind, attrs: Record<string, unknown>, dn: string): string {
  const pick =
    kind === 'user'
      ? attrs.userPrincipalName
      : kind === 'contact'
        ? (attrs.mail ?? attrs.displayName)
        : attrs.displayName;
  return typeof pick === 'string' && pick !== '' ? pick : dn;
}

export function buildDesired(
  spec: Pick<Spec, 'sources' | 'objects'>,
  snapshots: readonly SourceSnapshot[],
  flows: Record<ObjectKind, KindFlows>,
): DesiredState {
  const memberLimit = spec.objects.group?.memberLimit ?? DEFAULT_GROUP_MEMBER_LIMIT;
  // Reference flows (manager) produce a DN; it is resolved to the object once every object is known.
  const referenceFlows = {} as Record<ObjectKind, string[]>;
  for (const kind of ['user', 'group', 'contact'] as const)
    referenceFlows[kind] = flows[kind].flows
      .filter((f) => REFERENCE_PROPERTIES.has(f.attribute))
      .map((f) => f.attribute);
  const withReferences: DesiredObject[] = [];
  const state: DesiredState = {
    objects: [],
    byAnchor: new Map(),
    byDn: new Map(),
    excluded: new Map(),
    held: new Set(),
    heldDns: new Set(),
    reports: [],
    warnings: [],
  };
  const hold = (anchor: string, ndn: string): void => {
    state.held.add(anchor);
    state.heldDns!.add(ndn);
  };
  // Member values usually spell a DN exactly as the member's own entry does: a map by the raw DN answers
  // those without normalizing a million strings; the normalized map answers the rest.
  const byRawDn = new Map<string, DesiredObject>();
  const unclassified = new Map<string, string>();
  const memberValues = new Map<DesiredObject, AttrValue[]>();
  const licenseRules = flows.user.licenses;
  const licenseMembers = licenseGroups(licenseRules, snapshots);
  const provenanceOf = {} as Record<ObjectKind, Record<string, string>>;
  for (const kind of ['user', 'group', 'contact'] as const)
    provenanceOf[kind] = Object.fromEntries(flows[kind].flows.map((f) => [f.attribute, f.origin]));
  for (const snapshot of snapshots) {
    const source = spec.sources.find((s) => s.name === snapshot.source);
    // The commands read one snapshot per spec source: another name is an adsync bug.
    if (!source) throw new AdsyncError('internal', `snapshot for unknown source ${snapshot.source}`);
    const scope: CompiledScope = compileScope(source.scope);
    // One rule string per source and kind, shared by its objects (not one built per object).
    const ruleOf: Record<ObjectKind, string> = {
      user: `sources.${source.name}.scope → objects.user`,
      group: `sources.${source.name}.scope → objects.group`,
      contact: `sources.${source.name}.scope → objects.contact`,
    };
    state.warnings!.push(
      ...unmatchedScopeEntries(spec.sources.indexOf(source), source.name, source.scope, snapshot.entries),
    );
    for (const dn of snapshot.computers ?? []) unclassified.set(normalizeOrSelf(dn), 'a computer');
    const pilot = pilotMembersOf(scope, snapshot.entries);
    const pilotMembers = pilot?.members;
    for (const [dn, why] of pilot?.unread ?? []) {
      state.reports.push({
        code: 'members-unread',
        kind: 'group',
        target: 'entra',
        sourceDn: dn,
        source: source.name,
        label: dn,
        reason: `scope.groups: the members of this pilot group could not be read in full (${why}); objects outside the part read are left as they are, never deleted`,
      });
    }
    for (const entry of snapshot.entries) {
      const kind = classify(entry);
      if (!kind) {
        if (entry.attrs.objectclass?.some((c) => typeof c === 'string' && c.toLowerCase() === 'computer'))
          unclassified.set(normalizeOrSelf(entry.dn), 'a computer');
        continue;
      }
      const ndn = normalizeDn(entry.dn);
      const anchor = anchorOf(entry, source);
      if (spec.objects[kind]?.enabled === false) {
        // a kind the spec turned off: neither created nor deleted
        if (anchor !== undefined) hold(anchor, ndn);
        continue;
      }
      if (anchor === undefined) {
        state.reports.push({
          code: 'no-anchor',
          kind,
          target: 'entra',
          sourceDn: entry.dn,
          source: source.name,
          label: entry.dn,
          reason: 'no objectGUID: the entry has no source anchor (was objectGUID exported?)',
        });
        continue;
      }
      const verdict = defaultFilter(entry, kind, memberLimit);
      const scoped = verdict.included ? scope.test(entry, ndn, pilotMembers) : verdict;
      if (!scoped.included) {
        // Outside a pilot group whose members were only partly read: maybe in scope after all, so held.
        if (scoped.code === 'group-filter' && pilot?.unread.size) {
          hold(anchor, ndn);
          continue;
        }
        state.excluded.set(anchor, {
          anchor,
          kind,
          source: source.name,
          dn: entry.dn,
          code: scoped.code,
          reason: scoped.reason,
        });
        continue;
      }
      const kindFlows = flows[kind];
      const ctx = flowContext(entry, kindFlows, anchor, ndn);
      const attrs: Record<string, unknown> = {};
      let failed: string | undefined;
      for (const flow of kindFlows.flows) {
        try {
          attrs[flow.attribute] = flow.evaluate(ctx);
        } catch (err) {
          failed = `${flow.origin} failed: ${(err as Error).message.split('\n')[0]}`;
          break;
        }
        // a value Graph would refuse: the object waits, instead of every apply failing on it
        const wrong = flow.check?.(attrs[flow.attribute]);
        if (wrong !== undefined) {
          failed = `${flow.origin} ${wrong}`;
          break;
        }
      }
      if (failed) {
        hold(anchor, ndn);
        state.reports.push({
          code: 'flow-error',
          kind,
          target: 'entra',
          anchor,
          sourceDn: entry.dn,
          source: source.name,
          label: entry.dn,
          reason: `${failed}; the object is left as it is`,
        });
        continue;
      }
      const label = labelOf(kind, attrs, entry.dn);
      const obj: DesiredObject = {
        kind,
        anchor,
        source: source.name,
        dn: entry.dn,
        ndn,
        label,
        sortKey: label.toLowerCase(),
        attrs,
        provenance: provenanceOf[kind],
        rule: ruleOf[kind],
      };
      const waves = selectWaves(kindFlows.selectors, ctx);
      if (waves !== undefined) obj.waves = waves;
      if (Object.keys(kindFlows.timing).length > 0) {
        obj.timing = kindFlows.timing;
        for (const [name, when] of Object.entries(kindFlows.timing))
          if (when === 'sourceChanged') (obj.sourceValues ??= {})[name] = attrs[name];
      }
      const sidValue = entry.attrs.objectsid?.[0];
      const sid = sidValue instanceof Uint8Array ? sidToString(sidValue) : undefined;
      if (sid !== undefined) obj.sid = sid;
      const guid = anchorOf(entry, { anchor: 'objectguid' });
      // usually the anchor itself (no mS-DS-ConsistencyGuid yet): one string for both
      if (guid !== undefined) obj.guid = guid === anchor ? anchor : guid;
      const ro = readOnlyReason(kind, entry);
      if (ro) obj.readOnly = ro;
      if (kind === 'user' && licenseRules)
        obj.licenses = selectLicenses(licenseRules, entry, anchor, ndn, licenseMembers);
      if (kind === 'group') {
        // No `member` attribute is an empty group, not an unknown one: LDAP and LDIF omit empty attributes.
        memberValues.set(obj, entry.attrs.member ?? []);
        const unread = entry.unread?.member;
        if (unread !== undefined) obj.membersUnread = unread;
      }
      if (referenceFlows[kind].length > 0)
        for (const r of referenceFlows[kind])
          if (attrs[r] !== null && attrs[r] !== undefined) {
            withReferences.push(obj);
            break;
          }
      const dup = state.byAnchor.get(anchor);
      if (dup) {
        hold(anchor, ndn);
        state.heldDns!.add(dup.ndn); // the first holder of the anchor is held too (the diff skips held anchors)
        state.reports.push({
          code: 'duplicate-anchor',
          kind,
          target: 'entra',
          anchor,
          sourceDn: entry.dn,
          source: source.name,
          label: obj.label,
          reason: `same anchor as ${dup.dn} (${dup.source}); neither is changed`,
        });
        continue;
      }
      state.byAnchor.set(anchor, obj);
      state.objects.push(obj);
      state.byDn.set(ndn, obj);
      byRawDn.set(entry.dn, obj);
    }
  }
  // Memberships resolve across sources once every object is known; members out of scope (or not
  // synchronized objects) are skipped, as Entra Connect skips them, each with its reason.
  const excludedByDn = new Map<string, Exclusion>();
  if (memberValues.size > 0) for (const ex of state.excluded.values()) excludedByDn.set(normalizeOrSelf(ex.dn), ex);
  // A foreign security principal (a member of another forest) is the object of another source with its SID.
  const foreign = new ForeignPrincipals(snapshots, (h): DesiredObject | string => {
    const ndn = normalizeOrSelf(h.dn);
    const d = byRawDn.get(h.dn) ?? state.byDn.get(ndn);
    if (d?.source === h.source) return d;
    if (state.heldDns!.has(ndn)) return 'held (adsync leaves it as it is this run)';
    return skippedMemberReason(ndn, excludedByDn, unclassified);
  });
  for (const [group, values] of memberValues) {
    const members: DesiredObject[] = [];
    let readOnly = 0;
    for (const v of values) {
      const raw = typeof v === 'string' ? v : Buffer.from(v).toString('utf8');
      let m = byRawDn.get(raw);
      if (!m) {
        const ndn = normalizeOrSelf(raw);
        const found = state.byDn.get(ndn) ?? foreign.resolve(ndn, group.source);
        if (typeof found !== 'object') {
          const why = found ?? skippedMemberReason(ndn, excludedByDn, unclassified);
          ((group.skippedMembers ??= {})[why] ??= []).push(raw);
          continue;
        }
        m = found;
      }
      if (m.readOnly) readOnly++;
      else members.push(m);
    }
    group.members = members;
    if (readOnly > 0) group.readOnlyMembers = readOnly;
    // Sorted: a value list's order is the server's on a full read and the fold's on an incremental one (issue 15);
    // the report must not depend on it.
    for (const dns of Object.values(group.skippedMembers ?? {})) dns.sort();
  }
  // References (manager): the DN a flow produced → the referenced object's anchor; a reference to an object
  // that is not synchronized (out of scope, or not in any source) is left unset, as Entra Connect leaves it.
  for (const obj of withReferences) {
    for (const r of referenceFlows[obj.kind]) {
      const v = obj.attrs[r];
      if (typeof v !== 'string') {
        obj.attrs[r] = null;
        continue;
      }
      const m = byRawDn.get(v) ?? state.byDn.get(normalizeOrSelf(v));
      obj.attrs[r] = m && m !== obj && m.kind === 'user' && !m.readOnly ? m.anchor : null;
    }
  }
  // (an LDIF export is read whole: what is missing from it is gone)
  const unread = spec.sources
    .filter((s) => s.ldap !== undefined)
    .flatMap((s) => [
      ...(s.scope.ous.include.length > 0
        ? [
            {
              rule: `sources.${s.name}.scope.ous.include`,
              what: `not under any OU in sources.${s.name}.scope.ous.include (${s.scope.ous.include.join('; ')})`,
            },
          ]
        : []),
      ...(s.scope.filter
        ? [
            {
              rule: `sources.${s.name}.scope.filter`,
              what: `not matching sources.${s.name}.scope.filter ${s.scope.filter}`,
            },
          ]
        : []),
    ]);
  if (unread.length > 0) {
    state.notRead = {
      rule: unread.map((u) => u.rule).join(', '),
      reason: `out of scope: not read from any source: ${unread.map((u) => u.what).join(', or ')} — moved out, changed, or deleted from AD`,
    };
  }
  // read-only objects are shown, never changed
  for (const obj of state.objects) {
    if (obj.readOnly) {
      state.reports.push({
        code: obj.readOnly.code,
        kind: obj.kind,
        target: 'entra',
        anchor: obj.anchor,
        sourceDn: obj.dn,
        source: obj.source,
        label: obj.label,
        reason: obj.readOnly.reason,
      });
    }
  }
  return state;
}

/** Why a member value resolves to no synchronized object (normalized DN in). */
function skippedMemberReason(
  ndn: string,
  excluded: ReadonlyMap<string, Exclusion>,
  unclassified: ReadonlyMap<string, string>,
): string {
  const ex = excluded.get(ndn);
  if (ex) return `out of scope (${ex.reason})`;
  const other = unclassified.get(ndn);
  if (other) return `${other} (only users, groups and contacts are synchronized)`;
  // (one named by a SID is resolved across sources first: src/engine/foreign-principals.ts)
  if (/(^|,)cn=foreignsecurityprincipals,/.test(ndn))
    return 'a foreign security principal (an object of another forest, not synchronized from here)';
  return "not read from any source (outside the sources' base DNs and scope, or not a user, group or contact: a computer, for one)";
}

/** A member value that is not a valid DN can't match any object; it is compared as written. */
function normalizeOrSelf(dn: string): string {
  try {
    return normalizeDn(dn);
  } catch {
    return dn;
  }
}

/** The pilot groups' members (normalized DNs), and the pilot groups whose members were only partly read (DN → why). */
function pilotMembersOf(
  scope: CompiledScope,
  entries: readonly DirectoryEntry[],
): { members: Set<string>; unread: Map<string, string> } | undefined {
  if (scope.pilotGroups.length === 0) return undefined;
  const wanted = new Set(scope.pilotGroups);
  const members = new Set<string>();
  const unread = new Map<string, string>();
  for (const e of entries) {
    if (!wanted.has(normalizeDn(e.dn))) continue;
    for (const m of e.attrs.member ?? [])
      members.add(normalizeDn(typeof m === 'string' ? m : Buffer.from(m).toString('utf8')));
    const why = e.unread?.member;
    if (why !== undefined) unread.set(e.dn, why);
  }
  return { members, unread };
}

function flowContext(entry: DirectoryEntry, flows: KindFlows, anchor: string, ndn: string): FlowContext {
  const source: FlowContext['source'] = {};
  const sourceAll: FlowContext['sourceAll'] = {};
  for (const [lower, spelling] of flows.sourceAttributes) {
    const values = entry.attrs[lower];
    source[spelling] = values?.[0] ?? null;
    sourceAll[spelling] = values ?? [];
  }
  return {
    attrs: entry.attrs,
    source,
    sourceAll,
    anchor,
    dn: entry.dn,
    domain: domainOfDn(ndn),
    mailEnabled: isMailEnabled(entry),
  };
}
