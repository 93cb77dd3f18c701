/**
 * `adsync doctor` on the Graph side, through the CLI, against the Graph emulator: as `target.emulator`
 * (embedded) and as `target.entra` pointed at a running emulator (the real @azure/identity path, with a CA
 * file and a secret from the environment).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_ROLES, startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/index.js';
import type { DoctorReport, Finding } from '../../src/doctor/ldap.js';
import { runCli } from '../support/cli.js';
import { trust } from '../emulator/helpers.js';

const SECRET_ENV = 'ADSYNC_DOCTOR_TEST_SECRET';
const BASE = 'DC=contoso,DC=example';

function user(cn: string, upn: string, n: number): string {
  return [
    `dn: CN=${cn},OU=Staff,${BASE}`,
    'changetype: add',
    'objectClass: top',
    'objectClass: person',
    'objectClass: organizationalPerson',
    'objectClass: user',
    `cn: ${cn}`,
    `sAMAccountName: ${cn.toLowerCase()}`,
    `userPrincipalName: ${upn}`,
    'userAccountControl: 512',
    `objectGUID:: ${Buffer.from(Array.from({ length: 16 }, (_, i) => (i + n) % 256)).toString('base64')}`,
  ].join('\n');
}

interface Dir {
  dir: string;
  spec: string;
}

async function workdir(upns: string[], target: string, softMatch = 'off'): Promise<Dir> {
  const dir = await mkdtemp(join(tmpdir(), 'adsync-doctor-'));
  await writeFile(join(dir, 'corp.ldif'), `version: 1\n\n${upns.map((u, i) => user(`User${i}`, u, i)).join('\n\n')}\n`);
  const spec = join(dir, 'adsync.yaml');
  await writeFile(
    spec,
    `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
    scope:
      domains: [contoso.example]
target:
${target}
matching: { softMatch: ${softMatch} }
`,
  );
  return { dir, spec };
}

/** A running emulator and a spec whose target.entra points at it. */
async function entraSetup(
  upns: string[],
  options: EmulatorOptions = {},
  softMatch = 'off',
): Promise<{ emu: RunningEmulator; d: Dir }> {
  const emu = await startEmulator({
    initialDomain: 'contoso.onmicrosoft.com',
    domains: ['contoso.example'],
    ...options,
  });
  const d = await workdir(
    upns,
    `  entra:
    tenantId: ${emu.tenantId}
    endpoint: ${emu.url}
    authorityHost: ${emu.authorityHost}
    ca: ./ca.pem
    credential:
      kind: client-secret
      clientId: ${emu.clientId}
      secret: { env: ${SECRET_ENV} }`,
    softMatch,
  );
  await writeFile(join(d.dir, 'ca.pem'), emu.certPem);
  return { emu, d };
}

async function doctor(d: Dir, secret?: string): Promise<{ code: number; text: string; report: DoctorReport }> {
  const env = secret === undefined ? {} : { [SECRET_ENV]: secret };
  const json = await runCli(['doctor', '-c', d.spec, '--json'], { cwd: d.dir, env });
  const text = await runCli(['doctor', '-c', d.spec], { cwd: d.dir, env });
  assert.equal(json.code, text.code, `same exit code with and without --json\n${text.stdout}${text.stderr}`);
  let report: DoctorReport;
  try {
    report = JSON.parse(json.stdout) as DoctorReport;
  } catch {
    throw new Error(`doctor --json printed no JSON:\n${json.stdout}\n${json.stderr}`);
  }
  return { code: json.code, text: text.stdout + text.stderr, report };
}

const target = (r: DoctorReport): Finding[] => r.findings.filter((f) => f.source === 'target');
const byCheck = (r: DoctorReport, check: string): Finding | undefined => r.findings.find((f) => f.check === check);

describe('adsync doctor: the Graph target', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup) await c();
  });

  it('a good setup (embedded emulator) is all ok, and doctor writes no emulator state', async () => {
    const d = await workdir(
      ['ann@contoso.example', 'bob@contoso.example'],
      '  emulator: { state: ./.adsync/tenant.json, tenant: contoso.onmicrosoft.com, domains: [contoso.example] }',
      'upn',
    );
    cleanup.push(() => rm(d.dir, { recursive: true, force: true }));
    const { code, text, report } = await doctor(d);
    assert.equal(code, 0, text);
    assert.equal(report.errors, 0, text);
    assert.equal(report.warnings, 0, text);
    const checks = target(report).map((f) => `${f.check} ${f.status}`);
    assert.deepEqual(checks, ['token ok', 'permissions ok', 'domains ok', 'extension ok', 'admin-roles ok']);
    assert.match(
      byCheck(report, 'permissions')!.message,
      /User\.ReadWrite\.All.*Group\.ReadWrite\.All.*Application\.ReadWrite\.OwnedBy.*RoleManagement\.Read\.Directory/,
    );
    assert.match(byCheck(report, 'domains')!.message, /contoso\.example/);
    assert.match(text, /0 error\(s\), 0 warning\(s\)/);
    assert.equal(existsSync(join(d.dir, '.adsync', 'tenant.json')), false, 'doctor is read-only');
  });

  it('a good setup (target.entra): a token through ClientSecretCredential, and the existing anchor extension is found', async () => {
    const { emu, d } = await entraSetup(['ann@contoso.example']);
    cleanup.push(async () => {
      await emu.close();
      await rm(d.dir, { recursive: true, force: true });
    });
    // Register adsync's anchor extension the way apply does.
    trust(emu.certPem);
    const tok = await fetch(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: emu.clientId,
        client_secret: emu.clientSecret,
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
    const { access_token } = (await tok.json()) as { access_token: string };
    const r = await fetch(`${emu.url}/v1.0/applications/${emu.applicationObjectId}/extensionProperties`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${access_token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'adsyncAnchor', dataType: 'String', targetObjects: ['User', 'Group'] }),
    });
    assert.equal(r.status, 201);
    const { code, text, report } = await doctor(d, emu.clientSecret);
    assert.equal(code, 0, text);
    assert.equal(report.errors + report.warnings, 0, text);
    assert.match(byCheck(report, 'token')!.message, new RegExp(`as application ${emu.clientId}`));
    assert.match(byCheck(report, 'extension')!.message, /extension_[0-9a-f]{32}_adsyncAnchor exists/);
    assert.equal(text.includes(emu.clientSecret), false, 'the secret is never printed');
  });

  it('a client without Group.ReadWrite.All gets one error naming it', async () => {
    const roles = DEFAULT_ROLES.filter((r) => r !== 'Group.ReadWrite.All');
    const { emu, d } = await entraSetup(['ann@contoso.example'], { roles });
    cleanup.push(async () => {
      await emu.close();
      await rm(d.dir, { recursive: true, force: true });
    });
    const { code, text, report } = await doctor(d, emu.clientSecret);
    assert.equal(code, 1, text);
    const errors = report.findings.filter((f) => f.status === 'error');
    assert.deepEqual(
      errors.map((f) => f.check),
      ['permission:Group.ReadWrite.All'],
      text,
    );
    assert.match(errors[0]!.message, /lacks the Group\.ReadWrite\.All application permission/);
    assert.match(errors[0]!.fix ?? '', /Group\.ReadWrite\.All.*admin consent/);
    assert.match(text, /^error {3}target: the application lacks the Group\.ReadWrite\.All/m);
  });

  it('with soft match on, a client that cannot list directory roles is an error (it could adopt an admin)', async () => {
    const roles = DEFAULT_ROLES.filter((r) => r !== 'RoleManagement.Read.Directory');
    const { emu, d } = await entraSetup(['ann@contoso.example'], { roles }, 'upn');
    cleanup.push(async () => {
      await emu.close();
      await rm(d.dir, { recursive: true, force: true });
    });
    const { code, report } = await doctor(d, emu.clientSecret);
    assert.equal(code, 1);
    assert.deepEqual(
      report.findings.filter((f) => f.status === 'error').map((f) => f.check),
      ['permission:RoleManagement.Read.Directory', 'admin-roles'],
    );
    assert.match(byCheck(report, 'admin-roles')!.message, /403 Authorization_RequestDenied.*might adopt one/);
  });

  it('with soft match on, plan itself refuses to run without knowing the admins (one error line naming the permission)', async () => {
    const roles = DEFAULT_ROLES.filter((r) => r !== 'RoleManagement.Read.Directory');
    const { emu, d } = await entraSetup(['ann@contoso.example'], { roles }, 'upn');
    cleanup.push(async () => {
      await emu.close();
      await rm(d.dir, { recursive: true, force: true });
    });
    const r = await runCli(['plan', '-c', d.spec], { cwd: d.dir, env: { [SECRET_ENV]: emu.clientSecret } });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, '', 'no plan is printed');
    assert.match(r.stderr, /^Error: .*reading directory role holders/m);
    assert.match(r.stderr, /RoleManagement\.Read\.Directory/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    // without soft match nothing depends on the admins: the same client plans fine
    await writeFile(d.spec, (await readFile(d.spec, 'utf8')).replace('softMatch: upn', 'softMatch: off'));
    const off = await runCli(['plan', '-c', d.spec], { cwd: d.dir, env: { [SECRET_ENV]: emu.clientSecret } });
    assert.equal(off.code, 0, off.stderr);
  });

  it('an unverified UPN suffix is a warning naming the domain and the MOERA fallback', async () => {
    const { emu, d } = await entraSetup(['ann@contoso.example', 'bob@corp.local', 'cid@corp.local']);
    cleanup.push(async () => {
      await emu.close();
      await rm(d.dir, { recursive: true, force: true });
    });
    const { code, text, report } = await doctor(d, emu.clientSecret);
    assert.equal(code, 0, text);
    assert.equal(report.errors, 0, text);
    const warnings = report.findings.filter((f) => f.status === 'warning');
    assert.deepEqual(
      warnings.map((f) => f.check),
      ['upn-suffix:corp.local'],
      text,
    );
    assert.match(
      warnings[0]!.message,
      /UPN suffix corp\.local \(2 user\(s\), e\.g\. bob@corp\.local\) is not a verified domain/,
    );
    assert.match(warnings[0]!.message, /<mailNickname>@contoso\.onmicrosoft\.com/);
    assert.match(byCheck(report, 'domains')!.message, /contoso\.example/);
  });

  it('a wrong client secret gives one clear error line', async () => {
    const { emu, d } = await entraSetup(['ann@contoso.example']);
    cleanup.push(async () => {
      await emu.close();
      await rm(d.dir, { recursive: true, force: true });
    });
    const { code, text, report } = await doctor(d, 'not-the-secret');
    assert.equal(code, 1, text);
    const errors = report.findings.filter((f) => f.status === 'error');
    assert.equal(errors.length, 1, text);
    assert.equal(errors[0]!.check, 'token');
    assert.equal(errors[0]!.message, 'Entra: could not obtain a token: AADSTS7000215: Invalid client secret provided.');
    const errorLines = text.split('\n').filter((l) => l.startsWith('error'));
    assert.equal(errorLines.length, 1, text);
    assert.equal(
      errorLines[0],
      'error   target: Entra: could not obtain a token: AADSTS7000215: Invalid client secret provided.',
    );
    assert.equal(text.includes('not-the-secret'), false);
  });
});
