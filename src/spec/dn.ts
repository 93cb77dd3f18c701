/**
 * Syntax check of an RFC 4514 distinguished name, e.g. `OU=Staff,DC=corp,DC=example`. Only the syntax: whether
 * the entry exists is the directory's business. Returns an error message, or undefined when the DN is valid.
 */
const ATTR_TYPE = /^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;
const SPECIAL = new Set([' ', '"', '#', '+', ',', ';', '<', '=', '>', '\\']);

export function checkDn(dn: string): string | undefined {
  if (dn.trim() === '') return 'empty DN';
  // Split into RDNs and attribute-value assertions on unescaped ',' and '+'.
  const avas: string[] = [];
  let cur = '';
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]!;
    if (ch === '\\') {
      const next = dn[i + 1];
      if (next === undefined) return `dangling '\\' at the end of the DN`;
      if (SPECIAL.has(next)) {
        cur += ch + next;
        i += 1;
        continue;
      }
      const hex = dn.slice(i + 1, i + 3);
      if (!HEX2.test(hex)) return `invalid escape '\\${next}' (escape one of ${[...SPECIAL].join('')} or write two hex digits)`;
      cur += ch + hex;
      i += 2;
      continue;
    }
    if (ch === ',' || ch === '+') {
      avas.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  avas.push(cur);
  for (const ava of avas) {
    const eq = ava.indexOf('=');
    if (ava.trim() === '') return 'empty RDN (two separators in a row, or one at an end)';
    if (eq < 0) return `'${ava.trim()}' is not attribute=value`;
    const type = ava.slice(0, eq).trim();
    const value = ava.slice(eq + 1).trim();
    if (!ATTR_TYPE.test(type)) return `'${type}' is not an attribute type`;
    if (value === '') return `${type}= has no value`;
    if (value.startsWith('#')) {
      if (!/^#(?:[0-9A-Fa-f]{2})+$/.test(value)) return `${type}=${value}: a value starting with # must be hex (escape it as \\#)`;
      continue;
    }
    // Unescaped characters that RFC 4514 requires to be escaped.
    const bare = value.replace(/\\(?:[0-9A-Fa-f]{2}|.)/g, '');
    const bad = /["+,;<>\\]/.exec(bare);
    if (bad) return `${type}=${value}: '${bad[0]}' must be escaped`;
  }
  return undefined;
}
