/**
 * Evaluates RFC 4515 LDAP filters against directory entries, the way AD matches them: multi-valued
 * attributes match if any value does, strings compare case-insensitively, integers numerically, and the
 * AD bitwise matching rules (LDAP_MATCHING_RULE_BIT_AND / _BIT_OR) work. Parsing is ldapts' FilterParser
 * (a maintained RFC 4515 parser); ldapts' own `matches()` is single-valued and lacks the AD rules, hence
 * this small evaluator over its parse tree.
 */
import {
  AndFilter,
  ApproximateFilter,
  EqualityFilter,
  ExtensibleFilter,
  FilterParser,
  GreaterThanEqualsFilter,
  LessThanEqualsFilter,
  NotFilter,
  OrFilter,
  PresenceFilter,
  SubstringFilter,
  type Filter,
} from 'ldapts';
import { AdsyncError } from '../errors.js';
import type { AttrValue, DirectoryEntry } from '../model/entry.js';

const BIT_AND = '1.2.840.113556.1.4.803';
const BIT_OR = '1.2.840.113556.1.4.804';

export type EntryPredicate = (entry: DirectoryEntry) => boolean;

export function parseLdapFilter(text: string): Filter {
  const trimmed = text.trim();
  return FilterParser.parseString(trimmed.startsWith('(') ? trimmed : `(${trimmed})`);
}

function str(v: AttrValue): string {
  return typeof v === 'string' ? v : Buffer.from(v).toString('latin1');
}

const INT = /^-?\d+$/;

function compare(a: string, b: string): number {
  if (INT.test(a) && INT.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function values(entry: DirectoryEntry, attribute: string): AttrValue[] {
  const name = attribute.toLowerCase();
  if (name === 'distinguishedname' || name === 'dn') return [entry.dn];
  return entry.attrs[name] ?? [];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compiles a parsed filter into a predicate over entries. */
export function compileFilter(filter: Filter): EntryPredicate {
  if (filter instanceof AndFilter) {
    const parts = filter.filters.map(compileFilter);
    return (e) => parts.every((p) => p(e));
  }
  if (filter instanceof OrFilter) {
    const parts = filter.filters.map(compileFilter);
    return (e) => parts.some((p) => p(e));
  }
  if (filter instanceof NotFilter) {
    const inner = compileFilter(filter.filter);
    return (e) => !inner(e);
  }
  if (filter instanceof PresenceFilter) {
    const attr = filter.attribute;
    return (e) => values(e, attr).length > 0;
  }
  if (filter instanceof EqualityFilter || filter instanceof ApproximateFilter) {
    const attr = filter.attribute;
    const want = typeof filter.value === 'string' ? filter.value : Buffer.from(filter.value).toString('latin1');
    return (e) => values(e, attr).some((v) => compare(str(v), want) === 0);
  }
  if (filter instanceof GreaterThanEqualsFilter) {
    const { attribute, value } = filter;
    return (e) => values(e, attribute).some((v) => compare(str(v), value) >= 0);
  }
  if (filter instanceof LessThanEqualsFilter) {
    const { attribute, value } = filter;
    return (e) => values(e, attribute).some((v) => compare(str(v), value) <= 0);
  }
  if (filter instanceof SubstringFilter) {
    let pattern = '^';
    if (filter.initial) pattern += escapeRegExp(filter.initial);
    pattern += '.*';
    for (const any of filter.any) pattern += `${escapeRegExp(any)}.*`;
    if (filter.final) pattern += escapeRegExp(filter.final);
    pattern += filter.final ? '$' : '';
    const re = new RegExp(pattern, 'isu');
    const attr = filter.attribute;
    return (e) => values(e, attr).some((v) => re.test(str(v)));
  }
  if (filter instanceof ExtensibleFilter) {
    // (attr:rule:=value): ldapts keeps the attribute in `matchType`.
    const attr = filter.matchType;
    const rule = filter.rule;
    if (rule === BIT_AND || rule === BIT_OR) {
      const mask = BigInt(filter.value);
      return (e) =>
        values(e, attr).some((v) => {
          const s = str(v);
          if (!INT.test(s)) return false;
          const n = BigInt(s) & mask;
          return rule === BIT_AND ? n === mask : n !== 0n;
        });
    }
    if (!rule) {
      const want = filter.value;
      return (e) => values(e, attr).some((v) => compare(str(v), want) === 0);
    }
    throw new AdsyncError(
      'scope_filter_unsupported',
      `matching rule ${rule} is not supported in scope filters (supported: ${BIT_AND} BIT_AND, ${BIT_OR} BIT_OR)`,
    );
  }
  throw new AdsyncError('scope_filter_unsupported', `unsupported filter ${filter.toString()}`);
}

/** Every attribute a filter mentions (lower-cased), so connectors read them. */
export function filterAttributes(filter: Filter): string[] {
  const out = new Set<string>();
  const walk = (f: Filter): void => {
    if (f instanceof AndFilter || f instanceof OrFilter) f.filters.forEach(walk);
    else if (f instanceof NotFilter) walk(f.filter);
    else if (f instanceof ExtensibleFilter) out.add(f.matchType.toLowerCase());
    else if ('attribute' in f && typeof (f as { attribute: unknown }).attribute === 'string')
      out.add((f as { attribute: string }).attribute.toLowerCase());
  };
  walk(filter);
  return [...out];
}
