/**
 * Distinguished names compared the way Active Directory compares them (RFC 4514 syntax, MS-ADTS matching):
 * attribute types and values are case-insensitive; `\,`, `\2C` and `\2c` are the same character; unescaped
 * spaces around `=`, `,` and `+` don't count while escaped ones do; hex escapes are UTF-8 bytes; `#hex` is a
 * BER value; the order of a multi-valued RDN's parts doesn't matter. `normalizeDn` gives one canonical spelling
 * (lower-cased, minimally escaped), so a group's `member` value and the member's own DN always meet.
 */
import { SourceError } from '../../errors.js';

export interface RdnPart {
  /** Attribute type as written (e.g. `CN`, `ou`, `2.5.4.3`). */
  type: string;
  /** The value, unescaped; for a BER value (`#hex`), the lower-cased hex with its `#`. */
  value: string;
  /** The value was written as `#hex` (BER), not as a string. */
  ber?: true;
}

/** One RDN: usually a single part; `CN=a+UID=b` has two. */
export type Rdn = RdnPart[];

const HEX = /^[0-9a-fA-F]{2}$/;

function invalid(dn: string, why: string): SourceError {
  return new SourceError('dn_invalid', `invalid distinguished name ${JSON.stringify(dn)}: ${why}`, {
    hint: 'write DNs as AD shows them, e.g. OU=Sales,DC=corp,DC=example (escape , + " \\ < > ; with a backslash)',
  });
}

/** Parses an RFC 4514 DN into RDNs (leftmost first). Throws SourceError `dn_invalid` on bad syntax. */
export function parseDn(dn: string): Rdn[] {
  const rdns: Rdn[] = [];
  if (dn.trim() === '') return rdns;
  let i = 0;
  const n = dn.length;
  let rdn: Rdn = [];
  const skipSpaces = () => {
    while (i < n && dn[i] === ' ') i++;
  };
  for (;;) {
    skipSpaces();
    // attribute type
    const typeStart = i;
    while (i < n && dn[i] !== '=' && dn[i] !== ',' && dn[i] !== '+') i++;
    if (i >= n || dn[i] !== '=') throw invalid(dn, `expected "=" after ${JSON.stringify(dn.slice(typeStart, i).trim() || '(nothing)')}`);
    const type = dn.slice(typeStart, i).trim();
    if (!/^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)*)$/.test(type.replace(/^oid\./i, ''))) throw invalid(dn, `bad attribute type ${JSON.stringify(type)}`);
    i++; // '='
    skipSpaces();
    let value = '';
    let ber = false;
    if (dn[i] === '#') {
      ber = true;
      // BER-encoded value: '#' followed by hex pairs.
      const start = i;
      i++;
      while (i < n && /[0-9a-fA-F]/.test(dn[i]!)) i++;
      value = dn.slice(start, i).toLowerCase();
      if ((value.length - 1) % 2 !== 0 || value.length === 1) throw invalid(dn, 'bad #hex value');
      skipSpaces();
    } else if (dn[i] === '"') {
      // Quoted value (RFC 2253 legacy): everything up to the closing quote, backslash escapes honoured.
      i++;
      while (i < n && dn[i] !== '"') {
        if (dn[i] === '\\' && i + 1 < n) {
          value += dn[i + 1];
          i += 2;
        } else value += dn[i++];
      }
      if (dn[i] !== '"') throw invalid(dn, 'unterminated quoted value');
      i++;
      skipSpaces();
    } else {
      const bytes: number[] = [];
      let pendingSpaces = 0; // unescaped spaces: significant only if followed by more value
      const flushBytes = () => {
        if (bytes.length) {
          value += Buffer.from(bytes).toString('utf8');
          bytes.length = 0;
        }
      };
      while (i < n && dn[i] !== ',' && dn[i] !== '+' && dn[i] !== ';') {
        const c = dn[i]!;
        if (c === '\\') {
          const pair = dn.slice(i + 1, i + 3);
          if (HEX.test(pair)) {
            if (pendingSpaces) {
              flushBytes();
              value += ' '.repeat(pendingSpaces);
              pendingSpaces = 0;
            }
            bytes.push(parseInt(pair, 16));
            i += 3;
            continue;
          }
          // `\,` and friends; AD also accepts an escaped ordinary character and keeps it.
          const next = dn[i + 1];
          if (next === undefined) throw invalid(dn, 'trailing backslash');
          flushBytes();
          if (pendingSpaces) {
            value += ' '.repeat(pendingSpaces);
            pendingSpaces = 0;
          }
          value += next;
          i += 2;
          continue;
        }
        if (c === ' ') {
          pendingSpaces++;
          i++;
          continue;
        }
        flushBytes();
        if (pendingSpaces) {
          value += ' '.repeat(pendingSpaces);
          pendingSpaces = 0;
        }
        value += c;
        i++;
      }
      flushBytes();
      // trailing unescaped spaces are dropped
    }
    rdn.push(ber ? { type, value, ber: true } : { type, value });
    if (i >= n) {
      rdns.push(rdn);
      break;
    }
    const sep = dn[i];
    i++;
    if (sep === '+') continue;
    rdns.push(rdn);
    rdn = [];
    if (i >= n) throw invalid(dn, 'ends with a separator');
  }
  return rdns;
}

/** Escapes an attribute value for use in a DN (RFC 4514 §2.4). */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let k = 0; k < value.length; k++) {
    const c = value[k]!;
    if (c === ',' || c === '+' || c === '"' || c === '\\' || c === '<' || c === '>' || c === ';' || c === '=') out += `\\${c}`;
    else if (c === '\0') out += '\\00';
    else if ((c === '#' && k === 0) || (c === ' ' && (k === 0 || k === value.length - 1))) out += `\\${c}`;
    else if (c === '\r' || c === '\n') out += `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return out;
}

const TYPE_ALIASES: Record<string, string> = {
  '2.5.4.3': 'cn',
  '2.5.4.11': 'ou',
  '2.5.4.10': 'o',
  '0.9.2342.19200300.100.1.25': 'dc',
  '2.5.4.6': 'c',
  '2.5.4.7': 'l',
  '2.5.4.8': 'st',
  '2.5.4.9': 'street',
};

function canonicalType(type: string): string {
  const t = type.toLowerCase().replace(/^oid\./, '');
  return TYPE_ALIASES[t] ?? t;
}

/** Case-folds a value the way AD's case-insensitive string matching does (Unicode, no locale). */
function foldValue(value: string): string {
  return value.normalize('NFC').toLowerCase();
}

/** One canonical spelling of a DN: lower-cased types and values, minimal escaping, RDN parts sorted. */
export function normalizeDn(dn: string): string {
  return parseDn(dn)
    .map((rdn) =>
      rdn
        .map((p) => `${canonicalType(p.type)}=${p.ber ? p.value : escapeDnValue(foldValue(p.value))}`)
        .sort()
        .join('+'),
    )
    .join(',');
}

/** True when two DNs name the same object as AD sees it. Malformed DNs are never equal to anything. */
export function dnEquals(a: string, b: string): boolean {
  try {
    return normalizeDn(a) === normalizeDn(b);
  } catch {
    return false;
  }
}

/** True when `dn` is `base` or lies under it. */
export function isUnderDn(dn: string, base: string): boolean {
  const d = normalizeDn(dn);
  const b = normalizeDn(base);
  return b === '' || d === b || d.endsWith(`,${b}`);
}

/** `corp.example` → `DC=corp,DC=example`. */
export function dnFromDnsName(dnsName: string): string {
  return dnsName
    .replace(/\.$/, '')
    .split('.')
    .map((label) => `DC=${escapeDnValue(label)}`)
    .join(',');
}

/** `DC=corp,DC=example` → `corp.example` (the DC= components of a DN, in order; '' when none). */
export function dnsNameFromDn(dn: string): string {
  return parseDn(dn)
    .filter((rdn) => rdn.length === 1 && canonicalType(rdn[0]!.type) === 'dc')
    .map((rdn) => rdn[0]!.value.toLowerCase())
    .join('.');
}
