/**
 * Semantic rules: what the schema can't say. Each rule is a small function over the parsed spec that returns
 * its problems; they run even when the schema found problems (defensively, on whatever shape is there), so a
 * user sees every error at once.
 */
import { FilterParser } from 'ldapts';
import { checkExpression, expressionType } from '../engine/expr.js';
import { REQUIRED_FLOWS } from '../engine/flows.js';
import { GRAPH_PROPERTIES, staticTypeProblem } from '../engine/graph-properties.js';
import { checkDn, domainOfDn, isUnder, normalizeDn } from '../model/dn.js';
import { isWritableProperty } from './schema.js';
import { formatPath, type SpecPath } from './positions.js';
import type { PathProblem } from './schema-problems.js';
import { WRITEBACK_RULES } from './writeback-rules.js';
import { LICENSE_RULES } from './licenses.js';
import { credentialsInUrls, withoutCredentials } from './secret-rules.js';

type Raw = Record<string, unknown>;
export type Rule = (spec: Raw) => PathProblem[];

const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Raw => (isObj(v) ? v : {});

function problem(path: SpecPath, message: string, at: 'key' | 'value' = 'value'): PathProblem {
  return { path, at, message };
}

/** Source names are unique: they key snapshots, provenance and plans. */
export const uniqueSourceNames: Rule = (spec) => {
  const first = new Map<string, number>();
  const out: PathProblem[] = [];
  list(spec['sources']).forEach((s, i) => {
    const name = obj(s)['name'];
    if (typeof name !== 'string') return;
    const prev = first.get(name);
    if (prev === undefined) first.set(name, i);
    else out.push(problem(['sources', i, 'name'], `duplicate source name '${name}' (also sources[${prev}].name)`));
  });
  return out;
};

/** OU and group DNs in a scope are syntactically valid DNs. */
export const scopeDns: Rule = (spec) => {
  const out: PathProblem[] = [];
  list(spec['sources']).forEach((s, i) => {
    const scope = obj(obj(s)['scope']);
    const ous = obj(scope['ous']);
    const lists: [SpecPath, unknown][] = [
      [['sources', i, 'scope', 'ous', 'include'], ous['include']],
      [['sources', i, 'scope', 'ous', 'exclude'], ous['exclude']],
      [['sources', i, 'scope', 'groups'], scope['groups']],
    ];
    for (const [path, items] of lists) {
      list(items).forEach((dn, j) => {
        if (typeof dn !== 'string' || dn === '') return;
        const err = checkDn(dn);
        if (err) out.push(problem([...path, j], `${formatPath([...path, j])} is not a valid DN: ${err}`));
      });
    }
  });
  return out;
};

/**
 * Scope entries that can never match, whatever the directory holds: an OU or group outside every domain of
 * `scope.domains`, an excluded OU outside every included one. (Entries that match nothing in the data are
 * `plan`'s warnings.)
 */
export const scopeReach: Rule = (spec) => {
  const out: PathProblem[] = [];
  list(spec['sources']).forEach((s, i) => {
    const scope = obj(obj(s)['scope']);
    const ous = obj(scope['ous']);
    const norm = (dn: unknown): string | undefined =>
      typeof dn === 'string' && dn !== '' && checkDn(dn) === undefined ? normalizeDn(dn) : undefined;
    const domains = list(scope['domains'])
      .filter((d): d is string => typeof d === 'string')
      .map((d) => d.toLowerCase().replace(/\.$/, ''));
    const includes = list(ous['include'])
      .map(norm)
      .filter((d): d is string => d !== undefined);
    const entries: [SpecPath, unknown][] = [
      ...list(ous['include']).map((dn, j): [SpecPath, unknown] => [['sources', i, 'scope', 'ous', 'include', j], dn]),
      ...list(ous['exclude']).map((dn, j): [SpecPath, unknown] => [['sources', i, 'scope', 'ous', 'exclude', j], dn]),
      ...list(scope['groups']).map((dn, j): [SpecPath, unknown] => [['sources', i, 'scope', 'groups', j], dn]),
    ];
    for (const [path, dn] of entries) {
      const n = norm(dn);
      if (n === undefined) continue;
      const domain = domainOfDn(n);
      if (domains.length > 0 && !domains.includes(domain)) {
        out.push({
          path,
          at: 'value',
          warning: true,
          message: `${formatPath(path)} can match nothing: its domain ${domain || '(none)'} is not in scope.domains`,
        });
      } else if (path[4] === 'exclude' && includes.length > 0 && !includes.some((inc) => isUnder(n, inc))) {
        out.push({
          path,
          at: 'value',
          warning: true,
          message: `${formatPath(path)} excludes nothing: it is not under any OU of scope.ous.include`,
        });
      }
    }
  });
  return out;
};

/** A scope's filter parses as an RFC 4515 LDAP filter (with the same parser the LDAP connector uses). */
export const scopeFilter: Rule = (spec) => {
  const out: PathProblem[] = [];
  list(spec['sources']).forEach((s, i) => {
    const filter = obj(obj(s)['scope'])['filter'];
    if (typeof filter !== 'string' || filter === '') return;
    const path: SpecPath = ['sources', i, 'scope', 'filter'];
    // ldapts accepts `(&(a=b)` (a missing final paren) as `(&(a=b))`; a typo in a scope filter can delete
    // objects, so hold the text to RFC 4515, where every literal paren in a value is escaped (\28, \29).
    const open = filter.split('(').length - 1;
    const close = filter.split(')').length - 1;
    if (open !== close) {
      out.push(
        problem(
          path,
          `${formatPath(path)} is not a valid LDAP filter (RFC 4515): unbalanced parentheses (${open} '(' and ${close} ')'; escape literal ones as \\28 and \\29)`,
        ),
      );
      return;
    }
    try {
      FilterParser.parseString(filter);
    } catch (err) {
      out.push(
        problem(
          path,
          `${formatPath(path)} is not a valid LDAP filter (RFC 4515): ${(err as Error).message.replace(/\.? Full string: [\s\S]*$/, '')}`,
        ),
      );
    }
  });
  return out;
};

/** Every flow expression compiles as CEL. */
export const flowExpressions: Rule = (spec) => {
  const out: PathProblem[] = [];
  const objects = obj(spec['objects']);
  for (const kind of ['user', 'group', 'contact'] as const) {
    const flows = obj(obj(objects[kind])['flows']);
    for (const [prop, raw] of Object.entries(flows)) {
      // `{ value, when }`: the expression is its value (a malformed object is the schema's problem)
      const timed = typeof raw === 'object' && raw !== null && !Array.isArray(raw);
      const expr = timed ? (raw as Record<string, unknown>)['value'] : raw;
      // An unknown property is the schema's problem; one problem per mistake.
      if (typeof expr !== 'string' || expr === '' || !isWritableProperty(kind, prop)) continue;
      const path: SpecPath = timed ? ['objects', kind, 'flows', prop, 'value'] : ['objects', kind, 'flows', prop];
      const err = checkExpression(expr);
      if (err !== undefined) {
        out.push(problem(path, `${formatPath(path)} is not a valid CEL expression: ${err}`));
        continue;
      }
      // the result's type, where the expression fixes it: a string for a boolean property fails every create
      const property = GRAPH_PROPERTIES[kind][prop];
      const wrong = property && staticTypeProblem(property, prop, expressionType(expr), REQUIRED_FLOWS[kind].has(prop));
      if (wrong) out.push(problem(path, `${formatPath(path)} ${wrong}`));
    }
  }
  return out;
};

/** matching.takeover and matching.release compile as CEL (boolean selectors over the source object). */
export const matchingExpressions: Rule = (spec) => {
  const out: PathProblem[] = [];
  const m = obj(spec['matching']);
  for (const key of ['takeover', 'release'] as const) {
    const expr = m[key];
    if (typeof expr !== 'string' || expr === '') continue;
    const path: SpecPath = ['matching', key];
    const err = checkExpression(expr);
    if (err !== undefined) out.push(problem(path, `${formatPath(path)} is not a valid CEL expression: ${err}`));
    else {
      const t = expressionType(expr);
      if (t !== undefined && t !== 'bool' && t !== 'dyn')
        out.push(problem(path, `${formatPath(path)} must be a boolean expression (it is ${t})`));
    }
  }
  return out;
};

/** StartTLS upgrades a plain ldap:// connection; on ldaps:// it is a mistake. */
export const startTlsNeedsPlainLdap: Rule = (spec) => {
  const out: PathProblem[] = [];
  list(spec['sources']).forEach((s, i) => {
    const ldap = obj(obj(s)['ldap']);
    if (ldap['startTls'] === true && typeof ldap['url'] === 'string' && /^ldaps:\/\//i.test(ldap['url'])) {
      out.push(
        problem(
          ['sources', i, 'ldap', 'startTls'],
          `sources[${i}].ldap.startTls is for ldap:// URLs; ${withoutCredentials(ldap['url'])} is already TLS`,
        ),
      );
    }
  });
  return out;
};

export const RULES: readonly Rule[] = [
  uniqueSourceNames,
  scopeDns,
  scopeReach,
  scopeFilter,
  flowExpressions,
  matchingExpressions,
  startTlsNeedsPlainLdap,
  credentialsInUrls,
  ...WRITEBACK_RULES,
  ...LICENSE_RULES,
];

export function semanticProblems(spec: unknown): PathProblem[] {
  if (!isObj(spec)) return [];
  return RULES.flatMap((rule) => rule(spec));
}
