/**
 * Distinguished names: the one implementation the engine, the connectors and the spec checks share.
 *
 * DNs are compared the way Active Directory compares them (RFC 4514 syntax, MS-ADTS matching): attribute types
 * and values are case-insensitive (values also Unicode-NFC-normalized); `\,`, `\2C` and `\2c` are the same
 * character; hex escapes are UTF-8 bytes; unescaped spaces around `=`, `,` and `+` don't count while escaped ones
 * do; `#hex` is a BER value, compared as written (lower-cased), never equal to the string `\#hex`; the parts
 * of a multi-valued RDN are compared in any order; OID attribute types (`2.5.4.3`, `OID.2.5.4.3`) are their
 * names (`cn`). `normalizeDn` gives the one canonical spelling of a DN, so a group's `member` value and the
 * member's own DN always meet in a Map.
 *
 * The canonical spelling (AD's): types lower-case names, values lower-cased and minimally escaped with a
 * backslash (`cn=smith\, john,ou=staff,dc=corp,dc=example`), multi-valued RDNs sorted. An escaped `\,` can
 * therefore appear inside a canonical value: the helpers here that take normalized DNs (`isUnder`,
 * `parentDn`, `domainOfDn`) only treat an unescaped `,` as a separator; don't split canonical DNs on `,`.
 *
 * Where the four former implementations (engine, LDIF source, AD source, spec checks) disagreed, AD's
 * behaviour was kept: the canonical form escapes `\,` rather than `\2c` (the LDIF source's), attribute types
 * are validated (letters-digits-hyphens or a numeric OID), a `#` value must be hex (BER), values are NFC-folded,
 * and malformed DNs throw a SourceError `dn_invalid` (the engine's used to throw a plain Error, or pass plain
 * garbage through lower-cased).
 *
 * This module imports nothing from the engine, the connectors or the spec: they import it.
 */
import { SourceError } from '../errors.js';

/** One attribute-value assertion of an RDN. */
export interface RdnPart {
  /** Attribute type as written (e.g. `CN`, `ou`, `2.5.4.3`); see `canonicalType`. */
  type: string;
  /** The value, unescaped; for a BER value (`#hex`), the lower-cased hex with its `#`. */
  value: string;
  /** The value was written as `#hex` (BER), not as a string. */
  ber?: true;
}

/** One RDN: usually a single part; `CN=a+UID=b` has two. */
export type Rdn = RdnPart[];

/** A syntax problem, with the human-readable reason (what `checkDn` returns). Internal. */
class DnSyntax extends Error {}

function fail(why: string): never {
  throw new DnSyntax(why);
}

function invalid(dn: string, why: string): SourceError {
  return new SourceError('dn_invalid', `invalid DN "${dn}": ${why}`, {
    hint: 'write DNs as AD shows them, e.g. OU=Sales,DC=corp,DC=example (escape , + " \\ < > ; with a backslash)',
  });
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1; // also for NaN (past the end)
}

/** An AVA's value as written, from `start` to the next unescaped `,` or `+` (for messages). */
function valueText(dn: string, start: number): string {
  let i = start;
  while (i < dn.length && dn[i] !== ',' && dn[i] !== '+') i += dn[i] === '\\' ? 2 : 1;
  return dn.slice(start, i).trim();
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Attribute type: a name (letters, digits, hyphens) or a numeric OID, optionally prefixed `OID.`. */
const ATTR_TYPE = /^(?:[A-Za-z][A-Za-z0-9-]*|(?:oid\.)?[0-9]+(?:\.[0-9]+)*)$/i;
/** Characters a strict (spec) DN may escape with a backslash without writing hex. */
const ESCAPABLE = ' "#+,;<=>\\';

/**
 * The parser behind every function here. `strict` (spec checks) also rejects what AD tolerates: `;` as a
 * separator, quoted values, escapes of ordinary characters, unescaped `"` `<` `>`, empty values and an empty
 * DN. `spans`, when given, receives the start and end offsets of each RDN as written. Throws DnSyntax.
 */
function parse(dn: string, strict: boolean, spans?: number[]): Rdn[] {
  const rdns: Rdn[] = [];
  const n = dn.length;
  let i = 0;
  while (i < n && dn.charCodeAt(i) === 32) i++;
  if (i === n) {
    if (strict) fail('empty DN');
    return rdns;
  }
  let rdn: Rdn = [];
  let rdnStart = i;
  for (;;) {
    // Attribute type.
    while (i < n && dn.charCodeAt(i) === 32) i++;
    const typeStart = i;
    while (i < n) {
      const c = dn.charCodeAt(i);
      if (c === 61 || c === 44 || c === 43 || c === 59) break;
      i++;
    }
    const type = dn.slice(typeStart, i).trim();
    if (i >= n || dn.charCodeAt(i) !== 61) {
      if (type === '') fail('empty RDN (two separators in a row, or one at an end)');
      fail(`'${type}' is not attribute=value`);
    }
    if (!ATTR_TYPE.test(type))
      fail(type === '' ? `missing attribute type before '='` : `'${type}' is not an attribute type`);
    i++; // '='
    while (i < n && dn.charCodeAt(i) === 32) i++;
    // Attribute value.
    const valueStart = i;
    let value = '';
    let ber = false;
    let end: number; // end of the value as written (before unescaped trailing spaces)
    const c0 = dn.charCodeAt(i);
    if (c0 === 35 /* # */) {
      // BER-encoded value: '#' and hex pairs, kept as written (lower-cased).
      let j = i + 1;
      while (j < n && hexVal(dn.charCodeAt(j)) >= 0) j++;
      const hex = dn.slice(i, j);
      const next = dn.charCodeAt(j);
      if (
        hex.length < 3 ||
        hex.length % 2 === 0 ||
        !(j >= n || next === 32 || next === 44 || next === 43 || next === 59)
      ) {
        fail(`${type}=${valueText(dn, valueStart)}: a value starting with # must be hex (escape it as \\#)`);
      }
      value = hex.toLowerCase();
      ber = true;
      i = end = j;
    } else if (c0 === 34 /* " */) {
      // Quoted value (RFC 2253 legacy, still accepted by AD): up to the closing quote, `\x` is x.
      if (strict) fail(`${type}=${valueText(dn, valueStart)}: '"' must be escaped`);
      i++;
      let s = i;
      while (i < n && dn.charCodeAt(i) !== 34) {
        if (dn.charCodeAt(i) === 92) {
          if (i + 1 >= n) fail(`dangling '\\' at the end of the DN`);
          value += dn.slice(s, i) + dn[i + 1]!;
          i += 2;
          s = i;
          continue;
        }
        i++;
      }
      if (i >= n) fail('unterminated quoted value');
      value += dn.slice(s, i);
      i++;
      end = i;
    } else {
      let s = i;
      let keep = 0; // length of `value` up to the last escaped character: escaped trailing spaces stay
      let bytes: number[] | undefined; // pending hex-escaped UTF-8 bytes
      const flushBytes = (): void => {
        if (bytes !== undefined) {
          value += utf8.decode(Uint8Array.from(bytes));
          keep = value.length;
          bytes = undefined;
        }
      };
      end = i;
      while (i < n) {
        const c = dn.charCodeAt(i);
        if (c === 44 || c === 43 || c === 59) break;
        if (c === 92 /* \ */) {
          if (i > s) {
            flushBytes();
            value += dn.slice(s, i);
          }
          const h1 = hexVal(dn.charCodeAt(i + 1));
          const h2 = hexVal(dn.charCodeAt(i + 2));
          if (h1 >= 0 && h2 >= 0) {
            (bytes ??= []).push(h1 * 16 + h2);
            i += 3;
          } else {
            if (i + 1 >= n) fail(`dangling '\\' at the end of the DN`);
            const next = dn[i + 1]!;
            if (strict && !ESCAPABLE.includes(next)) {
              fail(`invalid escape '\\${next}' (escape one of ${ESCAPABLE} or write two hex digits)`);
            }
            // `\,` and friends; AD also accepts an escaped ordinary character and keeps it.
            flushBytes();
            value += next;
            keep = value.length;
            i += 2;
          }
          s = end = i;
          continue;
        }
        if (strict && (c === 34 || c === 60 || c === 62))
          fail(`${type}=${valueText(dn, valueStart)}: '${dn[i]}' must be escaped`);
        i++;
        if (c !== 32) end = i;
      }
      if (i > s) {
        flushBytes();
        value += dn.slice(s, i);
      } else flushBytes();
      // Unescaped trailing spaces are not part of the value.
      let e = value.length;
      while (e > keep && value.charCodeAt(e - 1) === 32) e--;
      if (e < value.length) value = value.slice(0, e);
      if (strict && value === '') fail(`${type}= has no value`);
    }
    rdn.push(ber ? { type, value, ber: true } : { type, value });
    while (i < n && dn.charCodeAt(i) === 32) i++;
    if (i >= n) {
      rdns.push(rdn);
      spans?.push(rdnStart, end);
      return rdns;
    }
    const sep = dn.charCodeAt(i);
    if (sep === 43 /* + */) {
      i++;
      continue;
    }
    if (sep === 44 || sep === 59) {
      if (sep === 59 && strict) fail(`${type}=${valueText(dn, valueStart)}: ';' must be escaped`);
      rdns.push(rdn);
      spans?.push(rdnStart, end);
      rdn = [];
      i++;
      while (i < n && dn.charCodeAt(i) === 32) i++;
      rdnStart = i;
      continue;
    }
    fail(`unexpected '${dn[i]}' after ${type}=${dn.slice(valueStart, end)}`);
  }
}

/** Parses an RFC 4514 DN (as AD writes it) into RDNs, leftmost first. Throws SourceError `dn_invalid`. */
export function parseDn(dn: string): Rdn[] {
  try {
    return parse(dn, false);
  } catch (err) {
    if (err instanceof DnSyntax) throw invalid(dn, err.message);
    throw err;
  }
}

/** The RDNs of a DN as written (escapes kept, spaces around separators dropped), leftmost first. Throws like parseDn. */
export function splitDn(dn: string): string[] {
  const spans: number[] = [];
  try {
    parse(dn, false, spans);
  } catch (err) {
    if (err instanceof DnSyntax) throw invalid(dn, err.message);
    throw err;
  }
  const out: string[] = [];
  for (let k = 0; k < spans.length; k += 2) out.push(dn.slice(spans[k], spans[k + 1]));
  return out;
}

/**
 * Why `dn` is not a valid DN for a spec (RFC 4514, strictly: no `;` separators, no quoted values, no
 * escapes of ordinary characters, no empty values), or undefined when it is. Only the syntax: whether the
 * entry exists is the directory's business.
 */
export function checkDn(dn: string): string | undefined {
  try {
    parse(dn, true);
    return undefined;
  } catch (err) {
    if (err instanceof DnSyntax) return err.message;
    throw err;
  }
}

/** Whether `dn` parses (leniently, as AD would accept it) and names something (the empty DN does not). */
export function isValidDn(dn: string): boolean {
  try {
    return parse(dn, false).length > 0;
  } catch {
    return false;
  }
}

/** Escapes an attribute value for use in a DN (RFC 4514 §2.4; also CR and LF, as AD does). */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let k = 0; k < value.length; k++) {
    const c = value[k]!;
    if (c === ',' || c === '+' || c === '"' || c === '\\' || c === '<' || c === '>' || c === ';' || c === '=')
      out += `\\${c}`;
    else if (c === '\0') out += '\\00';
    else if ((c === '#' && k === 0) || (c === ' ' && (k === 0 || k === value.length - 1))) out += `\\${c}`;
    else if (c === '\r' || c === '\n') out += `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return out;
}

/**
 * Names of the attribute types AD uses in DNs, by OID. Only numeric OIDs: `normalizeDn`'s fast path relies on
 * a type that starts with a letter being its own canonical name (lower-cased).
 */
const TYPE_BY_OID = new Map<string, string>([
  ['2.5.4.3', 'cn'],
  ['2.5.4.11', 'ou'],
  ['2.5.4.10', 'o'],
  ['0.9.2342.19200300.100.1.25', 'dc'],
  ['2.5.4.6', 'c'],
  ['2.5.4.7', 'l'],
  ['2.5.4.8', 'st'],
  ['2.5.4.9', 'street'],
  ['0.9.2342.19200300.100.1.1', 'uid'],
]);

/** The canonical spelling of an attribute type: lower-cased, `OID.` dropped, known OIDs as their names. */
export function canonicalType(type: string): string {
  let t = type.toLowerCase();
  if (t.startsWith('oid.')) t = t.slice(4);
  return TYPE_BY_OID.get(t) ?? t;
}

/** Case-folds a value the way AD's case-insensitive string matching does (Unicode, no locale). */
function foldValue(value: string): string {
  return value.normalize('NFC').toLowerCase();
}

function canonicalPart(p: RdnPart): string {
  return `${canonicalType(p.type)}=${p.ber ? p.value : escapeDnValue(foldValue(p.value))}`;
}

function slowNormalize(dn: string): string {
  let rdns: Rdn[];
  try {
    rdns = parse(dn, false);
  } catch (err) {
    if (err instanceof DnSyntax) throw invalid(dn, err.message);
    throw err;
  }
  let out = '';
  for (let k = 0; k < rdns.length; k++) {
    const rdn = rdns[k]!;
    if (k > 0) out += ',';
    out += rdn.length === 1 ? canonicalPart(rdn[0]!) : rdn.map(canonicalPart).sort().join('+');
  }
  return out;
}

// The fast path. A DN of single-valued RDNs whose types are names and whose values need no unescaping,
// escaping or trimming is its own canonical form once lower-cased. Value characters it excludes: controls,
// the specials `"#+,;<=>\`, a leading or trailing space (the lookbehind) and, in PLAIN, anything from U+0300
// up: below U+0300 every string is already NFC (checked exhaustively for single characters and pairs).
// PLAIN_NFC admits the rest, where NFC-normalizing the whole DN equals NFC-normalizing each value: the only
// character that composes with the '=' before a value is U+0338, excluded there; U+037E is excluded because
// NFC turns it into ';', which needs escaping. Both are single anchored regexes, which scan a DN at least
// as fast as the old unanchored "needs work" regex did.
const NOT_VALUE = '\\0-\\x1f"#+,;<=>\\\\';
// Ranges of combining marks are meant: any value with one takes the slow path (NFC may compose it).
const PLAIN_RDN = `[A-Za-z][A-Za-z0-9-]*=[^ ${NOT_VALUE}\\u0300-\\uffff][^${NOT_VALUE}\\u0300-\\uffff]*(?<! )`;
// eslint-disable-next-line no-misleading-character-class -- the ranges are of combining marks, on purpose
const PLAIN = new RegExp(`^${PLAIN_RDN}(?:,${PLAIN_RDN})*$`);
const NFC_RDN = `[A-Za-z][A-Za-z0-9-]*=[^ ${NOT_VALUE}\\u0338\\u037e][^${NOT_VALUE}\\u037e]*(?<! )`;
// eslint-disable-next-line no-misleading-character-class -- as above
const PLAIN_NFC = new RegExp(`^${NFC_RDN}(?:,${NFC_RDN})*$`);

/**
 * The canonical spelling of a DN: types and values lower-cased, types by name, values unescaped and
 * re-escaped minimally, no spaces around separators, multi-valued RDNs sorted. Equal DNs (as AD sees them)
 * give equal strings: `normalizeDn('CN=Smith\2C John ,OU=Staff, DC=Corp')` === `'cn=smith\, john,ou=staff,dc=corp'`.
 * Throws a SourceError (code `dn_invalid`) for a malformed DN; `''` for the empty DN (the root).
 */
export function normalizeDn(dn: string): string {
  // Fast path for the common case: members of big groups come this way (a million values per plan).
  if (PLAIN.test(dn)) return dn.toLowerCase();
  if (PLAIN_NFC.test(dn)) return dn.normalize('NFC').toLowerCase();
  return slowNormalize(dn);
}

/** True when two DNs name the same object as AD sees it. Malformed DNs are never equal to anything. */
export function dnEquals(a: string, b: string): boolean {
  try {
    return normalizeDn(a) === normalizeDn(b);
  } catch {
    return false;
  }
}

/** Whether the `,` at `pos` of a canonical DN is a separator (not `\,`): an even number of backslashes before it. */
function isSeparator(normalizedDn: string, pos: number): boolean {
  let k = pos - 1;
  while (k >= 0 && normalizedDn.charCodeAt(k) === 92) k--;
  return (pos - 1 - k) % 2 === 0;
}

/**
 * Whether normalized `normalizedDn` equals normalized `normalizedBase` or lies beneath it (subtree scope).
 * The empty base (the root) contains everything. Both must be `normalizeDn` results; see `isUnderDn`.
 */
export function isUnder(normalizedDn: string, normalizedBase: string): boolean {
  if (normalizedBase === '') return true;
  const d = normalizedDn.length - normalizedBase.length;
  if (d === 0) return normalizedDn === normalizedBase;
  return (
    d > 0 &&
    normalizedDn.charCodeAt(d - 1) === 44 &&
    normalizedDn.endsWith(normalizedBase) &&
    isSeparator(normalizedDn, d - 1)
  );
}

/** `isUnder` for DNs as written: true when `dn` is `base` or lies under it, compared as AD compares DNs. */
export function isUnderDn(dn: string, base: string): boolean {
  return isUnder(normalizeDn(dn), normalizeDn(base));
}

/** Calls `fn` with the start and end offsets of each RDN of a canonical DN (split on unescaped commas). */
function eachNormalizedRdn(normalizedDn: string, fn: (start: number, end: number) => void): void {
  let start = 0;
  for (let i = 0; i < normalizedDn.length; i++) {
    const c = normalizedDn.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 44) {
      fn(start, i);
      start = i + 1;
    }
  }
  if (normalizedDn.length > 0) fn(start, normalizedDn.length);
}

/**
 * The DNS name of the domain a normalized DN lives in, from its single-valued DC= RDNs
 * (`cn=a,ou=b,dc=corp,dc=example` → `corp.example`; '' when it has none).
 */
export function domainOfDn(normalizedDn: string): string {
  let out = '';
  eachNormalizedRdn(normalizedDn, (s, e) => {
    if (normalizedDn.startsWith('dc=', s)) {
      const label = normalizedDn.slice(s + 3, e);
      if (/(?:^|[^\\])(?:\\\\)*\+/.test(label)) return; // multi-valued RDN
      out += out ? `.${label}` : label;
    }
  });
  return out;
}

/** The value of the first RDN (the object's name), unescaped; `dn` itself when it doesn't parse. */
export function rdnValue(dn: string): string {
  try {
    return parse(dn, false)[0]?.[0]?.value ?? dn;
  } catch {
    return dn;
  }
}

/** The parent of a normalized DN (everything after its first RDN); '' for a single RDN. */
export function parentDn(normalizedDn: string): string {
  // canonical values escape commas, so the first unescaped comma separates the RDN
  for (let i = 0; i < normalizedDn.length; i++) {
    if (normalizedDn[i] === '\\') i++;
    else if (normalizedDn[i] === ',') return normalizedDn.slice(i + 1);
  }
  return '';
}

/** `corp.example` → `DC=corp,DC=example`. */
export function dnFromDnsName(dnsName: string): string {
  return dnsName
    .replace(/\.$/, '')
    .split('.')
    .map((label) => `DC=${escapeDnValue(label)}`)
    .join(',');
}

const isDc = (rdn: Rdn): boolean => rdn.length === 1 && !rdn[0]!.ber && canonicalType(rdn[0]!.type) === 'dc';

/** `OU=Sales,DC=corp,DC=example` → `corp.example`: the DC= components of a DN as written, in order ('' when none). */
export function dnsNameFromDn(dn: string): string {
  return parseDn(dn)
    .filter(isDc)
    .map((rdn) => rdn[0]!.value.toLowerCase())
    .join('.');
}

/**
 * The domain root of a DN as written: its trailing run of DC= RDNs, spelled as in the DN, and its DNS name
 * (undefined when it has none). `domainRootOf('CN=Ann,OU=Staff,DC=corp,DC=example')` →
 * `{ dn: 'DC=corp,DC=example', dnsName: 'corp.example' }`. Throws like parseDn.
 */
export function domainRootOf(dn: string): { dn: string; dnsName: string } | undefined {
  const spans: number[] = [];
  let rdns: Rdn[];
  try {
    rdns = parse(dn, false, spans);
  } catch (err) {
    if (err instanceof DnSyntax) throw invalid(dn, err.message);
    throw err;
  }
  let k = rdns.length;
  while (k > 0 && isDc(rdns[k - 1]!)) k--;
  if (k === rdns.length) return undefined;
  const raw: string[] = [];
  const labels: string[] = [];
  for (let r = k; r < rdns.length; r++) {
    raw.push(dn.slice(spans[2 * r], spans[2 * r + 1]));
    labels.push(rdns[r]![0]!.value.toLowerCase());
  }
  return { dn: raw.join(','), dnsName: labels.join('.') };
}
