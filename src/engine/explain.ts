/**
 * `adsync explain`: for one source object (by DN, UPN or anchor), which scope rules admitted or excluded it,
 * each attribute's computed value with the flow (expression) that produced it, how it joined the target, and
 * the changes and report items it leads to: planFor()'s plan filtered to this object. Pure: the command hands
 * in the snapshots and the plan.
 */
import type { Change, ReportItem } from '../model/change.js';
import { firstString, type SourceSnapshot } from '../model/entry.js';
import { normalizeDn } from '../model/dn.js';
import type { ObjectKind, TargetSnapshot } from '../model/target.js';
import type { Spec } from '../spec/types.js';
import { anchorOf, buildDesired } from './desired.js';
import type { MatchInfo } from './diff.js';
import type { KindFlows } from './flows.js';
import { planFor, type PlanOutput } from './plan.js';
import { explainLicenses } from './licenses.js';
import type { DesiredObject } from './desired.js';
import type { LicenseRuleSpec } from '../spec/types.js';
import { DN_ATTRIBUTE } from './writeback.js';
import { classify, compileScope, defaultFilter, DEFAULT_GROUP_MEMBER_LIMIT } from './scope.js';

export interface ExplainScopeStep {
  /** `default filters (Entra Connect)` or `sources.<name>.scope`. */
  rule: string;
  result: 'admitted' | 'excluded' | 'not evaluated';
  code?: string;
  detail: string;
}

export interface ExplainAttribute {
  name: string;
  /** The value after tenant rules (e.g. the MOERA UPN fallback); null = no value. */
  value: unknown;
  /** `default user.displayName` or `objects.user.flows.displayName`. */
  flow: string;
  expression: string;
}

export interface ExplainResult {
  query: string;
  found: boolean;
  object?: { kind: ObjectKind; dn: string; source: string; anchor?: string };
  synchronized: boolean;
  scope: ExplainScopeStep[];
  attributes: ExplainAttribute[];
  /** Default flows app filtering turned off for this kind. */
  notFlowed: { name: string; reason: string }[];
  match?: MatchInfo;
  changes: Change[];
  reports: ReportItem[];
  /** Users, with `licenses:` rules: the licences each rule wants and why, and those the user holds. */
  licenses?: string[];
  /**
   * A cloud object group writeback writes into AD (found by its cloud id, or by the AD DN it is written at):
   * its plan changes and report items carry the cloud id as their anchor. Found by its cloud id alone, the
   * result has no `object` (it is not a source object).
   */
  writeback?: ExplainWriteback;
}

export interface ExplainWriteback {
  /** The cloud object's id: the anchor of its writeback changes. */
  id: string;
  label: string;
  /** Where it is, or is to be, written in AD; absent when it is not written (a report item says why). */
  dn?: string;
  /** The writeback rules that planned for it, e.g. `writeback[1].group`. */
  rules: string[];
}

export interface ExplainSources {
  spec: Pick<Spec, 'sources' | 'objects' | 'digest'> & Partial<Pick<Spec, 'matching' | 'licenses'>>;
  flows: Record<ObjectKind, KindFlows>;
  sources: readonly SourceSnapshot[];
  /** A DN, a userPrincipalName or an anchor (base64). */
  query: string;
}

export type ExplainInput = ExplainSources &
  (
    | {
        /** planFor()'s output for these sources and target, with recordMatches: what `adsync plan` computes. */
        planned: PlanOutput;
      }
    | {
        /** The target as read: planned here with the spec's matching only (no delete mode, no writeback). */
        target: TargetSnapshot;
      }
  );

function safeNormalize(dn: string): string | undefined {
  try {
    return normalizeDn(dn);
  } catch {
    return undefined;
  }
}

export function explainObject(input: ExplainInput): ExplainResult {
  const { spec, flows, sources, query } = input;
  const empty: ExplainResult = {
    query,
    found: false,
    synchronized: false,
    scope: [],
    attributes: [],
    notFlowed: [],
    changes: [],
    reports: [],
  };
  const qDn = query.includes('=') ? safeNormalize(query) : undefined;
  const qLower = query.toLowerCase();

  // Find the entry: by DN, by UPN (as in AD), or by anchor.
  let found:
    | {
        entry: SourceSnapshot['entries'][number];
        source: Spec['sources'][number];
        kind: ObjectKind;
        anchor: string | undefined;
      }
    | undefined;
  for (const snap of sources) {
    const source = spec.sources.find((s) => s.name === snap.source);
    if (!source) continue;
    for (const entry of snap.entries) {
      const kind = classify(entry);
      if (!kind) continue;
      const anchor = anchorOf(entry, source);
      const hit =
        (qDn !== undefined && safeNormalize(entry.dn) === qDn) ||
        anchor === query ||
        firstString(entry, 'userprincipalname')?.toLowerCase() === qLower ||
        firstString(entry, 'mail')?.toLowerCase() === qLower;
      if (hit) {
        found = { entry, source, kind, anchor };
        break;
      }
    }
    if (found) break;
  }

  // The plan's own answer, filtered to this object: explain cannot disagree with plan.
  const out =
    'planned' in input
      ? input.planned
      : planFor({
          spec,
          specPath: 'explain',
          desired: buildDesired(spec, sources, flows),
          target: input.target,
          toolVersion: 'explain',
          recordMatches: true,
        });
  const { desired } = out;
  // A UPN computed by a flow (fallback or MOERA) finds the object too.
  if (!found) {
    const obj = desired.objects.find(
      (o) => typeof o.attrs.userPrincipalName === 'string' && o.attrs.userPrincipalName.toLowerCase() === qLower,
    );
    if (obj) {
      const snap = sources.find((s) => s.source === obj.source);
      const source = spec.sources.find((s) => s.name === obj.source);
      const entry = snap?.entries.find((e) => e.dn === obj.dn);
      if (entry && source) found = { entry, source, kind: obj.kind, anchor: obj.anchor };
    }
  }
  // Cloud objects written back to AD: by cloud id (the anchor of their changes) or by their AD DN.
  const written = writtenBack(out);
  const wbHit =
    [...written.values()].find((w) => w.id === query) ??
    (qDn === undefined
      ? undefined
      : [...written.values()].find((w) => w.dn !== undefined && safeNormalize(w.dn) === qDn));
  if (!found) {
    if (!wbHit) return empty;
    return {
      ...empty,
      found: true,
      writeback: wbHit,
      changes: out.plan.changes.filter((c) => c.anchor === wbHit.id),
      reports: out.plan.reports.filter((r) => r.anchor === wbHit.id),
    };
  }

  const { entry, source, kind, anchor } = found;
  const result: ExplainResult = {
    ...empty,
    found: true,
    object: { kind, dn: entry.dn, source: source.name, ...(anchor !== undefined ? { anchor } : {}) },
  };
  result.notFlowed = flows[kind].filtered.map((f) => ({ name: f.attribute, reason: `app filtering: ${f.reason}` }));
  if (spec.objects[kind]?.enabled === false) {
    result.scope.push({
      rule: `objects.${kind}.enabled`,
      result: 'excluded',
      detail: `${kind} objects are turned off in the spec`,
    });
    return result;
  }
  if (anchor === undefined) {
    result.scope.push({
      rule: 'source anchor',
      result: 'excluded',
      code: 'no-anchor',
      detail: 'the entry has no objectGUID (nor mS-DS-ConsistencyGuid)',
    });
    return result;
  }
  const verdict = defaultFilter(entry, kind, spec.objects.group?.memberLimit ?? DEFAULT_GROUP_MEMBER_LIMIT);
  result.scope.push(
    verdict.included
      ? {
          rule: 'default filters (Entra Connect cloudFiltered and scoping rules)',
          result: 'admitted',
          detail: `no default filter matches this ${kind}`,
        }
      : {
          rule: 'default filters (Entra Connect cloudFiltered and scoping rules)',
          result: 'excluded',
          code: verdict.code,
          detail: verdict.reason,
        },
  );
  const ex = desired.excluded.get(anchor);
  if (verdict.included) {
    const scopeRule = `sources.${source.name}.scope`;
    if (ex) result.scope.push({ rule: scopeRule, result: 'excluded', code: ex.code, detail: ex.reason });
    else {
      const s = source.scope;
      const parts = [
        s.domains.length ? `domains [${s.domains.join(', ')}]` : '',
        s.ous.include.length || s.ous.exclude.length ? 'ous' : '',
        s.groups.length ? 'groups' : '',
        s.filter ? `filter ${s.filter}` : '',
      ].filter(Boolean);
      result.scope.push({
        rule: scopeRule,
        result: 'admitted',
        detail: parts.length ? `passes ${parts.join(', ')}` : 'the source has no scope filters',
      });
    }
  } else {
    result.scope.push({
      rule: `sources.${source.name}.scope`,
      result: 'not evaluated',
      detail: 'a default filter already excluded it',
    });
  }
  void compileScope;

  const obj = desired.byAnchor.get(anchor);
  if (obj && obj.dn === entry.dn) {
    result.synchronized = !obj.readOnly && !desired.held.has(anchor);
    const expressions = new Map(flows[kind].flows.map((f) => [f.attribute, f.expression]));
    result.attributes = Object.keys(obj.attrs)
      .sort()
      .map((name) => ({
        name,
        value: obj.attrs[name] ?? null,
        flow: obj.provenance[name] ?? 'default',
        expression: expressions.get(name) ?? '',
      }));
  }
  const match = out.matches.get(anchor);
  if (match) result.match = match;
  // An AD group that is a written-back cloud group: its writeback changes carry the cloud id.
  const wb =
    wbHit ?? [...written.values()].find((w) => w.dn !== undefined && safeNormalize(w.dn) === safeNormalize(entry.dn));
  if (wb) result.writeback = wb;
  const anchors = new Set(wb ? [anchor, wb.id] : [anchor]);
  result.changes = out.plan.changes.filter((c) => anchors.has(c.anchor));
  result.reports = out.plan.reports.filter((r) => r.anchor !== undefined && anchors.has(r.anchor));
  const target =
    'target' in input
      ? input.target
      : (input.planned as PlanOutput & { targetSnapshot?: TargetSnapshot }).targetSnapshot;
  if (spec.licenses && obj?.kind === 'user' && obj.dn === entry.dn && target)
    result.licenses = userLicenses(spec.licenses, obj, target, match?.id);
  return result;
}

/**
 * The cloud objects the plan writes back to AD (or reports on), by cloud id: the AD-side changes and report
 * items whose anchor is no source object's, and the written-back groups writeback read from AD.
 */
function writtenBack(out: PlanOutput): Map<string, ExplainWriteback> {
  const byId = new Map<string, ExplainWriteback>();
  const at = (id: string, label: string): ExplainWriteback => {
    let w = byId.get(id);
    if (!w) byId.set(id, (w = { id, label, rules: [] }));
    return w;
  };
  const isCloud = (anchor: string | undefined): anchor is string =>
    anchor !== undefined && !out.desired.byAnchor.has(anchor);
  for (const t of out.adSnapshot?.objects ?? []) {
    if (!isCloud(t.anchor)) continue;
    const name = t.attrs['displayname'];
    at(t.anchor, Array.isArray(name) && typeof name[0] === 'string' ? name[0] : t.id).dn = t.id;
  }
  for (const c of out.plan.changes) {
    if (c.target !== 'ad' || !isCloud(c.anchor)) continue;
    const w = at(c.anchor, c.label);
    w.label = c.label;
    if (!w.rules.includes(c.rule)) w.rules.push(c.rule);
    const dn =
      c.action === 'create'
        ? c.attributes.find((a) => a.name === DN_ATTRIBUTE)?.after
        : 'id' in c && c.id !== undefined
          ? c.id
          : undefined;
    if (typeof dn === 'string') w.dn = dn;
  }
  for (const r of out.plan.reports) if (r.target === 'ad' && isCloud(r.anchor)) at(r.anchor, r.label);
  for (const w of byId.values()) w.rules.sort();
  return byId;
}

/** The licence part of `explain`: each rule's verdict and why, and the licences the user holds. */
function userLicenses(
  rules: readonly LicenseRuleSpec[],
  obj: DesiredObject,
  target: TargetSnapshot,
  id: string | undefined,
): string[] {
  const t = target.objects.find(
    (o) => o.kind === 'user' && (o.anchor === obj.anchor || (id !== undefined && o.id === id)),
  );
  const names = new Map(target.objects.filter((o) => o.kind === 'group').map((g) => [g.id, g.attrs['displayName']]));
  const label = (gid: string): string => {
    const n = names.get(gid);
    return typeof n === 'string' ? n : gid;
  };
  return explainLicenses(rules, obj, t, target.skus, label);
}
