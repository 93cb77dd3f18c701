/**
 * Licences (`licenses:` rules) as a pure plan stage, in two steps:
 *
 *   selection  while the desired state is built (the source entries are still there): for every user and
 *              rule, whether the rule selects it (`when` over the source object, `memberOf` an AD group), why;
 *   planning   against the target: each managed user's direct assignments (licenseAssignmentStates with no
 *              assignedByGroup) brought to what the rules say, one `licenses` change per user, with the SKUs
 *              resolved and the seats counted against subscribedSkus before any write.
 *
 * Group-inherited licences are never removed (they are the group's); a direct assignment duplicating one is
 * reported. Graph refuses a licence to a user without usageLocation: such a user is a report item, not a
 * failed write (graph-facts-2 §7).
 */
import { LicenseError } from '../errors.js';
import type { LicenseAdd, LicenseRemove, LicensesChange, ReportItem, Change } from '../model/change.js';
import { domainOfDn, normalizeDn } from '../model/dn.js';
import type { DirectoryEntry, SourceSnapshot } from '../model/entry.js';
import { assignmentStates, type LicenseAssignmentState, type SubscribedSkuInfo } from '../model/license.js';
import type { TargetObject, TargetSnapshot } from '../model/target.js';
import type { LicenseRuleSpec } from '../spec/types.js';
import type { DesiredObject, DesiredState } from './desired.js';
import { compileExpression, referencedAttributes, type CompiledExpression, type FlowContext } from './expr.js';
import { isMailEnabled } from './scope.js';

// ---- selection

export interface CompiledLicenseRule {
  spec: LicenseRuleSpec;
  /** `licenses[0]` (provenance). */
  name: string;
  when?: CompiledExpression;
  /** Normalized DN of the `memberOf` group. */
  memberOf?: string;
}

export interface CompiledLicenses {
  rules: CompiledLicenseRule[];
  /** Lower-cased source attributes `when` reads → the spelling it uses. */
  sourceAttributes: Map<string, string>;
}

/** Whether one rule selects one user, and why (shown by `adsync explain`). */
export interface LicenseSelection {
  rule: number;
  selected: boolean;
  why: string;
  /** The selection could not be decided in full (the group's members were read in part): nothing is removed. */
  uncertain?: string;
  /** `when` failed on this user: its licences of this rule are left as they are. */
  error?: string;
}

export const ruleName = (r: Pick<LicenseRuleSpec, 'index' | 'sku'>): string => `licenses[${r.index}] (${r.sku})`;

export function compileLicenseRules(rules: readonly LicenseRuleSpec[] | undefined): CompiledLicenses | undefined {
  if (rules === undefined || rules.length === 0) return undefined;
  const sourceAttributes = new Map<string, string>();
  const compiled = rules.map((spec): CompiledLicenseRule => {
    const out: CompiledLicenseRule = { spec, name: ruleName(spec) };
    if (spec.when !== undefined) {
      out.when = compileExpression(spec.when);
      for (const a of referencedAttributes(spec.when)) sourceAttributes.set(a.toLowerCase(), a);
    }
    if (spec.memberOf !== undefined) out.memberOf = normalizeDn(spec.memberOf);
    return out;
  });
  return { rules: compiled, sourceAttributes };
}

/** The source attributes licence rules read (connectors fetch them), lower-cased. */
export function licenseReadAttributes(compiled: CompiledLicenses | undefined): string[] {
  return compiled === undefined ? [] : [...compiled.sourceAttributes.keys()];
}

export interface LicenseGroup {
  members: Set<string>;
  /** Why the member list is partial (ranged retrieval cut short), when it is. */
  unread?: string;
}

/** The `memberOf` groups' direct members (normalized DNs), from every source; a group not read is absent. */
export function licenseGroups(
  compiled: CompiledLicenses | undefined,
  snapshots: readonly SourceSnapshot[],
): Map<string, LicenseGroup> {
  const out = new Map<string, LicenseGroup>();
  const wanted = new Set((compiled?.rules ?? []).map((r) => r.memberOf).filter((d): d is string => d !== undefined));
  if (wanted.size === 0) return out;
  for (const snapshot of snapshots)
    for (const e of snapshot.entries) {
      const ndn = safeNormalize(e.dn);
      if (!wanted.has(ndn)) continue;
      const members = new Set(
        (e.attrs.member ?? []).map((m) => safeNormalize(typeof m === 'string' ? m : Buffer.from(m).toString('utf8'))),
      );
      const unread = e.unread?.member;
      out.set(ndn, unread === undefined ? { members } : { members, unread });
    }
  return out;
}

function safeNormalize(dn: string): string {
  try {
    return normalizeDn(dn);
  } catch {
    return dn;
  }
}

/** Every rule's verdict on one user (the entry is still at hand: `when` reads its attributes). */
export function selectLicenses(
  compiled: CompiledLicenses,
  entry: DirectoryEntry,
  anchor: string,
  ndn: string,
  groups: ReadonlyMap<string, LicenseGroup>,
): LicenseSelection[] {
  let ctx: FlowContext | undefined;
  return compiled.rules.map((r, rule): LicenseSelection => {
    const whys: string[] = [];
    let uncertain: string | undefined;
    if (r.memberOf !== undefined) {
      const g = groups.get(r.memberOf);
      if (g === undefined)
        return {
          rule,
          selected: false,
          why: `memberOf ${r.spec.memberOf}: the group was not read from any source`,
          uncertain: 'the memberOf group was not read from any source',
        };
      if (!g.members.has(ndn)) {
        if (g.unread === undefined) return { rule, selected: false, why: `not a direct member of ${r.spec.memberOf}` };
        uncertain = `the members of ${r.spec.memberOf} were read in part (${g.unread})`;
        return { rule, selected: false, why: `not among the members read of ${r.spec.memberOf}`, uncertain };
      }
      whys.push(`a direct member of ${r.spec.memberOf}`);
    }
    if (r.when !== undefined) {
      ctx ??= licenseContext(compiled, entry, anchor, ndn);
      let v: unknown;
      try {
        v = r.when(ctx);
      } catch (err) {
        const error = `${r.name}.when failed: ${(err as Error).message.split('\n')[0]}`;
        return { rule, selected: false, why: error, error };
      }
      if (v !== true) return { rule, selected: false, why: `when ${r.spec.when} is ${JSON.stringify(v ?? null)}` };
      whys.push(`when ${r.spec.when} is true`);
    }
    return { rule, selected: true, why: whys.join(' and ') };
  });
}

function licenseContext(compiled: CompiledLicenses, entry: DirectoryEntry, anchor: string, ndn: string): FlowContext {
  const source: FlowContext['source'] = {};
  const sourceAll: FlowContext['sourceAll'] = {};
  for (const [lower, spelling] of compiled.sourceAttributes) {
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

// ---- planning

export interface LicensePlanInput {
  rules: readonly LicenseRuleSpec[];
  desired: DesiredState;
  target: TargetSnapshot;
  /** The plan's other changes (which users it creates, restores or adopts, with their ids). */
  changes: readonly Change[];
}

export interface LicensePlan {
  changes: LicensesChange[];
  reports: ReportItem[];
}

interface ResolvedRule {
  spec: LicenseRuleSpec;
  name: string;
  sku: SubscribedSkuInfo;
  /** servicePlanIds of disabledPlans, in the spec's order (lower-cased). */
  disabledIds: string[];
}

/** What the rules want for one user and SKU, given what it holds. */
export type LicenseVerdict =
  | { kind: 'add'; add: LicenseAdd }
  | { kind: 'remove'; remove: LicenseRemove }
  | { kind: 'report'; code: string; reason: string }
  | { kind: 'none'; why: string };

/** The rules' SKUs and disabled plans resolved against subscribedSkus; an unknown one stops the plan. */
export function resolveRules(rules: readonly LicenseRuleSpec[], skus: readonly SubscribedSkuInfo[]): ResolvedRule[] {
  const names = skus.map((s) => s.skuPartNumber).sort();
  return rules.map((spec) => {
    const sku = skus.find((s) => s.skuPartNumber.toLowerCase() === spec.sku.toLowerCase());
    if (sku === undefined)
      throw new LicenseError(
        'license_sku_unknown',
        `licenses[${spec.index}].sku: the tenant has no subscribed SKU ${spec.sku} (subscribedSkus: ${names.join(', ') || 'none'})`,
        { hint: 'name the SKU by its skuPartNumber, as GET /subscribedSkus lists it' },
      );
    const disabledIds = spec.disabledPlans.map((name) => {
      const plan = sku.servicePlans.find((p) => p.servicePlanName.toLowerCase() === name.toLowerCase());
      if (plan === undefined)
        throw new LicenseError(
          'license_plan_unknown',
          `licenses[${spec.index}].disabledPlans: SKU ${sku.skuPartNumber} has no service plan ${name} (its plans: ${
            sku.servicePlans
              .map((p) => p.servicePlanName)
              .sort()
              .join(', ') || 'none'
          })`,
          { hint: 'name service plans by servicePlanName, as GET /subscribedSkus lists them' },
        );
      return plan.servicePlanId.toLowerCase();
    });
    return { spec, name: ruleName(spec), sku, disabledIds };
  });
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x) => b.includes(x));

function planNames(sku: SubscribedSkuInfo, ids: readonly string[]): string[] {
  return ids.map((id) => sku.servicePlans.find((p) => p.servicePlanId.toLowerCase() === id)?.servicePlanName ?? id);
}

/**
 * One rule's verdict on one user. Pure and total: the convergence model checks the same table.
 * `states` are the user's licence assignment states now ([] for a user this plan creates).
 */
export function licenseVerdict(
  r: ResolvedRule,
  sel: LicenseSelection | undefined,
  user: { enabled: boolean; usageLocation: boolean },
  states: readonly LicenseAssignmentState[],
  groupLabel: (id: string) => string = (id) => id,
): LicenseVerdict {
  const skuId = r.sku.skuId.toLowerCase();
  const direct = states.find((s) => s.skuId === skuId && s.assignedByGroup === null);
  const inherited = states.filter((s) => s.skuId === skuId && s.assignedByGroup !== null);
  const from = inherited.map((s) => `group ${groupLabel(s.assignedByGroup!)}`).join(', ');
  if (sel === undefined) return { kind: 'none', why: 'no verdict' };
  if (sel.error !== undefined)
    return {
      kind: 'report',
      code: 'license-rule-error',
      reason: `${sel.error}; its ${r.sku.skuPartNumber} is left as it is`,
    };
  const { spec } = r;
  if (sel.selected && user.enabled) {
    if (direct === undefined) {
      if (inherited.length > 0) return { kind: 'none', why: `holds ${r.sku.skuPartNumber} inherited from ${from}` };
      if (!user.usageLocation)
        return {
          kind: 'report',
          code: 'license-no-usage-location',
          reason: `${r.name} selects the user (${sel.why}), but it has no usageLocation: Graph refuses a licence without one; set msExchUsageLocation in AD (or the usageLocation flow)`,
        };
      return {
        kind: 'add',
        add: {
          skuId,
          sku: r.sku.skuPartNumber,
          disabledPlans: planNames(r.sku, r.disabledIds),
          disabledPlanIds: r.disabledIds,
          rule: r.name,
        },
      };
    }
    if (spec.owned && !sameSet(direct.disabledPlans, r.disabledIds))
      return {
        kind: 'add',
        add: {
          skuId,
          sku: r.sku.skuPartNumber,
          disabledPlans: planNames(r.sku, r.disabledIds),
          disabledPlanIds: r.disabledIds,
          before: planNames(r.sku, direct.disabledPlans),
          rule: r.name,
        },
      };
    return { kind: 'none', why: `holds ${r.sku.skuPartNumber} directly` };
  }
  // not selected, or disabled: does a rule take the direct assignment away?
  let reason: string | undefined;
  if (sel.selected && !user.enabled && spec.onDisable === 'remove') reason = 'disabled in AD (onDisable: remove)';
  else if (!sel.selected && spec.owned && spec.onLeave === 'remove')
    reason = `no longer selected: ${sel.why} (onLeave: remove)`;
  else if (!sel.selected && spec.owned && !user.enabled && spec.onDisable === 'remove')
    reason = 'disabled in AD (onDisable: remove)';
  if (reason === undefined) {
    const why = !sel.selected ? sel.why : 'disabled in AD; onDisable: keep';
    return { kind: 'none', why: direct || inherited.length > 0 ? `keeps ${r.sku.skuPartNumber}: ${why}` : why };
  }
  if (sel.uncertain !== undefined)
    return {
      kind: 'none',
      why: `${r.sku.skuPartNumber} kept: ${sel.uncertain}, so adsync can't tell the user left`,
    };
  if (direct === undefined) {
    if (inherited.length > 0)
      return {
        kind: 'report',
        code: 'license-inherited',
        reason: `${r.name} would remove ${r.sku.skuPartNumber} (${reason}), but it is inherited from ${from}: adsync never removes a group's licence`,
      };
    return { kind: 'none', why: reason };
  }
  return { kind: 'remove', remove: { skuId, sku: r.sku.skuPartNumber, rule: r.name, reason } };
}

interface ManagedUser {
  obj: DesiredObject;
  id?: string;
  states: LicenseAssignmentState[];
}

/** The users whose licences the rules govern: desired, writable, not held, and in the target (or created now). */
function managedUsers(desired: DesiredState, target: TargetSnapshot, changes: readonly Change[]): ManagedUser[] {
  const byAnchor = new Map<string, TargetObject>();
  const byId = new Map<string, TargetObject>();
  for (const t of target.objects) {
    if (t.kind !== 'user') continue;
    byId.set(t.id, t);
    if (t.anchor !== undefined) byAnchor.set(t.anchor, t);
  }
  // a user in deleted items joins only through its restore (a held restore leaves it there)
  for (const t of target.deleted) if (t.kind === 'user') byId.set(t.id, t);
  const joined = new Map<string, { id?: string; t?: TargetObject }>();
  for (const c of changes) {
    if (c.kind !== 'user' || c.target !== 'entra') continue;
    if (c.action === 'create') joined.set(c.anchor, {});
    else if (c.action === 'adopt' || c.action === 'restore') {
      const t = byId.get(c.id);
      joined.set(c.anchor, t ? { id: c.id, t } : { id: c.id });
    }
  }
  const out: ManagedUser[] = [];
  for (const obj of desired.objects) {
    if (obj.kind !== 'user' || obj.readOnly || desired.held.has(obj.anchor)) continue;
    const j = joined.get(obj.anchor);
    const t = j?.t ?? (j === undefined ? byAnchor.get(obj.anchor) : undefined);
    if (j === undefined && t === undefined) continue; // a collision or an unowned twin: not adsync's
    const id = j?.id ?? t?.id;
    const states = t ? assignmentStates(t.attrs) : [];
    out.push(id !== undefined ? { obj, id, states } : { obj, states });
  }
  return out.sort((a, b) =>
    a.obj.sortKey < b.obj.sortKey ? -1 : a.obj.sortKey > b.obj.sortKey ? 1 : a.obj.anchor < b.obj.anchor ? -1 : 1,
  );
}

/** Whether the user will have a usageLocation: the flowed value (the flow is required when rules exist). */
function hasUsageLocation(obj: DesiredObject): boolean {
  const v = obj.attrs['usageLocation'];
  return typeof v === 'string' && v.trim() !== '';
}

/** The licence changes and report items of a plan. Throws LicenseError for unknown SKUs and seats short. */
export function planLicenses(input: LicensePlanInput): LicensePlan {
  const { rules, desired, target } = input;
  if (rules.length === 0) return { changes: [], reports: [] };
  const resolved = resolveRules(rules, target.skus ?? []);
  const groupNames = new Map<string, string>();
  for (const t of target.objects)
    if (t.kind === 'group' && typeof t.attrs['displayName'] === 'string') groupNames.set(t.id, t.attrs['displayName']);
  const groupLabel = (id: string): string => groupNames.get(id) ?? id;
  const reports: ReportItem[] = [];
  const perUser = new Map<ManagedUser, { add: LicenseAdd[]; remove: LicenseRemove[]; rules: Set<string> }>();
  /** Per rule: the users it gives a new seat to, in plan order. */
  const newSeats = new Map<ResolvedRule, ManagedUser[]>();
  const report = (u: ManagedUser, code: string, reason: string): void => {
    reports.push({
      code,
      kind: 'user',
      target: 'entra',
      anchor: u.obj.anchor,
      sourceDn: u.obj.dn,
      source: u.obj.source,
      label: u.obj.label,
      reason,
    });
  };
  for (const u of managedUsers(desired, target, input.changes)) {
    const user = { enabled: u.obj.attrs['accountEnabled'] !== false, usageLocation: hasUsageLocation(u.obj) };
    for (const r of resolved) {
      const skuId = r.sku.skuId.toLowerCase();
      const direct = u.states.some((s) => s.skuId === skuId && s.assignedByGroup === null);
      const inherited = u.states.filter((s) => s.skuId === skuId && s.assignedByGroup !== null);
      if (direct && inherited.length > 0)
        report(
          u,
          'license-duplicate-direct',
          `holds ${r.sku.skuPartNumber} directly and inherited from ${inherited.map((s) => `group ${groupLabel(s.assignedByGroup!)}`).join(', ')}: the direct assignment is redundant (it uses no extra seat)`,
        );
      const v = licenseVerdict(r, u.obj.licenses?.[r.spec.index], user, u.states, groupLabel);
      if (v.kind === 'none') continue;
      if (v.kind === 'report') {
        report(u, v.code, v.reason);
        continue;
      }
      let entry = perUser.get(u);
      if (entry === undefined) perUser.set(u, (entry = { add: [], remove: [], rules: new Set() }));
      entry.rules.add(r.name);
      if (v.kind === 'add') {
        entry.add.push(v.add);
        if (v.add.before === undefined) {
          const list = newSeats.get(r) ?? [];
          list.push(u);
          newSeats.set(r, list);
        }
      } else entry.remove.push(v.remove);
    }
  }
  // Seats: a new direct assignment takes one; refuse (or report) before any write. Seats freed by removals
  // in the same plan are not counted on: apply doesn't order removals before adds across users.
  const short: string[] = [];
  for (const [r, users] of newSeats) {
    const free = Math.max(0, r.sku.prepaidEnabled - r.sku.consumedUnits);
    if (users.length <= free) continue;
    const shortfall = users.length - free;
    const detail = `${r.name}: SKU ${r.sku.skuPartNumber} has ${free} free seat${free === 1 ? '' : 's'} (prepaid ${r.sku.prepaidEnabled}, consumed ${r.sku.consumedUnits}) but the plan assigns ${users.length}: ${shortfall} short`;
    if (r.spec.overCapacity === 'fail') {
      short.push(detail);
      continue;
    }
    for (const u of users.slice(free)) {
      const entry = perUser.get(u)!;
      entry.add = entry.add.filter((a) => !(a.rule === r.name && a.before === undefined));
      report(
        u,
        'license-no-seat',
        `${r.name} selects the user, but SKU ${r.sku.skuPartNumber} has no free seat left for it (${detail}); overCapacity: report`,
      );
    }
  }
  if (short.length > 0)
    throw new LicenseError('license_capacity', `not enough licences, nothing was written: ${short.join('; ')}`, {
      hint: 'buy the missing seats, narrow the rule (when/memberOf), free seats, or set overCapacity: report on the rule to assign what is free and report the rest',
    });
  const changes: LicensesChange[] = [];
  for (const [u, e] of perUser) {
    if (e.add.length === 0 && e.remove.length === 0) continue;
    changes.push({
      action: 'licenses',
      kind: 'user',
      anchor: u.obj.anchor,
      target: 'entra',
      sourceDn: u.obj.dn,
      source: u.obj.source,
      label: u.obj.label,
      rule: [...e.rules].sort().join(', '),
      ...(u.id !== undefined ? { id: u.id } : {}),
      add: e.add,
      remove: e.remove,
    });
  }
  return { changes, reports };
}

/** For `adsync explain`: what every rule wants for this user and why (lines). */
export function explainLicenses(
  rules: readonly LicenseRuleSpec[],
  obj: DesiredObject,
  t: TargetObject | undefined,
  skus: readonly SubscribedSkuInfo[] | undefined,
  groupLabel: (id: string) => string = (id) => id,
): string[] {
  const states = t ? assignmentStates(t.attrs) : [];
  const enabled = obj.attrs['accountEnabled'] !== false;
  const usage = typeof obj.attrs['usageLocation'] === 'string' && obj.attrs['usageLocation'] !== '';
  const out: string[] = [];
  let resolved: ResolvedRule[] | undefined;
  try {
    resolved = skus ? resolveRules(rules, skus) : undefined;
  } catch (err) {
    out.push(`(${(err as Error).message})`);
  }
  for (const spec of rules) {
    const sel = obj.licenses?.[spec.index];
    const name = ruleName(spec);
    const r = resolved?.find((x) => x.spec === spec);
    const plans = spec.disabledPlans.length > 0 ? ` (disabled: ${spec.disabledPlans.join(', ')})` : '';
    const head = sel?.selected && enabled ? `should have ${spec.sku}${plans}` : `${spec.sku}: not assigned by adsync`;
    out.push(`${name}: ${head} — ${sel?.why ?? 'no verdict'}${!enabled ? '; disabled in AD' : ''}`);
    if (r !== undefined) {
      const v = licenseVerdict(r, sel, { enabled, usageLocation: usage }, states, groupLabel);
      const now =
        v.kind === 'add'
          ? v.add.before !== undefined
            ? `plan: re-assign with disabled plans ${v.add.disabledPlans.join(', ') || 'none'}`
            : 'plan: assign'
          : v.kind === 'remove'
            ? `plan: remove (${v.remove.reason})`
            : v.kind === 'report'
              ? `reported (${v.code}): ${v.reason}`
              : v.why;
      if (now !== sel?.why) out.push(`    ${now}`);
    }
  }
  for (const s of states) {
    const sku = skus?.find((k) => k.skuId.toLowerCase() === s.skuId)?.skuPartNumber ?? s.skuId;
    out.push(
      `holds ${sku} ${s.assignedByGroup === null ? 'directly' : `inherited from group ${groupLabel(s.assignedByGroup)} (never removed by adsync)`}${s.state !== undefined && s.state !== 'Active' ? ` [${s.state}${s.error ? `: ${s.error}` : ''}]` : ''}`,
    );
  }
  return out;
}
