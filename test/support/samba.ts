/**
 * A real Active Directory for tests: Samba's AD DC, provisioned in a temp dir (DESIGN §7).
 *
 *   const skip = await sambaSkipReason();          // a string when Samba can't run here → describe(..., { skip });
 *                                                  // throws instead when ADSYNC_REQUIRE_SAMBA=1 (CI)
 *   const dc = await startSamba();                 // provisions once, or reuses the running one
 *   const client = await adminClient(dc);          // ldapts Client bound as Administrator over verified LDAPS
 *   ...
 *   await dc.stop();                               // releases this process's lease
 *
 * Sharing: one DC serves every test file of a run (and concurrent runs of other engineers' suites). Its state
 * lives in `$ADSYNC_SAMBA_DIR` (default `<tmpdir>/adsync-samba-<uid>`); a lock dir beside it serializes
 * provisioning. A small detached keeper process (samba-keeper.js) owns `samba -i`; each test process holds a
 * lease file named by its pid, and the keeper stops Samba and deletes the dir once no lease holder has been
 * alive for `$ADSYNC_SAMBA_IDLE_MS` (default 20 s, so the next test file of the same run reuses the DC).
 * `ADSYNC_SAMBA_KEEP=1` keeps it running until `node dist/test/support/samba.js stop` (fast local iteration).
 * Tests must not assume an empty directory: each seeds under its own OU with a unique suffix.
 *
 * The DC: realm CONTOSO.TEST, base DC=contoso,DC=test, LDAP services only, bound to 127.0.0.1 (389 and 636),
 * a test CA of our own whose server certificate is valid for 127.0.0.1, localhost and <host>.contoso.test, and
 * Exchange's schema attributes (mailNickname, extensionAttribute1–15, msExchRecipientTypeDetails,
 * targetAddress) added with Exchange's real OIDs, as a forest with Exchange has them.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Attribute, Change, Client, EqualityFilter } from 'ldapts';
import type { LdapSourceSpec, ScopeSpec, SourceSpec } from '../../src/spec/types.js';
import { processAlive } from '../../src/apply/lock.js';

const run = promisify(execFile);

export const REALM = 'CONTOSO.TEST';
export const NETBIOS_DOMAIN = 'CONTOSO';
export const DNS_DOMAIN = 'contoso.test';
export const BASE_DN = 'DC=contoso,DC=test';
export const ADMIN_DN = `CN=Administrator,CN=Users,${BASE_DN}`;
export const ADMIN_PASSWORD = 'Adsync-Admin-Pa55!';
const LDAPS_PORT = 636;
const LDAP_PORT = 389;

export interface SambaDc {
  /** LDAPS URL whose certificate verifies against `caPath`. */
  url: string;
  /** Plain LDAP URL for StartTLS. */
  startTlsUrl: string;
  baseDn: string;
  dnsDomain: string;
  netbiosDomain: string;
  adminDn: string;
  adminUpn: string;
  adminPassword: string;
  /** PEM of the CA that signed the DC's certificate. */
  caPath: string;
  /** PEM of an unrelated CA: verification against it must fail. */
  untrustedCaPath: string;
  /** The DC's state dir (smb.conf at dc/etc/smb.conf). */
  dir: string;
  /** Milliseconds this process spent provisioning (0 when it reused a running DC). */
  provisionMs: number;
  /** Releases this process's lease; the keeper stops Samba once no lease is left (after the idle grace). */
  stop(): Promise<void>;
}

interface State {
  keeperPid: number;
  url: string;
  startedAt: string;
}

export function sambaDir(): string {
  return process.env['ADSYNC_SAMBA_DIR'] ?? join(tmpdir(), `adsync-samba-${process.getuid?.() ?? 'user'}`);
}

const here = dirname(fileURLToPath(import.meta.url));
// dist/test/support → repo root is three levels up.
const setupScript = join(here, '..', '..', '..', 'test', 'support', 'samba-setup.sh');

async function has(cmd: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

let skipReason: Promise<string | false> | undefined;

/**
 * `ADSYNC_REQUIRE_SAMBA=1` (CI sets it): the Samba tests must run, so a reason to skip them is an error that
 * fails the test file instead of a skip nobody reads.
 */
export function requireOrSkip(reason: string | false, env: NodeJS.ProcessEnv = process.env): string | false {
  const required = env['ADSYNC_REQUIRE_SAMBA'];
  if (reason === false || required === undefined || required === '' || required === '0') return reason;
  throw new Error(`ADSYNC_REQUIRE_SAMBA=${required}, but the Samba AD DC tests cannot run: ${reason}`);
}

/**
 * Why Samba can't run here (a string for node:test's `skip`), or false when it can; throws instead under
 * ADSYNC_REQUIRE_SAMBA=1. Installs Samba through samba-setup.sh when it is missing and this process is root.
 * Every test that needs the DC gates on this (`const skip = await sambaSkipReason()`).
 */
export async function sambaSkipReason(): Promise<string | false> {
  return requireOrSkip(await unavailableReason());
}

function unavailableReason(): Promise<string | false> {
  skipReason ??= (async () => {
    if (process.env['ADSYNC_SKIP_SAMBA']) return `ADSYNC_SKIP_SAMBA is set: Samba AD DC tests skipped`;
    const missing = async () => !((await has('samba')) && (await has('samba-tool')) && (await has('openssl')));
    if (await missing()) {
      if (process.getuid?.() !== 0)
        return 'Samba AD DC is not installed and this is not root: run test/support/samba-setup.sh as root';
      try {
        await run('sh', [setupScript], { timeout: 600_000 });
      } catch (err) {
        return `Samba AD DC is not installed and test/support/samba-setup.sh failed: ${String((err as Error).message).split('\n')[0]}`;
      }
      if (await missing()) return 'Samba AD DC is still not installed after test/support/samba-setup.sh';
    }
    if (process.getuid?.() !== 0 && !existsSync(join(sambaDir(), 'state.json'))) {
      return 'Samba AD DC needs root to provision and bind ports 389/636; run the tests as root';
    }
    return false;
  })();
  return skipReason;
}

function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A cross-process lock: mkdir is atomic. A lock older than 3 minutes is stale (its holder died). */
async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 240_000;
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        const st = await stat(lockDir);
        if (Date.now() - st.mtimeMs > 180_000) await rm(lockDir, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`samba harness: timed out waiting for lock ${lockDir}`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function makeCertificates(tlsDir: string): Promise<void> {
  await mkdir(tlsDir, { recursive: true });
  const host = hostname().toLowerCase();
  const o = (args: string[]) => run('openssl', args, { cwd: tlsDir });
  const caExt = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  await o([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '30',
    '-subj',
    '/O=adsync tests/CN=adsync test CA',
    ...caExt,
  ]);
  await o([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'other-ca.key',
    '-out',
    'other-ca.pem',
    '-days',
    '30',
    '-subj',
    '/O=somebody else/CN=untrusted CA',
    ...caExt,
  ]);
  await o([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'key.pem',
    '-out',
    'server.csr',
    '-subj',
    `/O=adsync tests/CN=${host}.${DNS_DOMAIN}`,
  ]);
  await writeFile(
    join(tlsDir, 'server.ext'),
    [
      `subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:${host}.${DNS_DOMAIN},DNS:${DNS_DOMAIN}`,
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  await o([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'cert.pem',
    '-days',
    '30',
    '-extfile',
    'server.ext',
  ]);
  await run('chmod', ['600', join(tlsDir, 'key.pem'), join(tlsDir, 'ca.key'), join(tlsDir, 'other-ca.key')]);
}

async function provision(dir: string): Promise<void> {
  const dcDir = join(dir, 'dc');
  const tls = join(dir, 'tls');
  await mkdir(dcDir, { recursive: true });
  await makeCertificates(tls);
  const opt = (o: string) => `--option=${o}`;
  await run(
    'samba-tool',
    [
      'domain',
      'provision',
      `--realm=${REALM}`,
      `--domain=${NETBIOS_DOMAIN}`,
      '--server-role=dc',
      '--dns-backend=NONE',
      `--adminpass=${ADMIN_PASSWORD}`,
      '--use-rfc2307',
      '--backend-store=mdb',
      opt('interfaces=lo'),
      opt('bind interfaces only=yes'),
      opt('server services=ldap'),
      opt('dsdb:schema update allowed=true'),
      // Test-only: don't fsync every LDB transaction (as Samba's own selftest does); seeding is ~10x faster.
      opt('ldb:nosync=true'),
      opt('tls enabled=yes'),
      opt(`tls keyfile=${join(tls, 'key.pem')}`),
      opt(`tls certfile=${join(tls, 'cert.pem')}`),
      opt(`tls cafile=${join(tls, 'ca.pem')}`),
      opt(`log file=${join(dir, 'samba.log')}`),
      opt('log level=1'),
      `--targetdir=${dcDir}`,
    ],
    { timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
  );
}

/** An ldapts client bound as the domain Administrator over verified LDAPS. Unbind it when done. */
export async function adminClient(
  dc: Pick<SambaDc, 'url' | 'caPath' | 'adminDn' | 'adminPassword'>,
  opts: { timeout?: number } = {},
): Promise<Client> {
  const client = new Client({
    url: dc.url,
    tlsOptions: { ca: [await readFile(dc.caPath)] },
    connectTimeout: 5000,
    timeout: opts.timeout ?? 120_000,
  });
  await client.bind(dc.adminDn, dc.adminPassword);
  return client;
}

/** Exchange schema attributes with Exchange's own OIDs (ms-Exch-*), as in a forest prepared for Exchange. */
const EXCHANGE_ATTRIBUTES: {
  cn: string;
  ldapName: string;
  oid: string;
  syntax: string;
  omSyntax: string;
  single: boolean;
  rangeUpper?: string;
}[] = [
  {
    cn: 'ms-Exch-Mail-Nickname',
    ldapName: 'mailNickname',
    oid: '1.2.840.113556.1.2.447',
    syntax: '2.5.5.12',
    omSyntax: '64',
    single: true,
    rangeUpper: '64',
  },
  {
    cn: 'ms-Exch-Recipient-Type-Details',
    ldapName: 'msExchRecipientTypeDetails',
    oid: '1.2.840.113556.1.4.7000.102.50519',
    syntax: '2.5.5.16',
    omSyntax: '65',
    single: true,
  },
  {
    cn: 'ms-Exch-Target-Address',
    ldapName: 'targetAddress',
    oid: '1.2.840.113556.1.2.352',
    syntax: '2.5.5.12',
    omSyntax: '64',
    single: true,
    rangeUpper: '1123',
  },
  ...Array.from({ length: 15 }, (_, i) => ({
    cn: `ms-Exch-Extension-Attribute-${i + 1}`,
    ldapName: `extensionAttribute${i + 1}`,
    // 1–10 are 1.2.840.113556.1.2.423–432; 11–15 are 1.2.840.113556.1.2.599–603.
    oid: `1.2.840.113556.1.2.${i < 10 ? 423 + i : 599 + (i - 10)}`,
    syntax: '2.5.5.12',
    omSyntax: '64',
    single: true,
    rangeUpper: i < 10 ? '1024' : '2048',
  })),
];

/** Adds the Exchange attributes (those missing) and lets user, group and contact carry them. Idempotent. */
async function extendSchema(client: Client): Promise<void> {
  const schemaDn = `CN=Schema,CN=Configuration,${BASE_DN}`;
  const added: string[] = [];
  for (const a of EXCHANGE_ATTRIBUTES) {
    const found = await client.search(schemaDn, {
      scope: 'one',
      filter: new EqualityFilter({ attribute: 'lDAPDisplayName', value: a.ldapName }),
      attributes: ['cn'],
    });
    if (found.searchEntries.length > 0) continue;
    await client.add(`CN=${a.cn},${schemaDn}`, {
      objectClass: ['top', 'attributeSchema'],
      cn: a.cn,
      lDAPDisplayName: a.ldapName,
      attributeID: a.oid,
      attributeSyntax: a.syntax,
      oMSyntax: a.omSyntax,
      isSingleValued: a.single ? 'TRUE' : 'FALSE',
      ...(a.rangeUpper ? { rangeLower: '1', rangeUpper: a.rangeUpper } : {}),
      searchFlags: '0',
    });
    added.push(a.ldapName);
  }
  if (added.length === 0) return;
  await client.modify(
    '',
    new Change({ operation: 'replace', modification: new Attribute({ type: 'schemaUpdateNow', values: ['1'] }) }),
  );
  for (const cls of ['User', 'Group', 'Contact']) {
    await client.modify(
      `CN=${cls},${schemaDn}`,
      new Change({ operation: 'add', modification: new Attribute({ type: 'mayContain', values: added }) }),
    );
  }
  await client.modify(
    '',
    new Change({ operation: 'replace', modification: new Attribute({ type: 'schemaUpdateNow', values: ['1'] }) }),
  );
}

function dcFromDir(dir: string, provisionMs: number, stop: () => Promise<void>): SambaDc {
  return {
    url: `ldaps://127.0.0.1:${LDAPS_PORT}`,
    startTlsUrl: `ldap://127.0.0.1:${LDAP_PORT}`,
    baseDn: BASE_DN,
    dnsDomain: DNS_DOMAIN,
    netbiosDomain: NETBIOS_DOMAIN,
    adminDn: ADMIN_DN,
    adminUpn: `Administrator@${DNS_DOMAIN}`,
    adminPassword: ADMIN_PASSWORD,
    caPath: join(dir, 'tls', 'ca.pem'),
    untrustedCaPath: join(dir, 'tls', 'other-ca.pem'),
    dir,
    provisionMs,
    stop,
  };
}

async function readState(dir: string): Promise<State | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as State;
  } catch {
    return undefined;
  }
}

async function waitForBind(dc: SambaDc, keeperPid: number, deadlineMs: number): Promise<void> {
  let last: unknown;
  while (Date.now() < deadlineMs) {
    if (!processAlive(keeperPid)) break;
    if (await portOpen(LDAPS_PORT)) {
      try {
        const c = await adminClient(dc, { timeout: 10_000 });
        await c.unbind();
        return;
      } catch (err) {
        last = err;
      }
    }
    await sleep(250);
  }
  let log = '';
  try {
    log = (await readFile(join(dc.dir, 'keeper.log'), 'utf8')).split('\n').slice(-15).join('\n');
  } catch {
    /* none */
  }
  throw new Error(
    `samba harness: the DC did not accept an LDAPS bind (${last ? String(last) : 'keeper exited'})\n${log}`,
  );
}

/** Starts (or joins) the shared Samba AD DC and takes a lease on it for this process. */
export async function startSamba(): Promise<SambaDc> {
  const reason = await sambaSkipReason();
  if (reason) throw new Error(`samba harness: ${reason}`);
  const dir = sambaDir();
  await mkdir(dirname(dir), { recursive: true });
  const leaseFile = join(dir, 'leases', String(process.pid));
  let provisionMs = 0;
  await withLock(`${dir}.lock`, async () => {
    const state = await readState(dir);
    if (state && processAlive(state.keeperPid) && (await portOpen(LDAPS_PORT))) {
      await mkdir(join(dir, 'leases'), { recursive: true });
      await writeFile(leaseFile, '');
      return;
    }
    if (state && processAlive(state.keeperPid)) process.kill(state.keeperPid, 'SIGTERM');
    if (await portOpen(LDAPS_PORT)) {
      throw new Error(
        `samba harness: something else already listens on 127.0.0.1:${LDAPS_PORT}; stop it, or point ADSYNC_SAMBA_DIR at its state dir`,
      );
    }
    const t0 = Date.now();
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(dir, 'leases'), { recursive: true });
    await writeFile(leaseFile, '');
    await provision(dir);
    const log = openSync(join(dir, 'keeper.log'), 'a');
    const keeper = spawn(process.execPath, [join(here, 'samba-keeper.js'), dir, join(dir, 'dc', 'etc', 'smb.conf')], {
      detached: true,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    keeper.unref();
    const keeperPid = keeper.pid;
    if (keeperPid === undefined) throw new Error('samba harness: could not start the keeper');
    const dc = dcFromDir(dir, 0, async () => {});
    await waitForBind(dc, keeperPid, Date.now() + 90_000);
    const client = await adminClient(dc);
    try {
      await extendSchema(client);
    } finally {
      await client.unbind();
    }
    const s: State = { keeperPid, url: dc.url, startedAt: new Date().toISOString() };
    await writeFile(join(dir, 'state.json'), JSON.stringify(s));
    provisionMs = Date.now() - t0;
  });
  let stopped = false;
  return dcFromDir(dir, provisionMs, async () => {
    if (stopped) return;
    stopped = true;
    await rm(leaseFile, { force: true });
  });
}

/** Stops the shared DC now, whoever holds leases (CLI: `node dist/test/support/samba.js stop`). */
export async function stopSambaNow(): Promise<void> {
  const dir = sambaDir();
  const state = await readState(dir);
  if (state && processAlive(state.keeperPid)) {
    process.kill(state.keeperPid, 'SIGTERM');
    for (let i = 0; i < 100 && processAlive(state.keeperPid); i++) await sleep(100);
  }
}

export async function leaseHolders(): Promise<number[]> {
  try {
    return (await readdir(join(sambaDir(), 'leases'))).map(Number).filter((p) => processAlive(p));
  } catch {
    return [];
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const cmd = process.argv[2];
  if (cmd === 'stop') await stopSambaNow();
  else if (cmd === 'start') {
    const dc = await startSamba();
    const { stop: _stop, ...shown } = dc;
    process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
  } else process.stderr.write('usage: node dist/test/support/samba.js start|stop\n');
}

/**
 * A SourceSpec for the DC (password from env var ADSYNC_TEST_LDAP_PASSWORD, which `sambaEnv` sets), so suites
 * can build AdSource / doctor / engine inputs without a YAML file. Override anything with `patch`.
 */
export function sambaSourceSpec(
  dc: SambaDc,
  patch: { name?: string; ldap?: Partial<LdapSourceSpec>; scope?: Partial<ScopeSpec> } = {},
): SourceSpec {
  return {
    name: patch.name ?? 'corp',
    anchor: 'ms-ds-consistencyguid',
    ldap: {
      url: dc.url,
      bindDn: dc.adminDn,
      password: { env: 'ADSYNC_TEST_LDAP_PASSWORD' },
      ca: dc.caPath,
      pageSize: 1000,
      ...patch.ldap,
    },
    scope: { domains: [], ous: { include: [], exclude: [] }, groups: [], ...patch.scope },
  };
}

/** The environment `sambaSourceSpec` expects (merge into process.env or pass as `env`). */
export function sambaEnv(dc: SambaDc, password = dc.adminPassword): NodeJS.ProcessEnv {
  return { ...process.env, ADSYNC_TEST_LDAP_PASSWORD: password };
}
