/**
 * Seeding a Samba AD DC over LDAP for tests (ldapts add/modify as Administrator). Reusable by other suites.
 * Every helper takes DNs built with escapeDnValue, so names with `,`, `"`, `#`, leading spaces and non-ASCII
 * characters are written exactly.
 */
import { randomBytes } from 'node:crypto';
import { Attribute, Change, Client } from 'ldapts';
import { escapeDnValue } from '../../src/model/dn.js';
import type { SambaDc } from './samba.js';
import { adminClient } from './samba.js';

export const ACCOUNTDISABLE = 2;
export const NORMAL_ACCOUNT = 512;
/** AD group types: global/universal security, and a universal distribution group. */
export const GROUP_GLOBAL_SECURITY = -2147483646;
export const GROUP_UNIVERSAL_SECURITY = -2147483640;
export const GROUP_UNIVERSAL_DISTRIBUTION = 8;

export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

/** The quoted, UTF-16LE form AD wants for unicodePwd. */
export function unicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, 'utf16le');
}

export type Attrs = Record<string, string | string[] | Buffer | Buffer[]>;

function toAttributes(attrs: Attrs): Attribute[] {
  return Object.entries(attrs).map(([type, v]) => {
    const values = (Array.isArray(v) ? v : [v]) as (string | Buffer)[];
    return new Attribute({ type, values: values as string[] | Buffer[] });
  });
}

export async function addEntry(client: Client, dn: string, attrs: Attrs): Promise<string> {
  await client.add(dn, toAttributes(attrs));
  return dn;
}

export async function addOu(client: Client, name: string, parentDn: string): Promise<string> {
  return addEntry(client, `OU=${escapeDnValue(name)},${parentDn}`, { objectClass: ['top', 'organizationalUnit'], ou: name });
}

export interface UserSeed {
  cn: string;
  sam: string;
  upn?: string;
  /** Enabled users get this password (in the same add, as AD requires); default: enabled. */
  enabled?: boolean;
  password?: string;
  attrs?: Attrs;
}

export const TEST_USER_PASSWORD = 'Seed-User-Pa55!';

export async function addUser(client: Client, parentDn: string, u: UserSeed): Promise<string> {
  const enabled = u.enabled ?? true;
  const dn = `CN=${escapeDnValue(u.cn)},${parentDn}`;
  await addEntry(client, dn, {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    cn: u.cn,
    sAMAccountName: u.sam,
    ...(u.upn ? { userPrincipalName: u.upn } : {}),
    ...(enabled
      ? { unicodePwd: unicodePwd(u.password ?? TEST_USER_PASSWORD), userAccountControl: String(NORMAL_ACCOUNT) }
      : { userAccountControl: String(NORMAL_ACCOUNT | ACCOUNTDISABLE) }),
    ...(u.attrs ?? {}),
  });
  return dn;
}

export async function addGroup(client: Client, parentDn: string, cn: string, groupType: number, attrs: Attrs = {}): Promise<string> {
  return addEntry(client, `CN=${escapeDnValue(cn)},${parentDn}`, {
    objectClass: ['top', 'group'],
    cn,
    sAMAccountName: cn.replace(/[^A-Za-z0-9-]/g, '').slice(0, 20) + uniqueSuffix().slice(0, 6),
    groupType: String(groupType),
    ...attrs,
  });
}

export async function addContact(client: Client, parentDn: string, cn: string, attrs: Attrs = {}): Promise<string> {
  return addEntry(client, `CN=${escapeDnValue(cn)},${parentDn}`, { objectClass: ['top', 'person', 'organizationalPerson', 'contact'], cn, ...attrs });
}

/** Adds members to a group in modify batches (one LDAP modify per `batch` DNs). */
export async function addMembers(client: Client, groupDn: string, memberDns: string[], batch = 500): Promise<void> {
  for (let i = 0; i < memberDns.length; i += batch) {
    await client.modify(groupDn, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: memberDns.slice(i, i + batch) }) }));
  }
}

/** Runs `fn` over `items` on `connections` admin connections, `inFlight` operations at a time each. */
export async function parallelSeed<T>(dc: SambaDc, items: T[], fn: (client: Client, item: T, index: number) => Promise<void>, connections = 4, inFlight = 8): Promise<void> {
  const clients = await Promise.all(Array.from({ length: connections }, () => adminClient(dc)));
  let next = 0;
  try {
    await Promise.all(
      clients.flatMap((c) =>
        Array.from({ length: inFlight }, async () => {
          for (;;) {
            const i = next++;
            if (i >= items.length) return;
            await fn(c, items[i]!, i);
          }
        }),
      ),
    );
  } finally {
    await Promise.all(clients.map((c) => c.unbind().catch(() => {})));
  }
}

/** Deletes a subtree (children first). Best effort: for cleanup between local runs. */
export async function deleteTree(client: Client, dn: string): Promise<void> {
  const { searchEntries } = await client.search(dn, { scope: 'sub', attributes: ['1.1'], paged: { pageSize: 1000 } });
  const dns = searchEntries.map((e) => e.dn).sort((a, b) => b.length - a.length);
  for (const d of dns) await client.del(d).catch(() => {});
}
