/** A Connect-synchronized tenant in the test process and the CLI against it (test/e2e/takeover.test.ts). */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFixtures, startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { runCli } from './cli.js';
import { trust } from '../emulator/helpers.js';
import { generateConnectTenant, type ConnectTenant } from './connect-tenant.js';

export const SECRET = 'tst-TakeoverSecret-5e1d0c9b8a7f6e5d';

export interface ConnectSetup {
  dir: string;
  emu: RunningEmulator;
  gen: ConnectTenant;
  writeSpec(matching: string, safety?: string): Promise<void>;
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export async function connectSetup(prefix: string): Promise<ConnectSetup> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const gen = generateConnectTenant({ users: 200, groups: 20 });
  await writeFile(join(dir, 'corp.ldif'), gen.ldif);
  await writeFile(join(dir, 'tenant.yaml'), gen.fixture);
  const emu = await startEmulator({
    domains: ['corp.example'],
    clientSecret: SECRET,
    fixture: await loadFixtures([join(dir, 'tenant.yaml')]),
  });
  await writeFile(join(dir, 'ca.pem'), emu.certPem);
  trust(emu.certPem);
  const spec = join(dir, 'adsync.yaml');
  return {
    dir,
    emu,
    gen,
    async writeSpec(matching, safety = 'maxTakeovers: 25') {
      await writeFile(
        spec,
        `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
    scope:
      domains: [corp.example]
target:
  entra:
    tenantId: ${emu.tenantId}
    endpoint: ${emu.url}
    authorityHost: ${emu.authorityHost}
    ca: ./ca.pem
    credential:
      kind: client-secret
      clientId: ${emu.clientId}
      secret: { env: ADSYNC_TEST_SECRET }
matching:
${matching
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => `  ${l}`)
  .join('\n')}
safety:
  ${safety}
`,
      );
    },
    env: { ADSYNC_TEST_SECRET: SECRET },
    cli: (args) => runCli(args, { cwd: dir, env: { ADSYNC_TEST_SECRET: SECRET }, timeoutMs: 180_000 }),
    async close() {
      await emu.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function tokenOf(emu: RunningEmulator): Promise<string> {
  const tok = await fetch(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: emu.clientId,
      client_secret: emu.clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    }),
  });
  return ((await tok.json()) as { access_token: string }).access_token;
}

/** One GET against the emulator's Graph (200 expected). */
export async function graphGet(emu: RunningEmulator, path: string): Promise<Record<string, unknown>> {
  const r = await fetch(`${emu.url}/v1.0${path}`, { headers: { Authorization: `Bearer ${await tokenOf(emu)}` } });
  assert.equal(r.status, 200, `GET ${path}`);
  return (await r.json()) as Record<string, unknown>;
}

/** Every user and group as Graph returns it (with members and source of authority), by id, as JSON text. */
export async function rawRead(emu: RunningEmulator): Promise<Map<string, string>> {
  const tok = await fetch(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: emu.clientId,
      client_secret: emu.clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    }),
  });
  const token = ((await tok.json()) as { access_token: string }).access_token;
  const get = async (path: string): Promise<Record<string, unknown>> => {
    const r = await fetch(`${emu.url}/v1.0${path}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200, `GET ${path}`);
    return (await r.json()) as Record<string, unknown>;
  };
  const out = new Map<string, string>();
  const common = 'id,displayName,onPremisesSyncEnabled,onPremisesSecurityIdentifier,onPremisesLastSyncDateTime';
  for (const [coll, select] of [
    ['users', `${common},userPrincipalName,givenName,surname,jobTitle,department,mailNickname,onPremisesImmutableId`],
    ['groups', `${common},description,mailNickname`],
  ] as const) {
    const list = (await get(`/${coll}?$select=${select}&$top=999`))['value'] as Record<string, unknown>[];
    for (const o of list) {
      const id = String(o['id']);
      const full = await get(`/${coll}/${id}`); // every property Graph returns by default, extensions included
      const soa = await get(`/${coll}/${id}/onPremisesSyncBehavior`);
      const members =
        coll === 'groups'
          ? ((await get(`/groups/${id}/members?$select=id&$top=999`))['value'] as { id: string }[])
              .map((m) => m.id)
              .sort()
          : undefined;
      out.set(id, JSON.stringify({ o, full, isCloudManaged: soa['isCloudManaged'], members }));
    }
  }
  return out;
}

/** The administrator's step of the runbook: PATCH /directory/onPremisesSynchronization (delegated in reality). */
export async function fetchPatchFlag(emu: RunningEmulator, on: boolean): Promise<void> {
  const tok = await fetch(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: emu.clientId,
      client_secret: emu.clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    }),
  });
  const token = ((await tok.json()) as { access_token: string }).access_token;
  const r = await fetch(`${emu.url}/v1.0/directory/onPremisesSynchronization/${emu.tenantId}`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ features: { blockCloudObjectTakeoverThroughHardMatchEnabled: on } }),
  });
  assert.equal(r.status, 204);
}
