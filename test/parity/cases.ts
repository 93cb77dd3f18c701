/**
 * Entra Connect's out-of-box behaviour as a table (reference/entra-connect-defaults.md §1 filters, §2 flows),
 * one case per row. The same cases run through an LDIF export (defaults.test.ts) and through Samba AD
 * (samba.test.ts), so the LDIF and LDAP code paths must agree with the reference and with each other.
 */
import { guid } from '../support/fixtures.js';

export type Kind = 'user' | 'group' | 'contact';

export interface ParityCase {
  /** The reference row this case checks. */
  row: string;
  kind: Kind;
  /** cn (unique per case). */
  cn: string;
  /**
   * Attributes besides the builder's defaults (undefined removes a default). Stand-ins: member `@1`–`@3` (the
   * first one to three helper users), manager `@manager` (the manager's DN), mS-DS-ConsistencyGuid `@guid:consistency`.
   */
  attrs: Record<string, string | string[] | undefined>;
  /**
   * Expected: an exclusion code, a read-only report code, or planned values. In values, `@anchor` is the
   * object's own anchor, `@manager` the manager's, and `{domain}` the DNS name of the source's domain.
   */
  expect: { excluded: string } | { report: string } | { values: Record<string, unknown> };
  /** What Samba AD can't create over LDAP (and no built-in object shows): the Samba run skips the case, saying why. */
  sambaSkip?: string;
  /**
   * The Samba run checks this built-in object (its DN relative to the domain, e.g. `CN=Administrator,CN=Users`)
   * instead of seeding the case: for what only the DC itself sets (isCriticalSystemObject).
   */
  sambaBuiltin?: string;
  /** The case needs a user in the same forest (manager), created first. */
  needs?: 'manager';
}

const SECURITY_GLOBAL = '-2147483646';
const DISTRIBUTION_UNIVERSAL = '8';

/** The default filter table (§1.1 users, §1.2 groups, §1.3 contacts). */
export const FILTER_CASES: ParityCase[] = [
  {
    row: 'user: isCriticalSystemObject present',
    kind: 'user',
    cn: 'pf-critical',
    attrs: { isCriticalSystemObject: 'TRUE' },
    expect: { excluded: 'critical-system-object' },
    sambaBuiltin: 'CN=Administrator,CN=Users',
  },
  {
    row: 'user: sAMAccountName absent',
    kind: 'user',
    cn: 'pf-nosam',
    attrs: { sAMAccountName: undefined },
    expect: { excluded: 'no-samaccountname' },
    sambaSkip: 'AD (and Samba) generates a sAMAccountName for a user added without one and refuses to delete it',
  },
  {
    row: 'user: sAMAccountName == SUPPORT_388945a0',
    kind: 'user',
    cn: 'pf-support',
    attrs: { sAMAccountName: 'SUPPORT_388945a0' },
    expect: { excluded: 'support-account' },
  },
  {
    row: 'user: mailNickname startsWith SystemMailbox{',
    kind: 'user',
    cn: 'pf-sysmbx',
    attrs: { mailNickname: 'SystemMailbox{1f05a927-1234}' },
    expect: { excluded: 'system-mailbox' },
  },
  {
    row: 'user: sAMAccountName startsWith AAD_',
    kind: 'user',
    cn: 'pf-aad',
    attrs: { sAMAccountName: 'AAD_0123abcd' },
    expect: { excluded: 'sync-service-account' },
  },
  {
    row: 'user: sAMAccountName startsWith MSOL_',
    kind: 'user',
    cn: 'pf-msol',
    attrs: { sAMAccountName: 'MSOL_0123abcd' },
    expect: { excluded: 'sync-service-account' },
  },
  {
    row: 'user: mailNickname startsWith CAS_ and contains }',
    kind: 'user',
    cn: 'pf-casnick',
    attrs: { mailNickname: 'CAS_{abc}' },
    expect: { excluded: 'cas-mailbox' },
  },
  {
    row: 'user: sAMAccountName startsWith CAS_ and contains }',
    kind: 'user',
    cn: 'pf-cassam',
    attrs: { sAMAccountName: 'CAS_{ab}' },
    expect: { excluded: 'cas-mailbox' },
  },
  {
    row: 'user: msExchRecipientTypeDetails & 0x21C07000 (SystemMailbox 0x4000)',
    kind: 'user',
    cn: 'pf-exchsys',
    attrs: { msExchRecipientTypeDetails: String(0x4000) },
    expect: { excluded: 'exchange-system-recipient' },
  },
  {
    row: 'user: msExchRecipientTypeDetails & 0x21C07000 (DiscoveryMailbox 0x20000000)',
    kind: 'user',
    cn: 'pf-exchdisc',
    attrs: { msExchRecipientTypeDetails: String(0x20000000) },
    expect: { excluded: 'exchange-system-recipient' },
  },
  {
    row: 'user: msExchRecipientTypeDetails = 1 (user mailbox) is synchronized',
    kind: 'user',
    cn: 'pf-mailbox',
    attrs: { msExchRecipientTypeDetails: '1' },
    expect: { values: { accountEnabled: true } },
  },
  {
    row: 'user: RDN contains \\0ACNF: (replication conflict)',
    kind: 'user',
    cn: 'pf-conflict\nCNF:4a2b7c1e-0000-0000-0000-000000000001',
    attrs: {},
    expect: { excluded: 'replication-conflict' },
  },
  {
    row: 'user: adminDescription startsWith User_',
    kind: 'user',
    cn: 'pf-admindesc',
    attrs: { adminDescription: 'User_hidden' },
    expect: { excluded: 'admin-description' },
  },
  {
    row: 'user: linked mailbox (msExchRecipientTypeDetails = 2) has no sourceAnchor',
    kind: 'user',
    cn: 'pf-linked',
    attrs: { msExchRecipientTypeDetails: '2' },
    expect: { excluded: 'linked-mailbox' },
  },
  {
    row: 'user: userAccountControl absent (accountEnabled ISNOTNULL)',
    kind: 'user',
    cn: 'pf-nouac',
    attrs: { userAccountControl: undefined },
    expect: { excluded: 'no-useraccountcontrol' },
    sambaSkip:
      'AD (and Samba) sets userAccountControl on every user (546 when added without one) and refuses to delete it',
  },
  {
    row: 'user: disabled accounts are synchronized',
    kind: 'user',
    cn: 'pf-disabled',
    attrs: { userAccountControl: '514' },
    expect: { values: { accountEnabled: false } },
  },
  {
    row: 'group: isCriticalSystemObject present',
    kind: 'group',
    cn: 'pg-critical',
    attrs: { isCriticalSystemObject: 'TRUE' },
    expect: { excluded: 'critical-system-object' },
    sambaBuiltin: 'CN=Domain Admins,CN=Users',
  },
  {
    row: 'group: sAMAccountName == MSOL_AD_Sync_RichCoexistence',
    kind: 'group',
    cn: 'pg-richcoex',
    attrs: { sAMAccountName: 'MSOL_AD_Sync_RichCoexistence' },
    expect: { excluded: 'sync-service-group' },
  },
  {
    row: 'group: role group (msExchRecipientTypeDetails & 0x40000000)',
    kind: 'group',
    cn: 'pg-rolegroup',
    attrs: { msExchRecipientTypeDetails: String(0x40000000) },
    expect: { excluded: 'role-group' },
  },
  {
    row: 'group: RDN contains \\0ACNF:',
    kind: 'group',
    cn: 'pg-conflict\nCNF:4a2b7c1e-0000-0000-0000-000000000002',
    attrs: {},
    expect: { excluded: 'replication-conflict' },
  },
  {
    row: 'group: adminDescription startsWith Group_',
    kind: 'group',
    cn: 'pg-admindesc',
    attrs: { adminDescription: 'Group_hidden' },
    expect: { excluded: 'admin-description' },
  },
  {
    row: 'group: distribution group that is not mail-enabled',
    kind: 'group',
    cn: 'pg-dist-nomail',
    attrs: { groupType: DISTRIBUTION_UNIVERSAL },
    expect: { excluded: 'distribution-not-mail-enabled' },
  },
  {
    row: 'group: distribution group with only an X500 address is not mail-enabled',
    kind: 'group',
    cn: 'pg-dist-x500',
    attrs: { groupType: DISTRIBUTION_UNIVERSAL, proxyAddresses: ['X500:/o=Contoso/cn=pg-dist-x500'] },
    expect: { excluded: 'distribution-not-mail-enabled' },
  },
  {
    row: 'group: mail-enabled distribution list (read-only in Graph)',
    kind: 'group',
    cn: 'pg-dist-mail',
    attrs: { groupType: DISTRIBUTION_UNIVERSAL, mail: 'pg-dist-mail@contoso.example' },
    expect: { report: 'graph-readonly-distribution-list' },
  },
  {
    row: 'group: mail-enabled by smtp: proxy address (lower case counts)',
    kind: 'group',
    cn: 'pg-dist-smtp',
    attrs: { groupType: DISTRIBUTION_UNIVERSAL, proxyAddresses: ['smtp:pg-dist-smtp@contoso.example'] },
    expect: { report: 'graph-readonly-distribution-list' },
  },
  {
    row: 'group: mail-enabled security group (read-only in Graph)',
    kind: 'group',
    cn: 'pg-sec-mail',
    attrs: { mail: 'pg-sec-mail@contoso.example' },
    expect: { report: 'graph-readonly-mail-enabled-security-group' },
  },
  {
    row: 'group: security group over the member limit (objects.group.memberLimit: 2)',
    kind: 'group',
    cn: 'pg-toolarge',
    attrs: { member: ['@3'] },
    expect: { excluded: 'group-too-large' },
  },
  {
    // S1: "must have less than 250,000 members": the limit itself is one too many
    row: 'group: exactly objects.group.memberLimit members (2) is over the limit (fewer than the limit sync)',
    kind: 'group',
    cn: 'pg-atlimit',
    attrs: { member: ['@2'] },
    expect: { excluded: 'group-too-large' },
  },
  {
    row: 'group: one member under objects.group.memberLimit is synchronized',
    kind: 'group',
    cn: 'pg-underlimit',
    attrs: { member: ['@1'] },
    expect: { values: { securityEnabled: true } },
  },
  {
    row: 'group: security group is synchronized',
    kind: 'group',
    cn: 'pg-security',
    attrs: {},
    expect: { values: { securityEnabled: true, mailEnabled: false, groupTypes: [] } },
  },
  {
    row: 'contact: isCriticalSystemObject present',
    kind: 'contact',
    cn: 'pc-critical',
    attrs: { isCriticalSystemObject: 'TRUE', mail: 'pc-critical@partner.example' },
    expect: { excluded: 'critical-system-object' },
    sambaSkip:
      'isCriticalSystemObject is system-only (the DC refuses it over LDAP) and no built-in object is a contact',
  },
  {
    row: 'contact: displayName contains (MSOL) and msExchHideFromAddressLists',
    kind: 'contact',
    cn: 'pc-msol',
    attrs: { displayName: 'Sync (MSOL) contact', msExchHideFromAddressLists: 'TRUE', mail: 'pc-msol@partner.example' },
    expect: { excluded: 'msol-contact' },
  },
  {
    row: 'contact: mailNickname startsWith CAS_ and contains }',
    kind: 'contact',
    cn: 'pc-cas',
    attrs: { mailNickname: 'CAS_{x}', mail: 'pc-cas@partner.example' },
    expect: { excluded: 'cas-mailbox' },
  },
  {
    row: 'contact: RDN contains \\0ACNF:',
    kind: 'contact',
    cn: 'pc-conflict\nCNF:4a2b7c1e-0000-0000-0000-000000000003',
    attrs: { mail: 'pc-conflict@partner.example' },
    expect: { excluded: 'replication-conflict' },
  },
  {
    row: 'contact: not mail-enabled',
    kind: 'contact',
    cn: 'pc-nomail',
    attrs: {},
    expect: { excluded: 'contact-not-mail-enabled' },
  },
  {
    row: 'contact: mail-enabled contact (read-only in Graph)',
    kind: 'contact',
    cn: 'pc-mail',
    attrs: { mail: 'pc-mail@partner.example' },
    expect: { report: 'graph-readonly-contact' },
  },
];

const long = 'x'.repeat(500);

/** The default flow table (§2.1 key transformations, §2.2 user outbound, §2.3 groups). */
export const FLOW_CASES: ParityCase[] = [
  {
    row: 'accountEnabled: userAccountControl bit 2 clear → true',
    kind: 'user',
    cn: 'ff-enabled',
    attrs: { userAccountControl: '512' },
    expect: { values: { accountEnabled: true } },
  },
  {
    row: 'accountEnabled: userAccountControl bit 2 set → false',
    kind: 'user',
    cn: 'ff-disabled',
    attrs: { userAccountControl: '514' },
    expect: { values: { accountEnabled: false } },
  },
  {
    row: 'userPrincipalName: as in AD',
    kind: 'user',
    cn: 'ff-upn',
    attrs: { userPrincipalName: 'ff.upn@contoso.example' },
    expect: { values: { userPrincipalName: 'ff.upn@contoso.example' } },
  },
  {
    row: 'userPrincipalName: falls back to sAMAccountName@domain',
    kind: 'user',
    cn: 'ff-upnfallback',
    attrs: { userPrincipalName: undefined, sAMAccountName: 'ffupnfb' },
    expect: { values: { userPrincipalName: 'ffupnfb@{domain}' } },
  },
  {
    row: 'userPrincipalName: unverified suffix → <mailNickname>@<tenant>.onmicrosoft.com (MOERA)',
    kind: 'user',
    cn: 'ff-moera',
    attrs: { userPrincipalName: 'ff.moera@unverified.example', mailNickname: 'ffmoera' },
    expect: { values: { userPrincipalName: 'ffmoera@contoso.onmicrosoft.com' } },
  },
  {
    // IIF(IsNullOrEmpty([displayName]),[cn],[displayName]): no Trim
    row: 'displayName: as in AD, not trimmed',
    kind: 'user',
    cn: 'ff-display',
    attrs: { displayName: '  Ann  Lee ' },
    expect: { values: { displayName: '  Ann  Lee ' } },
  },
  {
    row: 'userPrincipalName: a space → <mailNickname>@<tenant>.onmicrosoft.com (not trimmed, not sent as is)',
    kind: 'user',
    cn: 'ff-upnspace',
    attrs: { userPrincipalName: 'ff upn space@contoso.example', mailNickname: 'ffupnspace' },
    expect: { values: { userPrincipalName: 'ffupnspace@contoso.onmicrosoft.com' } },
  },
  {
    row: 'userPrincipalName: a character Graph refuses → <mailNickname>@<tenant>.onmicrosoft.com',
    kind: 'user',
    cn: 'ff-upnchar',
    attrs: { userPrincipalName: 'ff(upn)@contoso.example', mailNickname: 'ffupnchar' },
    expect: { values: { userPrincipalName: 'ffupnchar@contoso.onmicrosoft.com' } },
  },
  {
    row: 'userPrincipalName: a . just before the @ → <mailNickname>@<tenant>.onmicrosoft.com',
    kind: 'user',
    cn: 'ff-upndot',
    attrs: { userPrincipalName: 'ff.upn.@contoso.example', mailNickname: 'ffupndot' },
    expect: { values: { userPrincipalName: 'ffupndot@contoso.onmicrosoft.com' } },
  },
  {
    row: 'mailNickname: characters Graph accepts for a user are kept (no ASCII folding)',
    kind: 'user',
    cn: 'ff-nickaccent',
    attrs: { mailNickname: 'zoë.müller' },
    expect: { values: { mailNickname: 'zoë.müller' } },
  },
  {
    row: 'employeeType ← employeeType, trimmed (Entra Connect 2.2.1.0)',
    kind: 'user',
    cn: 'ff-emptype',
    attrs: { employeeType: ' Contractor ' },
    expect: { values: { employeeType: 'Contractor' } },
  },
  {
    row: 'displayName: falls back to cn',
    kind: 'user',
    cn: 'ff-displaycn',
    attrs: { displayName: undefined },
    expect: { values: { displayName: 'ff-displaycn' } },
  },
  {
    row: 'givenName / surname (sn): trimmed',
    kind: 'user',
    cn: 'ff-names',
    attrs: { givenName: ' Ann ', sn: ' Lee ' },
    expect: { values: { givenName: 'Ann', surname: 'Lee' } },
  },
  {
    row: 'jobTitle ← title, department, companyName ← company',
    kind: 'user',
    cn: 'ff-job',
    attrs: { title: ' Engineer ', department: 'R&D', company: 'Contoso' },
    expect: { values: { jobTitle: 'Engineer', department: 'R&D', companyName: 'Contoso' } },
  },
  {
    row: 'city ← l, state ← st, country ← co, streetAddress, postalCode',
    kind: 'user',
    cn: 'ff-address',
    attrs: { l: 'Oslo', st: 'Oslo', co: 'Norway', streetAddress: '1 Main St', postalCode: '0150' },
    expect: {
      values: { city: 'Oslo', state: 'Oslo', country: 'Norway', streetAddress: '1 Main St', postalCode: '0150' },
    },
  },
  {
    row: 'businessPhones ← telephoneNumber, mobilePhone ← mobile, faxNumber ← facsimileTelephoneNumber',
    kind: 'user',
    cn: 'ff-phones',
    attrs: { telephoneNumber: '+47 1', mobile: '+47 2', facsimileTelephoneNumber: '+47 3' },
    expect: { values: { businessPhones: ['+47 1'], mobilePhone: '+47 2', faxNumber: '+47 3' } },
  },
  {
    row: 'officeLocation ← physicalDeliveryOfficeName, preferredLanguage',
    kind: 'user',
    cn: 'ff-office',
    attrs: { physicalDeliveryOfficeName: 'HQ', preferredLanguage: 'nb-NO' },
    expect: { values: { officeLocation: 'HQ', preferredLanguage: 'nb-NO' } },
  },
  {
    row: 'employeeId ← employeeID',
    kind: 'user',
    cn: 'ff-employee',
    attrs: { employeeID: ' 000123 ' },
    expect: { values: { employeeId: '000123' } },
  },
  {
    row: 'mail: trimmed',
    kind: 'user',
    cn: 'ff-mail',
    attrs: { mail: ' ff.mail@contoso.example ' },
    expect: { values: { mail: 'ff.mail@contoso.example' } },
  },
  {
    row: 'mailNickname: from mailNickname',
    kind: 'user',
    cn: 'ff-nick',
    attrs: { mailNickname: 'ffnick' },
    expect: { values: { mailNickname: 'ffnick' } },
  },
  {
    row: 'mailNickname: falls back to the primary SMTP address prefix',
    kind: 'user',
    cn: 'ff-nicksmtp',
    attrs: { proxyAddresses: ['smtp:other@contoso.example', 'SMTP:primary.smtp@contoso.example'] },
    expect: { values: { mailNickname: 'primary.smtp' } },
  },
  {
    row: 'mailNickname: falls back to the mail prefix',
    kind: 'user',
    cn: 'ff-nickmail',
    attrs: { mail: 'from.mail@contoso.example' },
    expect: { values: { mailNickname: 'from.mail' } },
  },
  {
    row: 'mailNickname: falls back to the UPN prefix',
    kind: 'user',
    cn: 'ff-nickupn',
    attrs: { userPrincipalName: 'from.upn@contoso.example' },
    expect: { values: { mailNickname: 'from.upn' } },
  },
  {
    row: 'onPremisesImmutableId ← base64(objectGUID)',
    kind: 'user',
    cn: 'ff-anchor',
    attrs: {},
    expect: { values: { onPremisesImmutableId: '@anchor' } },
  },
  {
    row: 'onPremisesImmutableId ← base64(mS-DS-ConsistencyGuid) when present',
    kind: 'user',
    cn: 'ff-consistency',
    attrs: { 'mS-DS-ConsistencyGuid': '@guid:consistency' },
    expect: { values: { onPremisesImmutableId: '@anchor' } },
  },
  {
    row: 'usageLocation ← msExchUsageLocation',
    kind: 'user',
    cn: 'ff-usage',
    attrs: { msExchUsageLocation: 'NO' },
    expect: { values: { usageLocation: 'NO' } },
  },
  {
    row: "manager: DN reference → the manager's object",
    kind: 'user',
    cn: 'ff-report',
    attrs: { manager: '@manager' },
    needs: 'manager',
    expect: { values: { manager: '@manager' } },
  },
  ...Array.from({ length: 15 }, (_, i): ParityCase => ({
    row: `onPremisesExtensionAttributes.extensionAttribute${i + 1} ← extensionAttribute${i + 1}, trimmed`,
    kind: 'user',
    cn: `ff-ext${i + 1}`,
    attrs: { [`extensionAttribute${i + 1}`]: ` value ${i + 1} ` },
    expect: { values: { [`onPremisesExtensionAttributes.extensionAttribute${i + 1}`]: `value ${i + 1}` } },
  })),
  {
    row: 'group: description cut to 448 characters',
    kind: 'group',
    cn: 'fg-description',
    attrs: { description: `  ${long}` },
    expect: { values: { description: 'x'.repeat(448) } },
  },
  {
    row: 'group: displayName falls back to cn',
    kind: 'group',
    cn: 'fg-displaycn',
    attrs: {},
    expect: { values: { displayName: 'fg-displaycn' } },
  },
  {
    row: 'group: displayName as in AD, not trimmed',
    kind: 'group',
    cn: 'fg-display',
    attrs: { displayName: ' Team  Blue ' },
    expect: { values: { displayName: ' Team  Blue ' } },
  },
  {
    row: "group: mailNickname ASCII only (Graph: a group's is ASCII 0–127)",
    kind: 'group',
    cn: 'fg-nickaccent',
    attrs: { mailNickname: 'grüppe' },
    expect: { values: { mailNickname: 'gruppe' } },
  },
  {
    row: 'group: mailNickname from mailNickname',
    kind: 'group',
    cn: 'fg-nick',
    attrs: { mailNickname: 'fg.nick' },
    expect: { values: { mailNickname: 'fgnick' } },
  },
];

export { SECURITY_GLOBAL, DISTRIBUTION_UNIVERSAL };

/** Seeded beside the cases: the manager `@manager` names, and the three members `@3` puts in a group. */
export const MANAGER_CN = 'pm-manager';
export const HELPER_CNS = ['pm-1', 'pm-2', 'pm-3'];

/** The mS-DS-ConsistencyGuid a case's `@guid:consistency` stands for. */
export function consistencyGuid(cn: string): Uint8Array {
  return guid(`consistency-${cn}`);
}

export function samOf(cn: string): string {
  return cn.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 18);
}

/**
 * A case's directory entry as both runners write it (LDIF record, LDAP add): the kind's defaults (an enabled
 * user with a sAMAccountName and UPN, a global security group, a contact), then the case's attributes, with
 * the stand-ins resolved. `dnOf` maps a cn to its DN in the runner's directory.
 */
export function caseAttributes(
  c: Pick<ParityCase, 'kind' | 'cn' | 'attrs'>,
  dnOf: (cn: string) => string,
): Record<string, (string | Uint8Array)[]> {
  const sam = samOf(c.cn);
  const defaults: Record<string, string | string[]> =
    c.kind === 'user'
      ? {
          objectClass: ['top', 'person', 'organizationalPerson', 'user'],
          sAMAccountName: sam,
          userPrincipalName: `${sam}@contoso.example`,
          userAccountControl: '512',
        }
      : c.kind === 'group'
        ? { objectClass: ['top', 'group'], sAMAccountName: sam, groupType: SECURITY_GLOBAL }
        : { objectClass: ['top', 'person', 'organizationalPerson', 'contact'] };
  const out: Record<string, (string | Uint8Array)[]> = {};
  for (const [name, v] of Object.entries({ ...defaults, cn: c.cn, ...c.attrs })) {
    if (v === undefined) continue;
    out[name] = (Array.isArray(v) ? v : [v]).flatMap((value): (string | Uint8Array)[] => {
      if (name === 'member' && /^@[123]$/.test(value)) return HELPER_CNS.slice(0, Number(value.slice(1))).map(dnOf);
      if (name === 'manager' && value === '@manager') return [dnOf(MANAGER_CN)];
      if (name === 'mS-DS-ConsistencyGuid' && value === '@guid:consistency') return [consistencyGuid(c.cn)];
      return [value];
    });
  }
  return out;
}
