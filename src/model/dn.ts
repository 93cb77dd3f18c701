/**
 * Distinguished names compared the way AD compares them: attribute types and values case-insensitive,
 * escapes (`\,` and `\2C`) equivalent, insignificant spaces around separators ignored, non-ASCII by its
 * characters. `normalizeDn` gives one canonical string per DN, so a group's `member` value and the member's
 * own DN always meet in a Map.
 */

export interface Rdn {
  type: string;
  value: string;
}

const SPECIAL = new Set([',', '+', '"', '\\', '<', '>', ';', '=', '#']);

/** Splits a DN (RFC 4514, as AD writes it) into RDNs with unescaped values. Throws on a malformed DN. */
export function parseDn(dn: string): Rdn[][] {
  const rdns: Rdn[][] = [];
  let current: Rdn[] = [];
  let type = '';
  let value: number[] | null = null; // UTF-8 bytes of the value being read; null while reading the type
  let raw = '';
  let trailingSpaces = 0; // unescaped trailing spaces in the value, trimmed at the end
  const flushAva = () => {
    if (value === null) throw new Error(`malformed DN "${dn}": '${raw.trim()}' has no '='`);
    const t = type.trim();
    if (!t) throw new Error(`malformed DN "${dn}": empty attribute type`);
    const bytes = value.slice(0, value.length - trailingSpaces);
    current.push({ type: t, value: Buffer.from(bytes).toString('utf8') });
    type = '';
    value = null;
    raw = '';
    trailingSpaces = 0;
  };
  const src = Buffer.from(dn, 'utf8');
  if (dn.trim() === '') return [];
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    const ch = String.fromCharCode(b);
    raw += ch;
    if (value === null) {
      if (ch === '=') value = [];
      else if (ch === ',' || ch === '+') throw new Error(`malformed DN "${dn}": '${raw.trim()}' has no '='`);
      else type += ch;
      continue;
    }
    if (ch === '\\') {
      const next = src[i + 1];
      if (next === undefined) throw new Error(`malformed DN "${dn}": trailing backslash`);
      const hex = src.subarray(i + 1, i + 3).toString('latin1');
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        value.push(parseInt(hex, 16));
        i += 2;
      } else {
        value.push(next);
        i += 1;
      }
      trailingSpaces = 0;
      continue;
    }
    if (ch === ',' || ch === ';') {
      flushAva();
      rdns.push(current);
      current = [];
      continue;
    }
    if (ch === '+') {
      flushAva();
      continue;
    }
    if (ch === ' ' && value.length === 0) continue; // leading insignificant space
    value.push(b);
    trailingSpaces = ch === ' ' ? trailingSpaces + 1 : 0;
  }
  flushAva();
  rdns.push(current);
  return rdns;
}

function escapeValue(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    if (SPECIAL.has(ch) && !(ch === '#' && i > 0)) out += `\\${ch}`;
    else if (ch === ' ' && (i === 0 || i === v.length - 1)) out += '\\ ';
    else out += ch;
  }
  return out;
}

const FAST = /^[^\\"+;#<>]*$/;
/** Anything that needs more than lower-casing: escapes, multi-valued RDNs, spaces around separators. */
const NEEDS_WORK = /[\\"+;#<>]| [,=]|[,=] |^ | $/;

/** The canonical, lower-cased form of a DN. Equal DNs (as AD sees them) give equal strings. */
export function normalizeDn(dn: string): string {
  // Fast paths for the common case (no escapes, no multi-valued RDNs): members of big groups come this way.
  if (!NEEDS_WORK.test(dn)) return dn.toLowerCase();
  if (FAST.test(dn)) {
    let out = '';
    for (const part of dn.split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) return slowNormalize(dn);
      if (out) out += ',';
      out += `${part.slice(0, eq).trim()}=${part.slice(eq + 1).trim()}`;
    }
    return out.toLowerCase();
  }
  return slowNormalize(dn);
}

function slowNormalize(dn: string): string {
  return parseDn(dn)
    .map((rdn) =>
      rdn
        .map((ava) => `${ava.type.toLowerCase()}=${escapeValue(ava.value.toLowerCase())}`)
        .sort()
        .join('+'),
    )
    .join(',');
}

export function isValidDn(dn: string): boolean {
  try {
    return parseDn(dn).length > 0;
  } catch {
    return false;
  }
}

/** Whether normalized `dn` equals normalized `base` or lies beneath it. */
export function isUnder(normalizedDn: string, normalizedBase: string): boolean {
  return normalizedDn === normalizedBase || normalizedDn.endsWith(`,${normalizedBase}`);
}

/** The DNS name of the domain a DN lives in, from its DC= components (DC=corp,DC=example → corp.example). */
export function domainOfDn(normalizedDn: string): string {
  const parts: string[] = [];
  for (const rdn of normalizedDn.split(',')) if (rdn.startsWith('dc=')) parts.push(rdn.slice(3));
  return parts.join('.');
}

/** The value of the first RDN (the object's name), unescaped. */
export function rdnValue(dn: string): string {
  try {
    return parseDn(dn)[0]?.[0]?.value ?? dn;
  } catch {
    return dn;
  }
}

/** The parent DN (everything after the first RDN), as written. */
export function parentDn(normalizedDn: string): string {
  // normalized DNs escape commas, so the first unescaped comma separates the RDN
  for (let i = 0; i < normalizedDn.length; i++) {
    if (normalizedDn[i] === '\\') i++;
    else if (normalizedDn[i] === ',') return normalizedDn.slice(i + 1);
  }
  return '';
}
