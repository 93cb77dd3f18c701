/**
 * The Samba rig of the AD incremental-read tests (test/sync/incremental-samba*.test.ts): the shared DC, an
 * Administrator client, the test's own OU, a plain reader account and a temp dir, with the LDAP passwords the
 * tests' specs name in the environment. Administrator may replicate directory changes (its reads use DirSync);
 * the reader may not (DirSync is refused with LDAP 50, so its reads poll uSNChanged and see no tombstones).
 *
 *   before(async () => ({ dc, admin, root, dir, readerDn } = rig = await openIncrementalSamba({ … })));
 *   after(() => rig?.close());
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attribute, Change, Control, type Client } from 'ldapts';
import { AdSource } from '../../src/connectors/ad/index.js';
import type { SourceReadRequest, SourceSnapshot } from '../../src/model/entry.js';
import type { SourceSpec, Spec } from '../../src/spec/types.js';
import { IncrementalReads, type IncrementalOptions, type PartRead } from '../../src/sync/incremental.js';
import { adminClient, startSamba, type SambaDc } from './samba.js';
import { addOu, addUser, deleteTree, TEST_USER_PASSWORD, uniqueSuffix } from './samba-seed.js';

/** LDAP_SERVER_SHOW_DELETED_OID: searches and modifies see tombstones. */
export const SHOW_DELETED = '1.2.840.113556.1.4.417';

export interface IncrementalSamba {
  dc: SambaDc;
  admin: Client;
  /** The test's OU under the domain root (deleted with everything under it by close). */
  root: string;
  /** A fresh temp dir (removed by close). */
  dir: string;
  /** The plain account, under `root`; its password (TEST_USER_PASSWORD) is in ADSYNC_TEST_LDAP_READER_PASSWORD. */
  readerDn: string;
  /** Deletes the OU, closes the client, releases the DC, removes the dir and restores the two variables. */
  close(): Promise<void>;
}

/**
 * Opens the rig: `ou` and `readerSam` are prefixes (a unique suffix follows), `tmp` the temp dir's. Sets
 * ADSYNC_TEST_LDAP_PASSWORD (Administrator's) and ADSYNC_TEST_LDAP_READER_PASSWORD until close. When a step
 * fails, what was set up is torn down before the error is thrown.
 */
export async function openIncrementalSamba(names: {
  ou: string;
  readerSam: string;
  tmp: string;
}): Promise<IncrementalSamba> {
  const saved = { p: process.env.ADSYNC_TEST_LDAP_PASSWORD, r: process.env.ADSYNC_TEST_LDAP_READER_PASSWORD };
  let dc: SambaDc | undefined;
  let admin: Client | undefined;
  let root: string | undefined;
  let dir: string | undefined;
  const close = async (): Promise<void> => {
    if (root) await deleteTree(admin!, root).catch(() => undefined);
    await admin?.unbind().catch(() => undefined);
    await dc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    for (const [k, v] of [
      ['ADSYNC_TEST_LDAP_PASSWORD', saved.p],
      ['ADSYNC_TEST_LDAP_READER_PASSWORD', saved.r],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  try {
    dc = await startSamba();
    admin = await adminClient(dc);
    process.env.ADSYNC_TEST_LDAP_PASSWORD = dc.adminPassword;
    process.env.ADSYNC_TEST_LDAP_READER_PASSWORD = TEST_USER_PASSWORD;
    const sfx = uniqueSuffix();
    root = await addOu(admin, `${names.ou}-${sfx}`, dc.baseDn);
    // A plain account: DirSync needs Replicating Directory Changes, which it lacks.
    const readerDn = await addUser(admin, root, { cn: 'Reader', sam: `${names.readerSam}${sfx.slice(0, 8)}` });
    dir = await mkdtemp(join(tmpdir(), names.tmp));
    return { dc, admin, root, dir, readerDn, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Reanimates the tombstone of the object with objectGUID `guid` at `dn` (Show Deleted; remove isDeleted, set the
 * DN), keeping its objectGUID; `extra` changes go in the same modify (a user's unicodePwd, say).
 */
export async function restoreTombstone(client: Client, guid: Buffer, dn: string, extra: Change[] = []): Promise<void> {
  const { searchEntries } = await client.search(
    `<GUID=${guid.toString('hex')}>`,
    { scope: 'base', attributes: ['1.1'] },
    new Control(SHOW_DELETED),
  );
  await client.modify(
    searchEntries[0]!.dn,
    [
      new Change({ operation: 'delete', modification: new Attribute({ type: 'isDeleted' }) }),
      new Change({ operation: 'replace', modification: new Attribute({ type: 'distinguishedName', values: [dn] }) }),
      ...extra,
    ],
    new Control(SHOW_DELETED),
  );
}

/**
 * One read of `source` through the incremental reader over `options.backend` (incremental when the stored state
 * allows it), its state saved: the snapshot, and how the part was read. `rangeSize` as AdSourceOptions.
 */
export async function readThroughState(
  spec: Spec,
  source: SourceSpec,
  request: SourceReadRequest,
  options: IncrementalOptions & { rangeSize: number },
): Promise<{ snapshot: SourceSnapshot; part: PartRead }> {
  const { rangeSize, ...open } = options;
  const inc = IncrementalReads.open(spec, open);
  const ad = new AdSource(source, spec.dir, { rangeSize });
  try {
    const snapshot = await inc.readSource(source, ad, request);
    await inc.save();
    return { snapshot, part: inc.info().parts[0]! };
  } finally {
    await ad.close();
  }
}

/**
 * The spec the incremental Samba tests read with: `scopeDn` on the rig's DC, bound as `bindDn` with the password
 * in the variable `env`; its emulator target is never started (the tests connect their own).
 */
export function ldapSpecYaml(dc: SambaDc, bindDn: string, env: string, scopeDn: string): string {
  return `version: 1
sources:
  - name: corp
    ldap:
      url: ${dc.url}
      bindDn: ${JSON.stringify(bindDn)}
      password: { env: ${env} }
      ca: ${JSON.stringify(dc.caPath)}
    scope:
      ous: { include: [${JSON.stringify(scopeDn)}] }
target:
  emulator: { state: ./unused-tenant.json, tenant: contoso.onmicrosoft.com, domains: [contoso.test] }
safety:
  maxDeletes: 100000
`;
}
