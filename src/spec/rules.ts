/**
 * Semantic rules: what the schema can't say. Each rule is a small function over the parsed spec that returns
 * its problems; they run even when the schema found problems (defensively, on whatever shape is there), so a
 * user sees every error at once.
 */
import { FilterParser } from 'ldapts';
import { checkExpression } from '../engine/expr.js';
import { checkDn } from '../model/dn.js';
import { isWritableProperty } from './schema.js';
import { formatPath, type SpecPath } from './positions.js';
import type { PathProblem } from './schema-problems.js';
import { WRITEBACK_RULES } from './writeback-rules.js';
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
      out.push(problem(path, `${formatPath(path)} is not a valid LDAP filter (RFC 4515): unbalanced parentheses (${open} '(' and ${close} ')'; escape literal ones as \\28 and \\29)`));
      return;
    }
    try {
      FilterParser.parseString(filter);
    } catch (err) {
      out.push(problem(path, `${formatPath(path)} is not a valid LDAP filter (RFC 4515): ${(err as Error).message.replace(/\.? Full string: [\s\S]*$/, '')}`));
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
    for (const [prop, expr] of Object.entries(flows)) {
      // An unknown property is the schema's problem; one problem per mistake.
      if (typeof expr !== 'string' || expr === '' || !isWritableProperty(kind, prop)) continue;
      const err = checkExpression(expr);
      if (err !== undefined) {
        const path: SpecPath = ['objects', kind, 'flows', prop];
        out.push(problem(path, `${formatPath(path)} is not a valid CEL expression: ${err}`));
      }
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
      out.push(problem(['sources', i, 'ldap', 'startTls'], `sources[${i}].ldap.startTls is for ldap:// URLs; ${withoutCredentials(ldap['url'])} is already TLS`));
    }
  });
  return out;
};

export const RULES: readonly Rule[] = [uniqueSourceNames, scopeDns, scopeFilter, flowExpressions, startTlsNeedsPlainLdap, credentialsInUrls, ...WRITEBACK_RULES];

export function semanticProblems(spec: unknown): PathProblem[] {
  if (!isObj(spec)) return [];
  return RULES.flatMap((rule) => rule(spec));
}
