/**
 * Semantic rules of `writeback:` (Entra ID → AD): the source a rule writes into exists and is an LDAP forest,
 * anchor writeback needs the ms-DS-ConsistencyGuid anchor, expressions compile, the OU is a DN, no attribute
 * is written back twice, and no attribute goes round in a loop (flowed in from AD and written back to it).
 */
import { checkExpression, referencedAttributes } from '../engine/expr.js';
import { applicationAttributes, DEFAULT_FLOWS, FLOW_APP_ATTRIBUTES, REQUIRED_FLOWS } from '../engine/flows.js';
import { checkDn } from '../model/dn.js';
import { formatPath, type SpecPath } from './positions.js';
import type { PathProblem } from './schema-problems.js';
import { deniedAttribute, type DenyEntry } from './writeback-denylist.js';

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Raw => (isObj(v) ? v : {});

/** AD attributes adsync itself writes on a written-back group: a rule's flows may not name them. */
export const GROUP_WRITEBACK_RESERVED = new Set([
  'cn',
  'name',
  'distinguishedname',
  'grouptype',
  'member',
  'admindescription',
  'admindisplayname',
  'objectclass',
]);

/** The problem of a flow into a protected attribute (src/spec/writeback-denylist.ts), unless the rule allows it. */
function protectedFlow(
  path: SpecPath,
  attr: string,
  deny: DenyEntry,
  allowed: ReadonlySet<string>,
  allowPath: string,
): PathProblem | undefined {
  if (deny.overridable && allowed.has(attr.toLowerCase())) return undefined;
  const how = deny.overridable
    ? `; if the cloud really must master it, list it in ${allowPath} (every plan then warns)`
    : '; it can never be written back';
  return {
    path,
    at: 'key',
    message: `${formatPath(path)}: ${attr} is a protected AD attribute writeback never writes: ${deny.reason} (${deny.category}, ${deny.source})${how}`,
  };
}

/** `allowProtected`: each entry names an overridable protected attribute a flow of the same rule writes. */
function allowProtectedProblems(
  i: number,
  type: 'group' | 'attributes',
  body: Raw,
): { allowed: Set<string>; problems: PathProblem[] } {
  const allowed = new Set<string>();
  const problems: PathProblem[] = [];
  const flows = new Set(Object.keys(obj(body['flows'])).map((a) => a.toLowerCase()));
  list(body['allowProtected']).forEach((item, j) => {
    if (typeof item !== 'string') return;
    const path: SpecPath = ['writeback', i, type, 'allowProtected', j];
    const deny = deniedAttribute(item);
    if (!deny)
      problems.push({
        path,
        at: 'value',
        message: `${formatPath(path)}: ${item} is not a protected attribute; remove it from allowProtected`,
      });
    else if (!deny.overridable)
      problems.push({
        path,
        at: 'value',
        message: `${formatPath(path)}: ${item} can never be written back (${deny.reason}); allowProtected can't allow it`,
      });
    else if (!flows.has(item.toLowerCase()))
      problems.push({
        path,
        at: 'value',
        message: `${formatPath(path)}: allows ${item}, which no flow of this rule writes; remove it`,
      });
    else allowed.add(item.toLowerCase());
  });
  return { allowed, problems };
}

function rulesOf(spec: Raw): { i: number; type: 'anchor' | 'group' | 'attributes'; body: Raw }[] {
  const out: { i: number; type: 'anchor' | 'group' | 'attributes'; body: Raw }[] = [];
  list(spec['writeback']).forEach((item, i) => {
    const r = obj(item);
    for (const type of ['anchor', 'group', 'attributes'] as const)
      if (isObj(r[type])) out.push({ i, type, body: r[type] });
  });
  return out;
}

/** Each rule writes into a source of the spec that is an LDAP forest (writeback writes over LDAP). */
export const writebackSources = (spec: Raw): PathProblem[] => {
  const out: PathProblem[] = [];
  const sources = new Map<string, Raw>();
  for (const s of list(spec['sources']))
    if (typeof obj(s)['name'] === 'string') sources.set(obj(s)['name'] as string, obj(s));
  for (const { i, type, body } of rulesOf(spec)) {
    const name = body['source'];
    if (typeof name !== 'string') continue;
    const path: SpecPath = ['writeback', i, type, 'source'];
    const source = sources.get(name);
    if (!source) {
      out.push({
        path,
        at: 'value',
        message: `${formatPath(path)}: no source is named '${name}' (sources: ${[...sources.keys()].join(', ') || 'none'})`,
      });
      continue;
    }
    if (!isObj(source['ldap'])) {
      out.push({
        path,
        at: 'value',
        message: `${formatPath(path)}: source '${name}' is not an LDAP source; writeback writes to AD over LDAP`,
      });
      continue;
    }
    if (type === 'anchor' && source['anchor'] === 'objectguid') {
      out.push({
        path,
        at: 'value',
        message: `${formatPath(path)}: source '${name}' anchors on objectGUID; anchor writeback fills ms-DS-ConsistencyGuid, which only the ms-ds-consistencyguid anchor reads (set sources[].anchor: ms-ds-consistencyguid)`,
      });
    }
  }
  return out;
};

/** Filters and flows compile as CEL; a literal OU is a DN; adsync's own group attributes are not flows. */
export const writebackExpressions = (spec: Raw): PathProblem[] => {
  const out: PathProblem[] = [];
  const cel = (path: SpecPath, text: unknown): void => {
    if (typeof text !== 'string' || text === '') return;
    const err = checkExpression(text);
    if (err !== undefined)
      out.push({ path, at: 'value', message: `${formatPath(path)} is not a valid CEL expression: ${err}` });
  };
  for (const { i, type, body } of rulesOf(spec)) {
    if (type === 'group') {
      cel(['writeback', i, 'group', 'filter'], body['filter']);
      const ou = body['ou'];
      if (typeof ou === 'string' && ou !== '') {
        const err = checkDn(ou);
        if (err)
          out.push({
            path: ['writeback', i, 'group', 'ou'],
            at: 'value',
            message: `writeback[${i}].group.ou is not a valid DN: ${err}`,
          });
      }
      const { allowed, problems } = allowProtectedProblems(i, 'group', body);
      out.push(...problems);
      for (const [attr, expr] of Object.entries(obj(body['flows']))) {
        const path: SpecPath = ['writeback', i, 'group', 'flows', attr];
        const deny = deniedAttribute(attr);
        if (GROUP_WRITEBACK_RESERVED.has(attr.toLowerCase())) {
          out.push({
            path,
            at: 'key',
            message: `${formatPath(path)}: ${attr} is written by adsync itself on written-back groups (cn, groupType, member, adminDescription, adminDisplayName)`,
          });
        } else if (deny && !deny.existingOnly) {
          const p = protectedFlow(path, attr, deny, allowed, `writeback[${i}].group.allowProtected`);
          if (p) out.push(p);
          else cel(path, expr);
        } else cel(path, expr);
      }
    }
    if (type === 'attributes') {
      const { allowed, problems } = allowProtectedProblems(i, 'attributes', body);
      out.push(...problems);
      for (const [attr, expr] of Object.entries(obj(body['flows']))) {
        const path: SpecPath = ['writeback', i, 'attributes', 'flows', attr];
        const deny = deniedAttribute(attr);
        const p = deny && protectedFlow(path, attr, deny, allowed, `writeback[${i}].attributes.allowProtected`);
        if (p) out.push(p);
        else cel(path, expr);
      }
    }
  }
  return out;
};

/** One AD attribute of one kind in one source is written back by one rule. */
export const writebackDuplicates = (spec: Raw): PathProblem[] => {
  const out: PathProblem[] = [];
  const first = new Map<string, SpecPath>();
  for (const { i, type, body } of rulesOf(spec)) {
    if (type !== 'attributes') continue;
    const kind = body['kind'] === 'group' ? 'group' : 'user';
    for (const attr of Object.keys(obj(body['flows']))) {
      const key = `${String(body['source'])} ${kind} ${attr.toLowerCase()}`;
      const path: SpecPath = ['writeback', i, 'attributes', 'flows', attr];
      const prev = first.get(key);
      if (prev)
        out.push({
          path,
          at: 'key',
          related: prev,
          message: `${formatPath(path)}: ${attr} is already written back by ${formatPath(prev)} ({related})`,
        });
      else first.set(key, path);
    }
  }
  return out;
};

/**
 * No loops: an attribute-writeback flow writes AD attribute A from Entra property P, while the inbound flow
 * of P reads A. Each pass would feed the other: a cloud edit is written to AD, flows back in, and AD, the
 * source of authority for inbound flows, can never change P again. Both rules are named, each at its
 * position; a default flow (no position in the file) is named with the line that turns it off.
 */
export const writebackLoops = (spec: Raw): PathProblem[] => {
  const out: PathProblem[] = [];
  const objects = obj(spec['objects']);
  const apps = applicationAttributes(list(spec['applications']).filter((a): a is string => typeof a === 'string'));
  for (const { i, type, body } of rulesOf(spec)) {
    if (type !== 'attributes') continue;
    const kind = body['kind'] === 'group' ? 'group' : 'user';
    const custom = obj(obj(objects[kind])['flows']);
    // The inbound flows of this kind: defaults (as app filtering leaves them) overlaid with the spec's.
    const inbound = new Map<string, { expression: string; custom: boolean }>();
    for (const [prop, expression] of Object.entries(DEFAULT_FLOWS[kind])) {
      if (
        apps &&
        !REQUIRED_FLOWS[kind].has(prop) &&
        !(FLOW_APP_ATTRIBUTES[kind][prop] ?? []).some((a) => apps[kind].has(a))
      )
        continue;
      inbound.set(prop, { expression, custom: false });
    }
    for (const [prop, expression] of Object.entries(custom)) {
      if (expression === null) inbound.delete(prop);
      else if (typeof expression === 'string') inbound.set(prop, { expression, custom: true });
    }
    for (const [attr, expr] of Object.entries(obj(body['flows']))) {
      if (typeof expr !== 'string') continue;
      const wbPath: SpecPath = ['writeback', i, 'attributes', 'flows', attr];
      for (const prop of referencedAttributes(expr)) {
        const flow = inbound.get(prop);
        if (!flow) continue;
        const reads = referencedAttributes(flow.expression).map((a) => a.toLowerCase());
        if (!reads.includes(attr.toLowerCase())) continue;
        const flowPath: SpecPath = ['objects', kind, 'flows', prop];
        if (flow.custom) {
          out.push({
            path: wbPath,
            at: 'key',
            related: flowPath,
            message: `flow loop: ${formatPath(wbPath)} writes ${prop} back to AD's ${attr}, which ${formatPath(flowPath)} ({related}) flows in to ${prop}; turn one of the two off`,
          });
          out.push({
            path: flowPath,
            at: 'key',
            related: wbPath,
            message: `flow loop: ${formatPath(flowPath)} flows AD's ${attr} in to ${prop}, which ${formatPath(wbPath)} ({related}) writes back to ${attr}; turn one of the two off`,
          });
        } else {
          out.push({
            path: wbPath,
            at: 'key',
            message: `flow loop: ${formatPath(wbPath)} writes ${prop} back to AD's ${attr}, which the default flow ${kind}.${prop} (${flow.expression}) flows in to ${prop}; make ${prop} cloud-mastered with \`objects.${kind}.flows.${prop}: null\`, or drop this writeback flow`,
          });
        }
      }
    }
  }
  return out;
};

export const WRITEBACK_RULES = [writebackSources, writebackExpressions, writebackDuplicates, writebackLoops] as const;
