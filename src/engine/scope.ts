/**
 * Which source objects are in scope: Entra Connect's out-of-box filters (reference/entra-connect-defaults.md
 * §1, "cloudFiltered"), then the spec's domain, OU, group and attribute filters, ANDed together as Entra
 * Connect combines its filtering methods. Every exclusion carries a reason, so plans and `adsync explain`
 * can say why an object is (or is no longer) synchronized.
 */
import type { DirectoryEntry } from '../model/entry.js';
import { firstString } from '../model/entry.js';
import { domainOfDn, isUnder, normalizeDn, rdnValue } from '../model/dn.js';
import type { ObjectKind } from '../model/target.js';
import type { ScopeSpec } from '../spec/types.js';
import { compileFilter, filterAttributes, parseLdapFilter, type EntryPredicate } from './ldapfilter.js';

export type ScopeVerdict = { included: true } | { included: false; code: string; reason: string };

const IN: ScopeVerdict = { included: true };
const out = (code: string, reason: string): ScopeVerdict => ({ included: false, code, reason });

/** Entra Connect's group member limit (current docs: 250,000; configurable here). */
export const DEFAULT_GROUP_MEMBER_LIMIT = 250_000;

/**
 * The exclusion code of a group over the member limit. As in Entra Connect, a *new* group over the limit is
 * not provisioned, while an existing one stays (its member flow errors): the diff reports it, never deletes it.
 */
export const GROUP_TOO_LARGE = 'group-too-large';

/** The object kind adsync gives an entry, from its objectClass; undefined for everything else (OUs, computers...). */
export function classify(entry: DirectoryEntry): ObjectKind | undefined {
  const classes = entry.attrs.objectclass;
  if (!classes) return undefined;
  let user = false;
  for (const c of classes) {
    const v = (typeof c === 'string' ? c : '').toLowerCase();
    if (v === 'computer') return undefined;
    if (v === 'group') return 'group';
    if (v === 'contact') return 'contact';
    if (v === 'user' || v === 'inetorgperson') user = true;
  }
  return user ? 'user' : undefined;
}

/** Entra Connect's mailEnabled rule for groups and contacts: an SMTP proxy address with '@', or mail with '@'. */
export function isMailEnabled(entry: DirectoryEntry): boolean {
  for (const p of entry.attrs.proxyaddresses ?? []) {
    if (typeof p === 'string' && p.slice(0, 5).toLowerCase() === 'smtp:' && p.includes('@')) return true;
  }
  const mail = firstString(entry, 'mail');
  return mail !== undefined && mail.includes('@');
}

/** groupType bit 0x80000000: a security group. */
export function isSecurityGroup(entry: DirectoryEntry): boolean {
  const t = firstString(entry, 'grouptype');
  return t !== undefined && /^-?\d+$/.test(t.trim()) && (BigInt(t.trim()) & 0x80000000n) !== 0n;
}

function bitSet(entry: DirectoryEntry, attr: string, mask: bigint): boolean {
  const v = firstString(entry, attr)?.trim();
  return v !== undefined && /^-?\d+$/.test(v) && (BigInt(v) & mask) !== 0n;
}

const isConflictObject = (entry: DirectoryEntry) => rdnValue(entry.dn).includes('\nCNF:');
const startsWith = (v: string | undefined, prefix: string) => v !== undefined && v.startsWith(prefix);

/** Entra Connect's default filters ("cloudFiltered" and the inbound scoping filters), per kind. */
export function defaultFilter(
  entry: DirectoryEntry,
  kind: ObjectKind,
  memberLimit = DEFAULT_GROUP_MEMBER_LIMIT,
): ScopeVerdict {
  if (entry.attrs.iscriticalsystemobject)
    return out('critical-system-object', 'isCriticalSystemObject is set (built-in object)');
  if (isConflictObject(entry)) return out('replication-conflict', 'replication-conflict object (CNF: in its name)');
  const sam = firstString(entry, 'samaccountname');
  const nick = firstString(entry, 'mailnickname');
  const adminDescription = firstString(entry, 'admindescription');
  switch (kind) {
    case 'user': {
      if (startsWith(adminDescription, 'User_'))
        return out('admin-description', 'adminDescription starts with "User_"');
      if (sam === undefined) return out('no-samaccountname', 'no sAMAccountName');
      if (sam === 'SUPPORT_388945a0') return out('support-account', 'SUPPORT_388945a0 (legacy support account)');
      if (startsWith(sam, 'AAD_') || startsWith(sam, 'MSOL_'))
        return out('sync-service-account', 'sync service account (AAD_ or MSOL_)');
      if (startsWith(nick, 'SystemMailbox{')) return out('system-mailbox', 'Exchange system mailbox (SystemMailbox{)');
      if ((startsWith(nick, 'CAS_') && nick!.includes('}')) || (startsWith(sam, 'CAS_') && sam.includes('}'))) {
        return out('cas-mailbox', 'Exchange CAS health mailbox (CAS_…})');
      }
      if (bitSet(entry, 'msexchrecipienttypedetails', 0x21c07000n)) {
        return out(
          'exchange-system-recipient',
          'msExchRecipientTypeDetails matches 0x21C07000 (Exchange system object)',
        );
      }
      // "In from AD - User Join": a linked mailbox (msExchRecipientTypeDetails = 2) has no sourceAnchor; its
      // account-forest user is the one provisioned.
      if (firstString(entry, 'msexchrecipienttypedetails')?.trim() === '2')
        return out(
          'linked-mailbox',
          'linked mailbox (msExchRecipientTypeDetails = 2): the account-forest user is synchronized instead',
        );
      // "Out to AAD - User Join" needs accountEnabled, which comes from userAccountControl.
      if (entry.attrs.useraccountcontrol === undefined)
        return out('no-useraccountcontrol', "no userAccountControl (accountEnabled can't be computed)");
      return IN;
    }
    case 'group': {
      if (startsWith(adminDescription, 'Group_'))
        return out('admin-description', 'adminDescription starts with "Group_"');
      if (sam === 'MSOL_AD_Sync_RichCoexistence') return out('sync-service-group', 'MSOL_AD_Sync_RichCoexistence');
      if (bitSet(entry, 'msexchrecipienttypedetails', 0x40000000n)) return out('role-group', 'Exchange role group');
      if (!isSecurityGroup(entry) && !isMailEnabled(entry))
        return out('distribution-not-mail-enabled', 'distribution group that is not mail-enabled');
      const members = entry.attrs.member?.length ?? 0;
      // S1: a group "must have less than 250,000 members": the limit itself is too many
      if (members >= memberLimit)
        return out(
          GROUP_TOO_LARGE,
          `${members} members; a synchronized group must have fewer than ${memberLimit} (objects.group.memberLimit)`,
        );
      return IN;
    }
    case 'contact': {
      const displayName = firstString(entry, 'displayname');
      if (
        displayName?.includes('(MSOL)') &&
        firstString(entry, 'msexchhidefromaddresslists')?.toUpperCase() === 'TRUE'
      ) {
        return out('msol-contact', 'hidden (MSOL) contact');
      }
      if (startsWith(nick, 'CAS_') && nick!.includes('}'))
        return out('cas-mailbox', 'Exchange CAS health mailbox (CAS_…})');
      if (!isMailEnabled(entry)) return out('contact-not-mail-enabled', 'contact that is not mail-enabled');
      return IN;
    }
  }
}

export interface CompiledScope {
  /** Search bases for the connector (normalized DNs); empty = the whole source. */
  baseDns: string[];
  /** The spec's LDAP filter, for the connector to push to the server. */
  filter?: string;
  /** Attributes the scope reads. */
  attributes: string[];
  /** Decides one entry. `pilotMembers` is the set of normalized DNs that are members of the pilot groups. */
  test(entry: DirectoryEntry, normalizedDn: string, pilotMembers: ReadonlySet<string> | undefined): ScopeVerdict;
  pilotGroups: string[];
}

export function compileScope(scope: ScopeSpec): CompiledScope {
  const domains = new Set(scope.domains.map((d) => d.toLowerCase().replace(/\.$/, '')));
  const includes = scope.ous.include.map(normalizeDn);
  const excludes = scope.ous.exclude.map(normalizeDn);
  let predicate: EntryPredicate | undefined;
  let filterAttrs: string[] = [];
  if (scope.filter) {
    const parsed = parseLdapFilter(scope.filter);
    predicate = compileFilter(parsed);
    filterAttrs = filterAttributes(parsed);
  }
  const ruleFor = (ndn: string): { kind: 'include' | 'exclude'; base: string } | undefined => {
    let best: { kind: 'include' | 'exclude'; base: string } | undefined;
    for (const base of includes)
      if (isUnder(ndn, base) && (!best || base.length > best.base.length)) best = { kind: 'include', base };
    for (const base of excludes)
      if (isUnder(ndn, base) && (!best || base.length >= best.base.length)) best = { kind: 'exclude', base };
    return best;
  };
  const pilotGroups = scope.groups.map(normalizeDn);
  return {
    baseDns: includes,
    ...(scope.filter ? { filter: scope.filter } : {}),
    attributes: filterAttrs,
    pilotGroups,
    test(entry, ndn, pilotMembers) {
      if (domains.size > 0) {
        const domain = domainOfDn(ndn);
        if (!domains.has(domain)) return out('domain', `domain ${domain || '(none)'} is not in scope.domains`);
      }
      if (includes.length > 0 || excludes.length > 0) {
        const rule = ruleFor(ndn);
        if (rule?.kind === 'exclude') return out('ou-excluded', `under excluded OU ${rule.base}`);
        if (!rule && includes.length > 0) return out('ou-not-included', 'not under any OU in scope.ous.include');
      }
      if (pilotMembers && !pilotMembers.has(ndn))
        return out('group-filter', 'not a direct member of a scope.groups group');
      if (predicate && !predicate(entry)) return out('filter', `does not match scope.filter ${scope.filter}`);
      return IN;
    },
  };
}

/**
 * Scope entries that matched no entry the source returned: a typo in an excluded OU would otherwise sync what
 * it meant to keep out, silently. One warning per entry, naming it and where it is in the spec.
 */
export function unmatchedScopeEntries(
  sourceIndex: number,
  sourceName: string,
  scope: ScopeSpec,
  entries: readonly DirectoryEntry[],
): string[] {
  type Entry = { path: string; value: string; matches: (ndn: string) => boolean; why: string };
  const pending: Entry[] = [];
  const at = `sources[${sourceIndex}].scope`;
  const safeDn = (dn: string): string | undefined => {
    try {
      return normalizeDn(dn);
    } catch {
      return undefined;
    }
  };
  scope.domains.forEach((d, i) => {
    const domain = d.toLowerCase().replace(/\.$/, '');
    pending.push({
      path: `${at}.domains[${i}]`,
      value: d,
      matches: (ndn) => domainOfDn(ndn) === domain,
      why: 'no object of that domain was read',
    });
  });
  for (const kind of ['include', 'exclude'] as const) {
    scope.ous[kind].forEach((ou, i) => {
      const base = safeDn(ou);
      if (base === undefined) return;
      pending.push({
        path: `${at}.ous.${kind}[${i}]`,
        value: ou,
        matches: (ndn) => isUnder(ndn, base),
        why:
          kind === 'exclude'
            ? 'no object was read under it, so it excludes nothing (a typo would let in what it means to keep out)'
            : 'no object was read under it, so it adds nothing',
      });
    });
  }
  scope.groups.forEach((g, i) => {
    const dn = safeDn(g);
    if (dn === undefined) return;
    pending.push({
      path: `${at}.groups[${i}]`,
      value: g,
      matches: (ndn) => ndn === dn,
      why: 'no such group was read, so none of its members can be in scope',
    });
  });
  let left = pending.slice();
  for (const e of entries) {
    if (left.length === 0) break;
    const ndn = safeDn(e.dn);
    if (ndn === undefined) continue;
    if (left.some((p) => p.matches(ndn))) left = left.filter((p) => !p.matches(ndn));
  }
  return left.map((p) => `${p.path} "${p.value}" matches nothing in source ${sourceName}: ${p.why}`);
}
