/**
 * A tenant for the pipeline-safety tests: the Graph emulator running in the test process (so it outlives a
 * CLI child that is killed, as a real tenant would), its certificate in a file, a spec that reaches it as a
 * real tenant (target.entra, client secret from the environment), and a look at its objects through the
 * Entra connector.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectEmulator, type EntraTarget } from '../../src/connectors/entra/index.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import type { TargetObject, TargetSnapshot } from '../../src/model/target.js';
import { runCli, type CliResult } from './cli.js';

/** Secrets the tests use; the secret scan looks for each in every output and file. */
export const CLIENT_SECRET = 'tst-ClientSecret-7f3a9c2e51d84b6a';
export const WRONG_SECRET = 'tst-WrongSecret-0b1c2d3e4f5a6b7c';
export const SECRET_ENV = 'ADSYNC_TEST_CLIENT_SECRET';
export const TEST_SECRETS = [CLIENT_SECRET, WRONG_SECRET];

/** Every output of every CLI run in these tests passes through here (and fails the test on a secret). */
export function assertNoSecrets(text: string, where: string): void {
  for (const s of TEST_SECRETS) {
    if (text.includes(s)) throw new Error(`a test secret appeared in ${where}`);
  }
  if (/Bearer\s+[A-Za-z0-9._~+/=-]{8,}/.test(text) || /client_secret=[^&\s*]/.test(text))
    throw new Error(`a token or client_secret appeared in ${where}`);
}

/** Every file under `dir` (plans, journals, locks, logs), except `skip` (e.g. a secret file the test wrote). */
export async function scanDirForSecrets(dir: string, skip: (path: string) => boolean = () => false): Promise<number> {
  let files = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (skip(path)) continue;
    assertNoSecrets(await readFile(path, 'latin1'), path);
    files++;
  }
  return files;
}

export interface Tenant {
  emu: RunningEmulator;
  dir: string;
  spec: string;
  env: NodeJS.ProcessEnv;
  /** Writes the spec (sources: one LDIF file, `ldif`, relative to dir; extra YAML appended at the end). */
  writeSpec(options: { ldif: string; scope?: string; extra?: string }): Promise<void>;
  cli(args: string[], options?: { env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  /** Every object with its attributes and members, and the deleted items, as adsync reads them. */
  read(): Promise<TargetSnapshot>;
  close(): Promise<void>;
}

export async function startTenant(dir: string, options: { domain?: string } = {}): Promise<Tenant> {
  const domain = options.domain ?? 'corp.example';
  const emu = await startEmulator({ domains: [domain], clientSecret: CLIENT_SECRET });
  await writeFile(join(dir, 'ca.pem'), emu.certPem);
  let reader: EntraTarget | undefined;
  const spec = join(dir, 'adsync.yaml');
  const env = { [SECRET_ENV]: CLIENT_SECRET };
  return {
    emu,
    dir,
    spec,
    env,
    async writeSpec({ ldif, scope, extra }) {
      await writeFile(
        spec,
        `# yaml-language-server: $schema=../../schemas/adsync.schema.json
version: 1
sources:
  - name: corp
    ldif: { path: ./${ldif} }
    scope:
      domains: [${domain}]
${(scope ?? '')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => `      ${l}`)
  .join('\n')}
target:
  entra:
    tenantId: ${emu.tenantId}
    endpoint: ${emu.url}
    authorityHost: ${emu.authorityHost}
    ca: ./ca.pem
    credential:
      kind: client-secret
      clientId: ${emu.clientId}
      secret: { env: ${SECRET_ENV} }
${extra ?? ''}
`,
      );
    },
    async cli(args, o = {}) {
      const r = await runCli(args, { cwd: dir, env: { ...env, ...o.env }, timeoutMs: 180_000 });
      assertNoSecrets(r.stdout, `stdout of adsync ${args.join(' ')}`);
      assertNoSecrets(r.stderr, `stderr of adsync ${args.join(' ')}`);
      return r;
    },
    async read() {
      // A new connection each time: the anchor extension may have been registered since.
      reader = await connectEmulator(emu);
      return reader.read({ userProperties: ['accountEnabled'], groupProperties: [], readMembers: true });
    },
    async close() {
      await emu.close();
      await scanDirForSecrets(dir);
    },
  };
}

/** A snapshot in a form that compares as a whole (sorted, ids kept). */
export function canonicalSnapshot(s: TargetSnapshot): string {
  const one = (o: TargetObject) => ({ ...o, members: o.members ? [...o.members].sort() : undefined });
  const sort = (list: TargetObject[]) => list.map(one).sort((a, b) => (a.id < b.id ? -1 : 1));
  return JSON.stringify({ objects: sort(s.objects), deleted: sort(s.deleted) });
}

/** A small forest as ldifde writes it: users (name, OU, department) and groups (name, member names). */
export function smallLdif(
  users: { cn: string; ou: string; department?: string; disabled?: boolean }[],
  groups: { cn: string; members: string[] }[],
): string {
  const base = 'DC=corp,DC=example';
  const dnOf = (cn: string) => {
    const u = users.find((x) => x.cn === cn);
    return u ? `CN=${cn},OU=${u.ou},${base}` : `CN=${cn},OU=Groups,${base}`;
  };
  const guid = (name: string) => Buffer.from(name.padEnd(16, '.').slice(0, 16)).toString('base64');
  const out: string[] = [];
  for (const u of users) {
    const sam = u.cn.toLowerCase().replace(/[^a-z0-9]+/g, '.');
    out.push(
      [
        `dn: ${dnOf(u.cn)}`,
        'changetype: add',
        'objectClass: top',
        'objectClass: person',
        'objectClass: organizationalPerson',
        'objectClass: user',
        `cn: ${u.cn}`,
        `sAMAccountName: ${sam}`,
        `userPrincipalName: ${sam}@corp.example`,
        `displayName: ${u.cn}`,
        ...(u.department ? [`department: ${u.department}`] : []),
        `userAccountControl: ${u.disabled ? 514 : 512}`,
        `objectGUID:: ${guid(`u-${u.cn}`)}`,
      ].join('\n'),
    );
  }
  for (const g of groups) {
    out.push(
      [
        `dn: ${dnOf(g.cn)}`,
        'changetype: add',
        'objectClass: top',
        'objectClass: group',
        `cn: ${g.cn}`,
        `sAMAccountName: ${g.cn}`,
        'groupType: -2147483646',
        `objectGUID:: ${guid(`g-${g.cn}`)}`,
        ...g.members.map((m) => `member: ${dnOf(m)}`),
      ].join('\n'),
    );
  }
  return `${out.join('\n\n')}\n\n`;
}
