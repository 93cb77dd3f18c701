/**
 * The Samba + Graph emulator rig of the end-to-end CLI tests that run the examples' own specs
 * (examples/ad-to-entra, examples/group-writeback) the way a deployment does: every connection setting comes
 * from the environment.
 *
 *   const { dc, admin } = await openSamba();                  // the shared DC, an admin LDAP client
 *   root = await addOu(admin, `adsync-x-${sfx}`, dc.baseDn);  // …seed under the file's own OU
 *   const rig = await startCliEmulator(dc, { prefix: 'adsync-x-', baseDn: root });
 *   runCli(['plan', '-c', EXAMPLE], { env: rig.env });
 *   ...
 *   await closeSambaCli({ admin, emu: rig.emu, dc, dir: rig.dir });   // in after(), even after a failed before()
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'ldapts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { adminClient, startSamba, type SambaDc } from './samba.js';

/** The DC (provisioned once per run, or reused) and a client bound as its Administrator. */
export async function openSamba(): Promise<{ dc: SambaDc; admin: Client }> {
  const dc = await startSamba();
  return { dc, admin: await adminClient(dc) };
}

/** The environment examples/ad-to-entra/adsync.yaml reads for its LDAP source: the DC, scoped to `baseDn`. */
export function ldapEnv(dc: SambaDc, baseDn: string): NodeJS.ProcessEnv {
  return {
    ADSYNC_LDAP_URL: dc.url,
    ADSYNC_LDAP_BIND_DN: dc.adminDn,
    ADSYNC_LDAP_PASSWORD: dc.adminPassword,
    ADSYNC_LDAP_BASE_DN: baseDn,
    ADSYNC_LDAP_CA: dc.caPath,
  };
}

/** The environment the examples read for their Entra target: the emulator, trusted through `certFile`. */
export function emulatorEnv(emu: RunningEmulator, certFile: string): NodeJS.ProcessEnv {
  return {
    ADSYNC_GRAPH_URL: emu.url,
    AZURE_TENANT_ID: emu.tenantId,
    AZURE_CLIENT_ID: emu.clientId,
    AZURE_CLIENT_SECRET: emu.clientSecret,
    AZURE_AUTHORITY_HOST: emu.authorityHost,
    NODE_EXTRA_CA_CERTS: certFile,
  };
}

/**
 * Starts a Graph emulator (domain contoso.test, the DC's) with its state in `dir`, and writes its certificate
 * there for NODE_EXTRA_CA_CERTS. The caller closes it.
 */
export async function startEmulatorIn(
  dir: string,
  name = 'tenant',
): Promise<{ emu: RunningEmulator; env: NodeJS.ProcessEnv }> {
  const emu = await startEmulator({ statePath: join(dir, `${name}.json`), domains: ['contoso.test'] });
  const certFile = join(dir, name === 'tenant' ? 'emulator.pem' : `${name}-emulator.pem`);
  await writeFile(certFile, emu.certPem);
  return { emu, env: emulatorEnv(emu, certFile) };
}

export interface CliEmulator {
  emu: RunningEmulator;
  /** A fresh temp dir (the emulator's state, its certificate, the test's derived specs and saved plans). */
  dir: string;
  /** Everything the example specs read: the DC scoped to `baseDn`, the emulator, and `extra`. */
  env: NodeJS.ProcessEnv;
}

/** A temp dir, an emulator in it, and the environment the examples' specs read (LDAP, Entra and `extra`). */
export async function startCliEmulator(
  dc: SambaDc,
  options: { prefix: string; baseDn: string; extra?: NodeJS.ProcessEnv },
): Promise<CliEmulator> {
  const dir = await mkdtemp(join(tmpdir(), options.prefix));
  const { emu, env } = await startEmulatorIn(dir);
  return { emu, dir, env: { ...ldapEnv(dc, options.baseDn), ...options.extra, ...env } };
}

/** Tears down what a before() set up, in order; any part may be missing (a before() that failed half way). */
export async function closeSambaCli(parts: {
  admin?: Client | undefined;
  emu?: RunningEmulator | undefined;
  dc?: SambaDc | undefined;
  dir?: string | undefined;
}): Promise<void> {
  await parts.admin?.unbind().catch(() => {});
  await parts.emu?.close();
  await parts.dc?.stop();
  if (parts.dir) await rm(parts.dir, { recursive: true, force: true });
}

/**
 * Graph on the emulator with a client-credentials token of its own (what Entra holds, independent of adsync).
 * `call` takes a path under /v1.0 or a whole URL (an @odata.nextLink) and resolves with the status and body.
 */
export function emulatorGraph(emu: RunningEmulator): {
  call(method: string, pathOrUrl: string, body?: unknown): Promise<{ status: number; json: any }>;
} {
  let token: string | undefined;
  const send = (
    method: string,
    url: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<{ status: number; json: any }> =>
    new Promise((resolve, reject) => {
      const req = request(url, { method, ca: emu.certPem, headers }, (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: data ? JSON.parse(data) : undefined }));
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    async call(method, pathOrUrl, body) {
      if (!token) {
        const form = new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: emu.clientId,
          client_secret: emu.clientSecret,
          scope: 'https://graph.microsoft.com/.default',
        });
        const t = await send('POST', `${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, form.toString(), {
          'content-type': 'application/x-www-form-urlencoded',
        });
        assert.equal(t.status, 200, `token: ${JSON.stringify(t.json)}`);
        token = t.json.access_token as string;
      }
      const url = pathOrUrl.startsWith('https:') ? pathOrUrl : `${emu.url}/v1.0${pathOrUrl}`;
      return send(method, url, body === undefined ? undefined : JSON.stringify(body), {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      });
    },
  };
}
