/**
 * An independent model of what Entra Connect (with the Entra service) leaves in a tenant, written from
 * ../shared/reference/entra-connect-defaults.md (§1 scope, §2 flows, §5 UPN fallback and mailNickname) and the
 * rule export (entra-connect-rules-flows.csv). It imports nothing from src/ — the zero-churn test compares
 * adsync's first plan against it, so a bug in the engine can't hide in the model too.
 *
 * In: AD entries (from an LDIF export or an LDAP search) plus the history Entra Connect saw (the mail a user had
 * when it was created, usage locations set in the cloud). Out: the emulator fixture of the converted tenant
 * (Entra Connect turned off: onPremisesSyncEnabled false, onPremisesImmutableId and the SIDs kept).
 */
import { createHash } from 'node:crypto';

export type Value = string | Buffer;

export interface AdEntry {
  dn: string;
  /** Lower-cased attribute name → values. */
  attrs: Map<string, Value[]>;
}

/** A minimal ldifde reader: `name: value`, `name:: base64`, folded lines, `#` comments. */
export function parseLdifEntries(text: string): AdEntry[] {
  const out: AdEntry[] = [];
  const unfolded = text.replace(/\r\n/g, '\n').replace(/\n /g, '');
  for (const block of unfolded.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    if (lines.length === 0 || lines[0]!.startsWith('version:')) continue;
    let dn = '';
    const attrs = new Map<string, Value[]>();
    for (const l of lines) {
      const m = /^([A-Za-z0-9-;]+)(::?) ?(.*)$/.exec(l);
      if (!m) continue;
      const name = m[1]!.toLowerCase();
      const raw = m[2] === '::' ? Buffer.from(m[3]!, 'base64') : m[3]!;
      if (name === 'dn') dn = typeof raw === 'string' ? raw : raw.toString('utf8');
      else if (name !== 'changetype') attrs.set(name, [...(attrs.get(name) ?? []), raw]);
    }
    if (dn) out.push({ dn, attrs });
  }
  return out;
}

const str = (e: AdEntry, name: string): string | undefined => {
  const v = e.attrs.get(name.toLowerCase())?.[0];
  return v === undefined ? undefined : typeof v === 'string' ? v : v.toString('utf8');
};
const bin = (e: AdEntry, name: string): Buffer | undefined => {
  const v = e.attrs.get(name.toLowerCase())?.[0];
  return v === undefined ? undefined : typeof v === 'string' ? Buffer.from(v, 'latin1') : v;
};
const all = (e: AdEntry, name: string): string[] =>
  (e.attrs.get(name.toLowerCase()) ?? []).map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
const classes = (e: AdEntry): string[] => all(e, 'objectClass').map((c) => c.toLowerCase());
/** Entra Connect's Trim(): null when nothing is left. */
const trim = (v: string | undefined): string | undefined => {
  const t = v?.trim();
  return t ? t : undefined;
};
const nonEmpty = (v: string | undefined): string | undefined => (v ? v : undefined);
const localPart = (v: string | undefined): string | undefined => (v && v.includes('@') ? v.split('@')[0] : v);

/** MS-DTYP §2.4.2.2, written here again: revision, 48-bit big-endian authority, little-endian sub-authorities. */
export function sidString(b: Buffer): string {
  const n = b[1]!;
  let authority = 0;
  for (let i = 2; i < 8; i++) authority = authority * 256 + b[i]!;
  const subs = Array.from({ length: n }, (_, i) => b.readUInt32LE(8 + 4 * i));
  return ['S', b[0], authority, ...subs].join('-');
}

const normDn = (dn: string): string => dn.toLowerCase().replace(/\s*,\s*/g, ',');
const under = (dn: string, base: string): boolean =>
  normDn(dn) === normDn(base) || normDn(dn).endsWith(`,${normDn(base)}`);

export interface History {
  /** cn → the mail the user had when Entra Connect created it (its alias was made from that). */
  mailAtCreation?: Record<string, string>;
  /** cn → the mailNickname AD had when Entra Connect created the user. */
  nicknameAtCreation?: Record<string, string>;
  /** cn → a usage location an admin set in the cloud (AD has none). */
  cloudUsageLocation?: Record<string, string>;
}

export interface ModelOptions {
  include: string;
  exclude?: string[];
  /** The forest's DNS domain (the UPN fallback sAMAccountName@domain). */
  forestDomain: string;
  verifiedDomains: string[];
  initialDomain: string;
  history?: History;
}

export interface ModelObject {
  cn: string;
  dn: string;
  anchor: string;
  key: string;
  fixture: Record<string, unknown>;
}

/** The converted tenant Entra Connect leaves, as an emulator fixture, with the users and groups it holds. */
export function entraConnectTenant(
  entries: readonly AdEntry[],
  o: ModelOptions,
): { fixture: Record<string, unknown>; users: ModelObject[]; groups: ModelObject[] } {
  const inScope = (e: AdEntry): boolean => under(e.dn, o.include) && !(o.exclude ?? []).some((x) => under(e.dn, x));
  const h = o.history ?? {};
  const users: ModelObject[] = [];
  const groups: ModelObject[] = [];
  const keyOf = new Map<string, string>();
  const anchorOf = (e: AdEntry): string =>
    (bin(e, 'mS-DS-ConsistencyGuid') ?? bin(e, 'objectGUID')!).toString('base64');
  const cnOf = (e: AdEntry): string => str(e, 'cn') ?? e.dn;
  const key = (e: AdEntry, i: number): string => `o${i}-${cnOf(e).replace(/[^A-Za-z0-9]/g, '')}`;

  // §1.1 users
  const userEntries = entries.filter((e) => {
    const c = classes(e);
    if (!c.includes('user') || c.includes('computer') || !inScope(e)) return false;
    const sam = str(e, 'sAMAccountName');
    const nick = str(e, 'mailNickname') ?? '';
    return (
      str(e, 'isCriticalSystemObject') === undefined &&
      sam !== undefined &&
      sam !== 'SUPPORT_388945a0' &&
      !nick.startsWith('SystemMailbox{') &&
      !/^(AAD_|MSOL_)/.test(sam) &&
      str(e, 'userAccountControl') !== undefined
    );
  });
  // §1.2 groups: security groups; a mail-enabled one is read-only in Graph (left out of this model)
  const groupEntries = entries.filter((e) => {
    if (!classes(e).includes('group') || !inScope(e) || str(e, 'isCriticalSystemObject') !== undefined) return false;
    const security = (Number(str(e, 'groupType') ?? '0') & 0x80000000) !== 0;
    const mailEnabled = str(e, 'mail')?.includes('@') || all(e, 'proxyAddresses').some((p) => /^smtp:/i.test(p));
    return security && !mailEnabled && (e.attrs.get('member')?.length ?? 0) < 250_000;
  });
  [...userEntries, ...groupEntries].forEach((e, i) => keyOf.set(normDn(e.dn), key(e, i)));

  for (const e of userEntries) {
    const cn = cnOf(e);
    const mail = trim(str(e, 'mail'));
    const primary = all(e, 'proxyAddresses')
      .find((p) => p.startsWith('SMTP:'))
      ?.slice(5);
    const adUpn = nonEmpty(str(e, 'userPrincipalName')) ?? `${str(e, 'sAMAccountName')}@${o.forestDomain}`;
    // §5: mailNickname on first sync: on-premises mailNickname, primary SMTP prefix, mail prefix, UPN prefix
    const mailThen = h.mailAtCreation?.[cn] ?? mail;
    const nickname =
      h.nicknameAtCreation?.[cn] ??
      trim(str(e, 'mailNickname')) ??
      localPart(primary) ??
      localPart(mailThen) ??
      localPart(adUpn) ??
      str(e, 'sAMAccountName')!;
    // §5: a suffix that is not verified, or a character Graph refuses → <mailNickname>@<initial domain>
    const suffix = adUpn.slice(adUpn.lastIndexOf('@') + 1).toLowerCase();
    const valid = /^[A-Za-z0-9'.\-_!#^~]+@[A-Za-z0-9.-]+$/.test(adUpn) && !adUpn.includes('.@');
    const upn = o.verifiedDomains.includes(suffix) && valid ? adUpn : `${nickname}@${o.initialDomain}`;
    const uac = Number(str(e, 'userAccountControl'));
    const props: Record<string, unknown> = {
      key: keyOf.get(normDn(e.dn)),
      userPrincipalName: upn,
      displayName: nonEmpty(str(e, 'displayName')) ?? cn,
      mailNickname: nickname,
      accountEnabled: (uac & 2) === 0,
      onPremisesSyncEnabled: false,
      onPremisesImmutableId: anchorOf(e),
    };
    const sid = bin(e, 'objectSid');
    if (sid) props['onPremisesSecurityIdentifier'] = sidString(sid);
    const flows: [string, string | undefined][] = [
      ['givenName', trim(str(e, 'givenName'))],
      ['surname', trim(str(e, 'sn'))],
      ['jobTitle', trim(str(e, 'title'))],
      ['department', trim(str(e, 'department'))],
      ['companyName', trim(str(e, 'company'))],
      ['city', trim(str(e, 'l'))],
      ['state', trim(str(e, 'st'))],
      ['country', trim(str(e, 'co'))],
      ['streetAddress', trim(str(e, 'streetAddress'))],
      ['postalCode', trim(str(e, 'postalCode'))],
      ['mobilePhone', trim(str(e, 'mobile'))],
      ['officeLocation', trim(str(e, 'physicalDeliveryOfficeName'))],
      ['preferredLanguage', trim(str(e, 'preferredLanguage'))],
      ['employeeId', trim(str(e, 'employeeID'))],
      ['employeeType', trim(str(e, 'employeeType'))],
      ['mail', mail],
      // "Out to AAD - User Join": IIF(IsNullOrEmpty([usageLocation]),IgnoreThisFlow,[usageLocation])
      ['usageLocation', trim(str(e, 'msExchUsageLocation')) ?? h.cloudUsageLocation?.[cn]],
    ];
    for (const [name, v] of flows) if (v !== undefined) props[name] = v;
    const phone = trim(str(e, 'telephoneNumber'));
    if (phone) props['businessPhones'] = [phone];
    if (mail)
      props['proxyAddresses'] = [`SMTP:${mail}`, ...(mailThen !== mail && mailThen ? [`smtp:${mailThen}`] : [])];
    const ext: Record<string, string> = {};
    for (let i = 1; i <= 15; i++) {
      const v = trim(str(e, `extensionAttribute${i}`));
      if (v) ext[`extensionAttribute${i}`] = v;
    }
    if (Object.keys(ext).length > 0) props['onPremisesExtensionAttributes'] = ext;
    users.push({ cn, dn: e.dn, anchor: anchorOf(e), key: String(props['key']), fixture: props });
  }
  for (const u of users) {
    const m = str(
      entries.find((e) => e.dn === u.dn)!,
      'manager',
    );
    const k = m ? keyOf.get(normDn(m)) : undefined;
    if (k && users.some((x) => x.key === k)) u.fixture['manager'] = k;
  }
  for (const e of groupEntries) {
    const cn = cnOf(e);
    const sid = bin(e, 'objectSid');
    const props: Record<string, unknown> = {
      key: keyOf.get(normDn(e.dn)),
      displayName: nonEmpty(str(e, 'displayName')) ?? cn,
      // a security group's alias is Entra's own (Entra Connect flows mailNickname only for mail-enabled groups)
      mailNickname: `SG${createHash('sha256').update(e.dn).digest('hex').slice(0, 10)}`,
      securityEnabled: true,
      mailEnabled: false,
      onPremisesSyncEnabled: false,
      members: all(e, 'member')
        .map((m) => keyOf.get(normDn(m)))
        .filter((k): k is string => k !== undefined),
    };
    const description = all(e, 'description')[0];
    if (trim(description)) props['description'] = trim(description)!.slice(0, 448);
    if (sid) props['onPremisesSecurityIdentifier'] = sidString(sid);
    groups.push({ cn, dn: e.dn, anchor: anchorOf(e), key: String(props['key']), fixture: props });
  }
  const fixture = {
    version: 1,
    tenant: { displayName: 'Converted from Entra Connect', domains: o.verifiedDomains },
    users: users.map((u) => u.fixture),
    groups: groups.map((g) => g.fixture),
  };
  return { fixture, users, groups };
}
