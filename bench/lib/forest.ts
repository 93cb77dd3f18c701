/**
 * A deterministic synthetic AD forest, written as `ldifde -f` writes an export: `changetype: add` records,
 * binary and non-ASCII values as `::` base64, lines folded at 76 columns.
 *
 * Layout of the domain (DC=corp,DC=example by default):
 *   OU=People            OU=Staff (most users), OU=Contractors (nested OUs, in scope)
 *   OU=Groups            security groups;  OU=Distribution Lists,OU=Groups: mail-enabled distribution groups
 *   OU=Contacts          a few mail contacts
 *   OU=Service Accounts  0.5% of the users, never group members: the OU a spec excludes (out of scope)
 * Memberships (`member` values) total exactly `memberships`: group-in-group nesting first, then users drawn
 * from the in-scope users with a Zipf-like spread (a few very large groups, many small ones).
 * The same options and seed always give the same bytes.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

export interface ForestOptions {
  users: number;
  groups: number;
  memberships: number;
  /** PRNG seed (default 1). */
  seed?: number;
  /** DNS name of the domain (default corp.example). */
  domain?: string;
}

export interface ForestSummary {
  domainDn: string;
  users: number;
  /** Users in OU=Service Accounts (the out-of-scope OU). */
  serviceAccounts: number;
  disabledUsers: number;
  usersWithConsistencyGuid: number;
  groups: number;
  distributionGroups: number;
  contacts: number;
  ous: number;
  /** Total `member` values, = options.memberships. */
  memberships: number;
  /** Of those, values that name another group. */
  nestedMemberships: number;
  /** DNs of the OUs, by role. */
  staffOu: string;
  contractorsOu: string;
  serviceAccountsOu: string;
}

const GIVEN = [
  'Olivia',
  'Liam',
  'Emma',
  'Noah',
  'Ava',
  'Oliver',
  'Sophia',
  'Elijah',
  'Isabella',
  'James',
  'Mia',
  'William',
  'Amelia',
  'Benjamin',
  'Harper',
  'Lucas',
  'Evelyn',
  'Henry',
  'Abigail',
  'Alexander',
  'Emily',
  'Daniel',
  'Ella',
  'Michael',
  'Grace',
  'Mateo',
  'Chloe',
  'Samuel',
  'Priya',
  'Arjun',
  'Mei',
  'Hiroshi',
  'Fatima',
  'Omar',
  'José',
  'Zoë',
  'Søren',
  'Björn',
  'Łukasz',
  'Chloé',
  'Renée',
  'Jürgen',
];
const SURNAME = [
  'Smith',
  'Johnson',
  'Williams',
  'Brown',
  'Jones',
  'Garcia',
  'Miller',
  'Davis',
  'Rodriguez',
  'Martinez',
  'Lee',
  'Walker',
  'Hall',
  'Allen',
  'Young',
  'King',
  'Wright',
  'Scott',
  'Green',
  'Baker',
  'Adams',
  'Nelson',
  'Hill',
  'Campbell',
  'Mitchell',
  'Roberts',
  'Carter',
  'Phillips',
  'Evans',
  'Turner',
  'Patel',
  'Nguyen',
  'Kim',
  'Chen',
  'Müller',
  'Núñez',
  'Østergaard',
  'Dąbrowski',
  "O'Brien",
  'Lefèvre',
];
const DEPARTMENTS = [
  'Finance',
  'Sales',
  'Marketing',
  'Engineering',
  'Operations',
  'Legal',
  'HR',
  'Support',
  'IT',
  'Research',
];
const TITLES = [
  'Analyst',
  'Engineer',
  'Manager',
  'Specialist',
  'Consultant',
  'Director',
  'Coordinator',
  'Associate',
  'Administrator',
  'Lead',
];
const PROJECTS = [
  'Apollo',
  'Borealis',
  'Cobalt',
  'Delta',
  'Ember',
  'Falcon',
  'Granite',
  'Horizon',
  'Iris',
  'Juniper',
  'Kestrel',
  'Lumen',
];

/** mulberry32: small, fast, good enough for test data; deterministic across platforms. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** Escapes a DN attribute value as ldifde writes it (RFC 4514 specials with a backslash). */
export function escapeDnValue(v: string): string {
  let out = v.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`);
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

function ascii(s: string): string {
  return s
    .replace(/ø/g, 'o')
    .replace(/Ø/g, 'O')
    .replace(/ł/g, 'l')
    .replace(/Ł/g, 'L')
    .replace(/ß/g, 'ss')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9]/g, '');
}

/** A SAFE-STRING (RFC 2849) needs no base64; anything else does. */
function isSafe(v: string): boolean {
  if (v === '') return true;
  const c0 = v.charCodeAt(0);
  if (c0 === 32 || c0 === 58 || c0 === 60) return false;
  if (v.charCodeAt(v.length - 1) === 32) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c > 127 || c === 0 || c === 10 || c === 13) return false;
  }
  return true;
}

/** One LDIF line, base64 where needed, folded at 76 columns (continuations: one space + 75 characters). */
export function ldifLine(name: string, value: string | Buffer): string {
  const line =
    typeof value === 'string' && isSafe(value)
      ? `${name}: ${value}`
      : `${name}:: ${(typeof value === 'string' ? Buffer.from(value, 'utf8') : value).toString('base64')}`;
  if (line.length <= 76) return `${line}\n`;
  let out = line.slice(0, 76);
  for (let i = 76; i < line.length; i += 75) out += `\n ${line.slice(i, i + 75)}`;
  return `${out}\n`;
}

function unique(seen: Map<string, number>, base: string, sep = ''): string {
  const k = base.toLowerCase();
  const n = seen.get(k) ?? 0;
  seen.set(k, n + 1);
  return n === 0 ? base : `${base}${sep}${n + 1}`;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** A binary SID S-1-5-21-a-b-c[-rid]. */
function sid(domainSubs: readonly number[], rid?: number): Buffer {
  const subs = [21, ...domainSubs, ...(rid === undefined ? [] : [rid])];
  const b = Buffer.alloc(8 + 4 * subs.length);
  b[0] = 1;
  b[1] = subs.length;
  b[7] = 5; // SECURITY_NT_AUTHORITY
  subs.forEach((v, i) => b.writeUInt32LE(v >>> 0, 8 + 4 * i));
  return b;
}

/**
 * Generates the forest as a sequence of LDIF chunks (one or a few records each), so a caller can stream
 * them to a file. `summary` is complete once the generator is exhausted (its counts are known up front).
 */
export class ForestGenerator {
  readonly options: Required<ForestOptions>;
  readonly summary: ForestSummary;

  constructor(options: ForestOptions) {
    const o = { seed: 1, domain: 'corp.example', ...options };
    for (const k of ['users', 'groups', 'memberships'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 0) throw new RangeError(`${k} must be a non-negative integer, got ${o[k]}`);
    }
    this.options = o;
    const domainDn = o.domain
      .split('.')
      .map((p) => `DC=${p}`)
      .join(',');
    const serviceAccounts = Math.floor(o.users / 200);
    this.summary = {
      domainDn,
      users: o.users,
      serviceAccounts,
      disabledUsers: 0,
      usersWithConsistencyGuid: 0,
      groups: o.groups,
      distributionGroups: 0,
      contacts: o.users === 0 ? 0 : Math.min(50, Math.max(2, Math.floor(o.users / 2000))),
      ous: 0,
      memberships: o.memberships,
      nestedMemberships: 0,
      staffOu: `OU=Staff,OU=People,${domainDn}`,
      contractorsOu: `OU=Contractors,OU=People,${domainDn}`,
      serviceAccountsOu: `OU=Service Accounts,${domainDn}`,
    };
  }

  *chunks(): Generator<string, ForestSummary> {
    const o = this.options;
    const s = this.summary;
    const rng = new Rng(o.seed);
    const domainDn = s.domainDn;
    const domainSubs = [rng.int(2 ** 32), rng.int(2 ** 32), rng.int(2 ** 32)];
    let rid = 1100;
    const when = (i: number): string => {
      const d = new Date(Date.UTC(2019, 0, 1) + (i % 1800) * 86400000 + (i % 86400) * 1000);
      return `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}.0Z`;
    };
    const objectCategory = (cls: string): string => `CN=${cls},CN=Schema,CN=Configuration,${domainDn}`;

    yield (
      `# Synthetic AD export (ldifde -f style), by adsync bench/generate.ts\n` +
      `# seed=${o.seed} users=${o.users} groups=${o.groups} memberships=${o.memberships}\n` +
      `# OU=Service Accounts holds service accounts, never group members.\n\n`
    );

    // Domain root.
    yield (
      `dn: ${domainDn}\nchangetype: add\n` +
      ldifLine('objectClass', 'top') +
      ldifLine('objectClass', 'domain') +
      ldifLine('objectClass', 'domainDNS') +
      ldifLine('distinguishedName', domainDn) +
      ldifLine('instanceType', '5') +
      ldifLine('whenCreated', '20190101000000.0Z') +
      ldifLine('name', o.domain.split('.')[0]!) +
      ldifLine('objectGUID', rng.bytes(16)) +
      ldifLine('objectSid', sid(domainSubs)) +
      ldifLine('objectCategory', objectCategory('Domain-DNS')) +
      ldifLine('dc', o.domain.split('.')[0]!) +
      '\n'
    );

    const ous: Array<[string, string]> = [
      ['People', domainDn],
      ['Staff', `OU=People,${domainDn}`],
      ['Contractors', `OU=People,${domainDn}`],
      ['Groups', domainDn],
      ['Distribution Lists', `OU=Groups,${domainDn}`],
      ['Contacts', domainDn],
      ['Service Accounts', domainDn],
    ];
    let ouText = '';
    for (const [name, parent] of ous) {
      const dn = `OU=${escapeDnValue(name)},${parent}`;
      ouText +=
        ldifLine('dn', dn) +
        'changetype: add\n' +
        ldifLine('objectClass', 'top') +
        ldifLine('objectClass', 'organizationalUnit') +
        ldifLine('ou', name) +
        ldifLine('distinguishedName', dn) +
        ldifLine('instanceType', '4') +
        ldifLine('whenCreated', '20190101000000.0Z') +
        ldifLine('name', name) +
        ldifLine('objectGUID', rng.bytes(16)) +
        ldifLine('objectCategory', objectCategory('Organizational-Unit')) +
        '\n';
    }
    s.ous = ous.length;
    yield ouText;

    // Users. Their DNs are kept (as member values) for the groups.
    const inScope = o.users - s.serviceAccounts;
    const userDns: string[] = new Array<string>(inScope);
    const cnSeen = new Map<string, number>();
    const samSeen = new Map<string, number>();
    const mailSeen = new Map<string, number>();
    let buf = '';
    for (let i = 0; i < o.users; i++) {
      const svc = i >= inScope;
      const given = rng.pick(GIVEN);
      const sn = rng.pick(SURNAME);
      const dept = rng.pick(DEPARTMENTS);
      const title = rng.pick(TITLES);
      const contractor = !svc && rng.next() < 0.15;
      const lastFirst = rng.next() < 0.04;
      const disabled = rng.next() < 0.03;
      const cg = rng.next();
      const guid = rng.bytes(16);
      let ou = contractor ? s.contractorsOu : s.staffOu;
      let cn: string;
      let sam: string;
      let display: string;
      let givenName: string | undefined = given;
      let surname: string | undefined = sn;
      if (svc) {
        ou = s.serviceAccountsOu;
        const base = `svc-${dept.toLowerCase()}-${i - inScope + 1}`;
        cn = base;
        sam = base.slice(0, 20);
        display = `Service account ${i - inScope + 1} (${dept})`;
        givenName = undefined;
        surname = undefined;
      } else {
        cn = unique(cnSeen, lastFirst ? `${sn}, ${given}` : `${given} ${sn}`, ' ');
        sam = unique(samSeen, `${ascii(given)[0] ?? 'x'}${ascii(sn)}`.toLowerCase().slice(0, 16));
        display = lastFirst ? `${sn}, ${given}` : `${given} ${sn}`;
      }
      const dn = `CN=${escapeDnValue(cn)},${ou}`;
      if (!svc) userDns[i] = dn;
      const mailLocal = svc ? sam : unique(mailSeen, `${ascii(given)}.${ascii(sn)}`.toLowerCase());
      if (disabled) s.disabledUsers++;
      buf +=
        ldifLine('dn', dn) +
        'changetype: add\n' +
        ldifLine('objectClass', 'top') +
        ldifLine('objectClass', 'person') +
        ldifLine('objectClass', 'organizationalPerson') +
        ldifLine('objectClass', 'user') +
        ldifLine('cn', cn) +
        (surname === undefined ? '' : ldifLine('sn', surname)) +
        (svc ? '' : ldifLine('title', title)) +
        (givenName === undefined ? '' : ldifLine('givenName', givenName)) +
        ldifLine('distinguishedName', dn) +
        ldifLine('instanceType', '4') +
        ldifLine('whenCreated', when(i)) +
        ldifLine('displayName', display) +
        (svc ? '' : ldifLine('department', dept)) +
        (svc ? '' : ldifLine('company', 'Contoso Ltd')) +
        ldifLine('name', cn) +
        ldifLine('objectGUID', guid) +
        ldifLine('userAccountControl', disabled ? '514' : svc ? '66048' : '512') +
        ldifLine('objectSid', sid(domainSubs, rid++)) +
        ldifLine('sAMAccountName', sam) +
        ldifLine('sAMAccountType', '805306368') +
        ldifLine('userPrincipalName', `${sam}@${o.domain}`) +
        ldifLine('objectCategory', objectCategory('Person')) +
        (svc ? '' : ldifLine('mail', `${mailLocal}@${o.domain}`)) +
        (svc ? '' : ldifLine('employeeID', String(100000 + i))) +
        (svc ? '' : ldifLine('telephoneNumber', `+1 425 555 ${String(i % 10000).padStart(4, '0')}`));
      if (!svc && cg < 0.3) {
        // Entra Connect writes objectGUID into mS-DS-ConsistencyGuid; a migrated user carries an older one.
        buf += ldifLine('mS-DS-ConsistencyGuid', cg < 0.27 ? guid : rng.bytes(16));
        s.usersWithConsistencyGuid++;
      }
      buf += '\n';
      if (buf.length > 1 << 20) {
        yield buf;
        buf = '';
      }
    }
    if (buf !== '') yield buf;
    buf = '';

    // Groups: names, kinds and DNs first (nesting refers to other groups).
    const groupDns: string[] = [];
    const kinds: number[] = [];
    const gSeen = new Map<string, number>();
    for (let g = 0; g < o.groups; g++) {
      const r = rng.next();
      // 0 global security, 1 domain local security, 2 universal security (mail-enabled), 3 distribution list
      const kind = r < 0.9 ? 0 : r < 0.93 ? 1 : r < 0.96 ? 2 : 3;
      const prefix = kind === 3 ? 'DL' : kind === 1 ? 'DLS' : 'SG';
      const name = unique(gSeen, `${prefix}-${rng.pick(DEPARTMENTS)}-${rng.pick(PROJECTS)}`, '-');
      const ou = kind === 3 ? `OU=Distribution Lists,OU=Groups,${domainDn}` : `OU=Groups,${domainDn}`;
      groupDns.push(`CN=${escapeDnValue(name)},${ou}`);
      kinds.push(kind);
      if (kind === 3) s.distributionGroups++;
    }

    // Nesting: every 20th group (from the second) holds 1-3 groups of lower index (so there are no cycles).
    const nested: number[][] = groupDns.map(() => []);
    let left = o.memberships;
    for (let g = 1; g < o.groups && left > 0; g += 20) {
      const k = Math.min(1 + rng.int(3), g, left);
      const start = rng.int(g);
      for (let j = 0; j < k; j++) nested[g]!.push((start + j) % g);
      left -= k;
      s.nestedMemberships += k;
    }

    // User memberships: Zipf-like weights over a shuffled group order, capped at the in-scope user count.
    const quota = new Array<number>(o.groups).fill(0);
    if (left > 0) {
      if (o.groups === 0 || inScope === 0 || left > o.groups * inScope) {
        throw new RangeError(
          `cannot place ${o.memberships} memberships: ${o.groups} groups × ${inScope} in-scope users (+ ${s.nestedMemberships} nested)`,
        );
      }
      const order = Array.from({ length: o.groups }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const weights = order.map((_, rank) => 1 / (rank + 1) ** 0.9);
      const total = weights.reduce((a, b) => a + b, 0);
      let placed = 0;
      for (let rank = 0; rank < o.groups; rank++) {
        const q = Math.min(inScope, Math.floor((left * weights[rank]!) / total));
        quota[order[rank]!] = q;
        placed += q;
      }
      // Hand out the rest one by one, biggest groups first, skipping full ones.
      for (let rank = 0; placed < left; rank = (rank + 1) % o.groups) {
        const g = order[rank]!;
        if (quota[g]! < inScope) {
          quota[g]!++;
          placed++;
        }
      }
    }

    for (let g = 0; g < o.groups; g++) {
      const kind = kinds[g]!;
      const dn = groupDns[g]!;
      const name = dn.slice(3, dn.indexOf(',OU=')).replace(/\\/g, '');
      const groupType = kind === 0 ? '-2147483646' : kind === 1 ? '-2147483644' : kind === 2 ? '-2147483640' : '8';
      const samType = kind === 3 ? '268435457' : kind === 1 ? '536870912' : '268435456';
      buf +=
        ldifLine('dn', dn) +
        'changetype: add\n' +
        ldifLine('objectClass', 'top') +
        ldifLine('objectClass', 'group') +
        ldifLine('cn', name) +
        ldifLine('description', `${name} (synthetic)`) +
        ldifLine('distinguishedName', dn) +
        ldifLine('instanceType', '4') +
        ldifLine('whenCreated', when(g)) +
        ldifLine('name', name) +
        ldifLine('objectGUID', rng.bytes(16)) +
        ldifLine('objectSid', sid(domainSubs, rid++)) +
        ldifLine('sAMAccountName', name) +
        ldifLine('sAMAccountType', samType) +
        ldifLine('groupType', groupType) +
        ldifLine('objectCategory', objectCategory('Group'));
      if (kind >= 2) {
        const alias = name.toLowerCase();
        buf +=
          ldifLine('mail', `${alias}@${o.domain}`) +
          ldifLine('mailNickname', alias) +
          ldifLine('proxyAddresses', `SMTP:${alias}@${o.domain}`);
      }
      for (const c of nested[g]!) buf += ldifLine('member', groupDns[c]!);
      const k = quota[g]!;
      if (k > 0) {
        const start = rng.int(inScope);
        let stride = 1 + rng.int(inScope);
        while (gcd(stride, inScope) !== 1) stride++;
        for (let j = 0, u = start; j < k; j++, u = (u + stride) % inScope) buf += ldifLine('member', userDns[u]!);
      }
      buf += '\n';
      if (buf.length > 1 << 20) {
        yield buf;
        buf = '';
      }
    }
    if (buf !== '') yield buf;
    buf = '';

    // Contacts: external partners with mail addresses.
    for (let c = 0; c < s.contacts; c++) {
      const given = rng.pick(GIVEN);
      const sn = rng.pick(SURNAME);
      const cn = unique(cnSeen, `${given} ${sn} (Partner)`, ' ');
      const dn = `CN=${escapeDnValue(cn)},OU=Contacts,${domainDn}`;
      const mail = `${ascii(given)}.${ascii(sn)}${c}@partner.example`.toLowerCase();
      buf +=
        ldifLine('dn', dn) +
        'changetype: add\n' +
        ldifLine('objectClass', 'top') +
        ldifLine('objectClass', 'person') +
        ldifLine('objectClass', 'organizationalPerson') +
        ldifLine('objectClass', 'contact') +
        ldifLine('cn', cn) +
        ldifLine('sn', sn) +
        ldifLine('givenName', given) +
        ldifLine('distinguishedName', dn) +
        ldifLine('instanceType', '4') +
        ldifLine('displayName', cn) +
        ldifLine('name', cn) +
        ldifLine('objectGUID', rng.bytes(16)) +
        ldifLine('objectCategory', objectCategory('Person')) +
        ldifLine('mail', mail) +
        ldifLine('mailNickname', mail.split('@')[0]!.replace(/\./g, '')) +
        ldifLine('proxyAddresses', `SMTP:${mail}`) +
        ldifLine('targetAddress', `SMTP:${mail}`) +
        '\n';
    }
    if (buf !== '') yield buf;
    return s;
  }
}

/** Generates a (small) forest in memory, for tests. */
export function generateForest(options: ForestOptions): { ldif: string; summary: ForestSummary } {
  const gen = new ForestGenerator(options);
  let ldif = '';
  for (const chunk of gen.chunks()) ldif += chunk;
  return { ldif, summary: gen.summary };
}

/** Streams a forest to a file, honouring back-pressure; never holds more than a chunk in memory. */
export async function writeForest(options: ForestOptions, path: string): Promise<ForestSummary> {
  const gen = new ForestGenerator(options);
  const out = createWriteStream(path);
  const failed = once(out, 'error').then(([err]: unknown[]) => {
    throw err;
  });
  failed.catch(() => {});
  for (const chunk of gen.chunks()) {
    if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
  }
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  return gen.summary;
}
