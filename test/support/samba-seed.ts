/**
 * Seeding a Samba AD DC over LDAP for tests (ldapts add/modify as Administrator). Reusable by other suites.
 * Every helper takes DNs built with escapeDnValue, so names with `,`, `"`, `#`, leading spaces and non-ASCII
 * characters are written exactly.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
  return addEntry(client, `OU=${escapeDnValue(name)},${parentDn}`, {
    objectClass: ['top', 'organizationalUnit'],
    ou: name,
  });
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

export async function addGroup(
  client: Client,
  parentDn: string,
  cn: string,
  groupType: number,
  attrs: Attrs = {},
): Promise<string> {
  return addEntry(client, `CN=${escapeDnValue(cn)},${parentDn}`, {
    objectClass: ['top', 'group'],
    cn,
    sAMAccountName: cn.replace(/[^A-Za-z0-9-]/g, '').slice(0, 20) + uniqueSuffix().slice(0, 6),
    groupType: String(groupType),
    ...attrs,
  });
}

export async function addContact(client: Client, parentDn: string, cn: string, attrs: Attrs = {}): Promise<string> {
  return addEntry(client, `CN=${escapeDnValue(cn)},${parentDn}`, {
    objectClass: ['top', 'person', 'organizationalPerson', 'contact'],
    cn,
    ...attrs,
  });
}

/** Adds members to a group in modify batches (one LDAP modify per `batch` DNs). */
export async function addMembers(client: Client, groupDn: string, memberDns: string[], batch = 500): Promise<void> {
  for (let i = 0; i < memberDns.length; i += batch) {
    await client.modify(
      groupDn,
      new Change({
        operation: 'add',
        modification: new Attribute({ type: 'member', values: memberDns.slice(i, i + batch) }),
      }),
    );
  }
}

/** Runs `fn` over `items` on `connections` admin connections, `inFlight` operations at a time each. */
export async function parallelSeed<T>(
  dc: SambaDc,
  items: T[],
  fn: (client: Client, item: T, index: number) => Promise<void>,
  connections = 4,
  inFlight = 8,
): Promise<void> {
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

/** An attributeSchema entry to add (Exchange's own cn, OID and syntax, as a forest prepared for Exchange has it). */
export interface SchemaAttribute {
  cn: string;
  ldapName: string;
  oid: string;
  /** attributeSyntax and oMSyntax: 2.5.5.12/64 Unicode string, 2.5.5.8/1 Boolean. */
  syntax: string;
  omSyntax: string;
  single: boolean;
}

/** Exchange attributes the harness's schema extension doesn't add, which Entra Connect's default rules read. */
export const EXCHANGE_EXTRA_ATTRIBUTES: SchemaAttribute[] = [
  {
    cn: 'ms-Exch-Hide-From-Address-Lists',
    ldapName: 'msExchHideFromAddressLists',
    oid: '1.2.840.113556.1.4.7000.102.73',
    syntax: '2.5.5.8',
    omSyntax: '1',
    single: true,
  },
  {
    cn: 'ms-Exch-Usage-Location',
    ldapName: 'msExchUsageLocation',
    oid: '1.2.840.113556.1.4.7000.102.51767',
    syntax: '2.5.5.12',
    omSyntax: '64',
    single: true,
  },
];

/** LDAP entryAlreadyExists (68) or attributeOrValueExists (20): another process got there first. */
const alreadyThere = (err: unknown) => [68, 20].includes((err as { code?: number })?.code ?? -1);

/**
 * Adds schema attributes (those missing) and lets `classes` carry them. Idempotent, and safe when another
 * process does the same at the same time (the DC is shared).
 */
export async function ensureSchemaAttributes(
  client: Client,
  baseDn: string,
  attrs: SchemaAttribute[],
  classes = ['User', 'Group', 'Contact'],
): Promise<void> {
  const schemaDn = `CN=Schema,CN=Configuration,${baseDn}`;
  const updateNow = () =>
    client.modify(
      '',
      new Change({ operation: 'replace', modification: new Attribute({ type: 'schemaUpdateNow', values: ['1'] }) }),
    );
  let changed = false;
  for (const a of attrs) {
    const found = await client.search(schemaDn, {
      scope: 'one',
      filter: `(lDAPDisplayName=${a.ldapName})`,
      attributes: ['cn'],
    });
    if (found.searchEntries.length > 0) continue;
    try {
      await addEntry(client, `CN=${a.cn},${schemaDn}`, {
        objectClass: ['top', 'attributeSchema'],
        cn: a.cn,
        lDAPDisplayName: a.ldapName,
        attributeID: a.oid,
        attributeSyntax: a.syntax,
        oMSyntax: a.omSyntax,
        isSingleValued: a.single ? 'TRUE' : 'FALSE',
        searchFlags: '0',
      });
      changed = true;
    } catch (err) {
      if (!alreadyThere(err)) throw err;
    }
  }
  if (changed) await updateNow();
  changed = false;
  for (const cls of classes) {
    const { searchEntries } = await client.search(`CN=${cls},${schemaDn}`, {
      scope: 'base',
      attributes: ['mayContain'],
    });
    const has = new Set([searchEntries[0]?.['mayContain'] ?? []].flat().map((v) => String(v).toLowerCase()));
    for (const a of attrs) {
      if (has.has(a.ldapName.toLowerCase())) continue;
      try {
        await client.modify(
          `CN=${cls},${schemaDn}`,
          new Change({ operation: 'add', modification: new Attribute({ type: 'mayContain', values: [a.ldapName] }) }),
        );
        changed = true;
      } catch (err) {
        if (!alreadyThere(err)) throw err;
      }
    }
  }
  if (changed) await updateNow();
}

/**
 * Holds a named lock on the shared DC (a directory beside its state, with the holder's pid) until the returned
 * function is called: for suites that seed fixed names (sAMAccountName and UPN are unique in a domain). A lock
 * whose holder died is taken over.
 */
export async function lockDc(
  dc: Pick<SambaDc, 'dir'>,
  name: string,
  timeoutMs = 120_000,
): Promise<() => Promise<void>> {
  const dir = join(dc.dir, 'locks', name);
  await mkdir(join(dc.dir, 'locks'), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(dir);
      await writeFile(join(dir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => ''));
      let holderAlive = true;
      if (pid > 0) {
        try {
          process.kill(pid, 0);
        } catch (e) {
          holderAlive = (e as NodeJS.ErrnoException).code === 'EPERM';
        }
      } else {
        // No pid yet: the holder is between mkdir and writeFile, or died there; give it a moment.
        const st = await stat(dir).catch(() => undefined);
        holderAlive = st !== undefined && Date.now() - st.mtimeMs < 10_000;
      }
      if (!holderAlive) await rm(dir, { recursive: true, force: true });
      else if (Date.now() > deadline)
        throw new Error(`samba seed: timed out waiting for lock ${name} (held by pid ${pid})`);
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}
