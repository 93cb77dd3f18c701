/**
 * Distinguished names compared the way AD compares them: attribute types and values case-insensitively,
 * escapes (`\,` and `\2C`, `\C3\A9` and `é`) and insignificant spaces around separators ignored, and the
 * AVAs of a multi-valued RDN in any order.
 *
 * The canonical form that `normalizeDn` returns escapes every special character in a value as `\xx` hex, so
 * a `,` in the canonical form is always an RDN separator: suffix tests are plain string comparisons.
 */
import { SourceError } from '../../errors.js';

/** One attribute-value assertion of an RDN: the type lower-cased, the value unescaped (as the directory has it). */
export interface Ava {
  type: string;
  value: string;
}

/** One RDN: its AVAs (one, unless multi-valued) and the text it had in the DN it came from. */
export interface Rdn {
  avas: Ava[];
  raw: string;
}

function invalid(dn: string, why: string): SourceError {
  return new SourceError('dn_invalid', `invalid DN "${dn}": ${why}`, {
    hint: 'a DN is RDNs separated by commas, e.g. CN=Ann Lee,OU=Staff,DC=corp,DC=example; escape "," in values as "\\,"',
  });
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Parses a DN (RFC 4514, with the leniencies AD accepts: spaces around separators, `;` as separator). */
export function parseDn(dn: string): Rdn[] {
  const rdns: Rdn[] = [];
  const n = dn.length;
  let i = 0;
  // Skip leading spaces.
  while (i < n && dn.charCodeAt(i) === 32) i++;
  if (i === n) return rdns;
  let rdnStart = i;
  let avas: Ava[] = [];
  for (;;) {
    // Attribute type.
    while (i < n && dn.charCodeAt(i) === 32) i++;
    const typeStart = i;
    while (i < n) {
      const c = dn.charCodeAt(i);
      if (c === 61 /* = */ || c === 32) break;
      if (c === 44 || c === 43 || c === 59 || c === 92 || c === 34) throw invalid(dn, `unexpected "${dn[i]}" in an attribute type`);
      i++;
    }
    const type = dn.slice(typeStart, i).toLowerCase();
    while (i < n && dn.charCodeAt(i) === 32) i++;
    if (type === '') throw invalid(dn, 'missing attribute type');
    if (i >= n || dn.charCodeAt(i) !== 61) throw invalid(dn, `missing "=" after "${type}"`);
    i++;
    while (i < n && dn.charCodeAt(i) === 32) i++;
    // Attribute value.
    let value = '';
    if (i < n && dn.charCodeAt(i) === 35 /* # */) {
      // BER-encoded value: keep the hex string as written (lower-cased when compared).
      const s = i;
      while (i < n) {
        const c = dn.charCodeAt(i);
        if (c === 44 || c === 43 || c === 59 || c === 32) break;
        i++;
      }
      value = dn.slice(s, i);
    } else if (i < n && dn.charCodeAt(i) === 34 /* " */) {
      // Quoted value (LDAPv2 style, still accepted by AD).
      i++;
      let s = i;
      while (i < n && dn.charCodeAt(i) !== 34) {
        if (dn.charCodeAt(i) === 92) {
          value += dn.slice(s, i);
          i++;
          if (i >= n) throw invalid(dn, 'dangling "\\"');
          value += dn[i];
          s = i + 1;
        }
        i++;
      }
      if (i >= n) throw invalid(dn, 'unterminated quoted value');
      value += dn.slice(s, i);
      i++;
    } else {
      let s = i;
      // Index in `value` after the last character that came from an escape (escaped trailing spaces stay).
      let keepUpTo = 0;
      let bytes: number[] | undefined;
      const flushBytes = (): void => {
        if (bytes !== undefined) {
          value += utf8.decode(Uint8Array.from(bytes));
          keepUpTo = value.length;
          bytes = undefined;
        }
      };
      while (i < n) {
        const c = dn.charCodeAt(i);
        if (c === 44 || c === 43 || c === 59) break;
        if (c === 92 /* \ */) {
          if (i > s) {
            flushBytes();
            value += dn.slice(s, i);
          }
          const h1 = i + 1 < n ? hexVal(dn.charCodeAt(i + 1)) : -1;
          const h2 = i + 2 < n ? hexVal(dn.charCodeAt(i + 2)) : -1;
          if (h1 >= 0 && h2 >= 0) {
            (bytes ??= []).push(h1 * 16 + h2);
            i += 3;
          } else {
            if (i + 1 >= n) throw invalid(dn, 'dangling "\\" at the end');
            flushBytes();
            value += dn[i + 1];
            keepUpTo = value.length;
            i += 2;
          }
          s = i;
          continue;
        }
        i++;
      }
      flushBytes();
      value += dn.slice(s, i);
      // Unescaped trailing spaces are not part of the value.
      let end = value.length;
      while (end > keepUpTo && value.charCodeAt(end - 1) === 32) end--;
      value = value.slice(0, end);
    }
    avas.push({ type, value });
    while (i < n && dn.charCodeAt(i) === 32) i++;
    if (i >= n) {
      rdns.push({ avas, raw: dn.slice(rdnStart, i).trim() });
      break;
    }
    const sep = dn.charCodeAt(i);
    if (sep === 43 /* + */) {
      i++;
      continue;
    }
    if (sep === 44 || sep === 59) {
      rdns.push({ avas, raw: dn.slice(rdnStart, i).trim() });
      avas = [];
      i++;
      while (i < n && dn.charCodeAt(i) === 32) i++;
      if (i >= n) throw invalid(dn, 'trailing separator');
      rdnStart = i;
      continue;
    }
    throw invalid(dn, `unexpected "${dn[i]}"`);
  }
  return rdns;
}

/** Characters escaped as `\xx` in canonical values: the specials of RFC 4514 plus `;`. */
function escapeCanonical(value: string): string {
  let out = '';
  let s = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const special =
      c === 44 || c === 43 || c === 34 || c === 92 || c === 60 || c === 62 || c === 59 || c === 61 || c === 0 ||
      ((c === 32 || c === 35) && i === 0) || (c === 32 && i === value.length - 1);
    if (special) {
      out += value.slice(s, i) + '\\' + c.toString(16).padStart(2, '0');
      s = i + 1;
    }
  }
  return s === 0 ? value : out + value.slice(s);
}

function canonicalRdn(rdn: Rdn): string {
  if (rdn.avas.length === 1) {
    const a = rdn.avas[0]!;
    return `${a.type}=${escapeCanonical(a.value.toLowerCase())}`;
  }
  return rdn.avas
    .map((a) => `${a.type}=${escapeCanonical(a.value.toLowerCase())}`)
    .sort()
    .join('+');
}

/** True when the DN certainly needs no unescaping: then lower-casing and trimming spaces is its canonical form. */
function isPlain(dn: string): boolean {
  for (let i = 0; i < dn.length; i++) {
    const c = dn.charCodeAt(i);
    if (c === 92 || c === 34 || c === 43 || c === 59 || c === 35 || c === 60 || c === 62) return false;
    if (c === 32) {
      // A space next to a separator, or at either end, needs the full parser.
      const p = i > 0 ? dn.charCodeAt(i - 1) : 44;
      const q = i + 1 < dn.length ? dn.charCodeAt(i + 1) : 44;
      if (p === 44 || p === 61 || q === 44 || q === 61) return false;
    }
  }
  return true;
}

const PLAIN_DN = /^[^=,]+=[^=,]+(?:,[^=,]+=[^=,]+)*$/;

/**
 * The canonical form of a DN, for comparisons: types and values lower-cased, values unescaped and re-escaped
 * uniformly (specials as lower-case `\xx` hex), no spaces around separators, multi-valued RDNs sorted.
 * `normalizeDn('CN=Lee\, Ann,OU=Staff, DC=Corp,DC=Example')` === `normalizeDn('cn=lee\2C ann,ou=staff,dc=corp,dc=example')`.
 * Throws a SourceError (code `dn_invalid`) for a malformed DN.
 */
export function normalizeDn(dn: string): string {
  if (isPlain(dn) && PLAIN_DN.test(dn)) return dn.toLowerCase();
  return parseDn(dn).map(canonicalRdn).join(',');
}

/**
 * True when `dn` is `base` or lies below it (subtree scope), compared as AD compares DNs.
 * Pass already-normalized DNs through `isUnderNormalized` in hot loops.
 */
export function isUnder(dn: string, base: string): boolean {
  return isUnderNormalized(normalizeDn(dn), normalizeDn(base));
}

/** `isUnder` for DNs already in `normalizeDn` form. An empty base (the root) contains everything. */
export function isUnderNormalized(normDn: string, normBase: string): boolean {
  if (normBase === '') return true;
  if (normDn.length === normBase.length) return normDn === normBase;
  return (
    normDn.length > normBase.length &&
    normDn.charCodeAt(normDn.length - normBase.length - 1) === 44 &&
    normDn.endsWith(normBase)
  );
}

/**
 * The domain root of a DN: its trailing run of DC= RDNs, spelled as in the DN (undefined when it has none).
 * `domainRootOf('CN=Ann,OU=Staff,DC=corp,DC=example')` → `{ dn: 'DC=corp,DC=example', dnsName: 'corp.example' }`.
 */
export function domainRootOf(dn: string): { dn: string; dnsName: string } | undefined {
  const rdns = parseDn(dn);
  let k = rdns.length;
  while (k > 0) {
    const r = rdns[k - 1]!;
    if (r.avas.length !== 1 || r.avas[0]!.type !== 'dc') break;
    k--;
  }
  if (k === rdns.length) return undefined;
  const tail = rdns.slice(k);
  return { dn: tail.map((r) => r.raw).join(','), dnsName: tail.map((r) => r.avas[0]!.value.toLowerCase()).join('.') };
}

/** The DNS name of a domain root DN from its DC= components: `DC=corp,DC=example` → `corp.example`. */
export function dnsNameOf(dn: string): string {
  return parseDn(dn)
    .filter((r) => r.avas.length === 1 && r.avas[0]!.type === 'dc')
    .map((r) => r.avas[0]!.value.toLowerCase())
    .join('.');
}
