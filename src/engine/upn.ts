/**
 * UPN hygiene as Entra does it (entra-connect-defaults §5, S8): a UPN Graph would refuse — a character outside
 * `A-Z a-z 0-9 ' . - _ ! # ^ ~`, a space, a second `@`, a `.` just before the `@`, or too long (64 before the
 * `@`, 48 after, 113 in all: graph-facts §1 UPN rules) — is not trimmed or sent as it is: the user gets the
 * fallback name `<mailNickname>@<initial domain>`, as for a suffix that is not a verified domain.
 */

const ALLOWED_LOCAL = /^[A-Za-z0-9'.\-_!#^~]+$/;
const ALLOWED_DOMAIN = /^[A-Za-z0-9.-]+$/;

/** Why Graph would refuse this UPN, or undefined when it is well-formed (the suffix is checked elsewhere). */
export function upnProblem(upn: string): string | undefined {
  const at = upn.lastIndexOf('@');
  if (at <= 0) return 'has no user part before @';
  const local = upn.slice(0, at);
  const domain = upn.slice(at + 1);
  if (/\s/.test(upn)) return 'contains a space';
  if (local.includes('@')) return 'contains more than one @';
  if (!ALLOWED_LOCAL.test(local)) return "has a character Graph doesn't allow (only A-Z a-z 0-9 ' . - _ ! # ^ ~)";
  if (local.endsWith('.')) return 'has a . just before the @';
  if (!ALLOWED_DOMAIN.test(domain)) return "has a character Graph doesn't allow in its domain";
  if (local.length > 64) return `has ${local.length} characters before the @ (Graph: at most 64)`;
  if (domain.length > 48) return `has ${domain.length} characters after the @ (Graph: at most 48)`;
  if (upn.length > 113) return `has ${upn.length} characters (Graph: at most 113)`;
  return undefined;
}

/**
 * The user part of a fallback name built from a mailNickname: the characters a UPN allows (accents folded,
 * others dropped; no `.` at the end), at most 64. Undefined when nothing is left.
 */
export function fallbackLocalPart(nickname: string): string | undefined {
  const s = nickname
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9'.\-_!#^~]/g, '')
    .slice(0, 64)
    .replace(/\.+$/, '');
  return s === '' ? undefined : s;
}
