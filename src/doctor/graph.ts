/**
 * `adsync doctor` for the target (Microsoft Entra ID through Graph, or the embedded emulator):
 *   - token: a token can be obtained, through the connector's own credential code path;
 *   - permissions: the token's `roles` (the application permissions granted with admin consent) cover what
 *     the spec needs (src/doctor/permissions.ts), naming each one missing;
 *   - domains: the UPN suffixes the sources produce (read, scoped and run through the flows, as plan does)
 *     are verified domains of the tenant (`/organization` verifiedDomains); an unverified one is a warning
 *     naming the domain and what adsync will do (Entra's MOERA fallback, <mailNickname>@<initial domain>);
 *   - extension: adsync's app registration is found by appId and its anchor directory extension exists, or
 *     the app may create it (graph-facts §11);
 *   - admin roles: with soft match on, the holders of directory roles can be listed, directly or through
 *     role-assignable groups (soft match never adopts an admin).
 * Never throws: every failure is a finding. Read-only: doctor changes nothing, not even an emulator's state.
 */
import { resolve as resolvePath } from 'node:path';
import type { TokenCredential } from '@azure/identity';
import { AdsyncError, TargetError } from '../errors.js';
import { AdSource } from '../connectors/ad/index.js';
import { LdifSource } from '../connectors/ldif/index.js';
import {
  emulatorConnection,
  entraConnection,
  probeAuthority,
  type EntraConnection,
} from '../connectors/entra/index.js';
import { Graph, GraphCallError, toGraphCallError } from '../connectors/entra/graph.js';
import { readAdminRoles } from '../connectors/entra/read.js';
import { toTargetError } from '../connectors/entra/errors.js';
import { ANCHOR_EXTENSION_NAME, extensionName } from '../model/extension.js';
import { buildDesired, readRequestFor } from '../engine/desired.js';
import { compileFlows } from '../engine/flows.js';
import { loadFixtures, startEmulator, type RunningEmulator } from '../emulator/index.js';
import type { SourceConnector } from '../model/entry.js';
import type { SourceSpec, Spec } from '../spec/types.js';
import type { Finding, FindingStatus } from './ldap.js';
import { missingPermissions, requiredPermissions } from './permissions.js';
import { checkLicenses } from './licenses.js';
import { checkSyncClient } from './takeover.js';
import type { DesiredState } from '../engine/desired.js';

const SOURCE = 'target';

export interface GraphDoctorOptions {
  env?: NodeJS.ProcessEnv;
  /** Read the sources to learn the UPN suffixes (default true); false = the scoped domains only. */
  readSources?: boolean;
}

function finding(check: string, status: FindingStatus, message: string, fix?: string): Finding {
  return fix === undefined || status === 'ok'
    ? { source: SOURCE, check, status, message }
    : { source: SOURCE, check, status, message, fix };
}

function errorFinding(check: string, err: unknown): Finding {
  const e =
    err instanceof AdsyncError ? err : new AdsyncError('error', err instanceof Error ? err.message : String(err));
  return finding(check, 'error', e.message, e.hint ?? 'run again with --debug for details');
}

/** The claims of a JWT access token; undefined for an opaque token. */
export function tokenClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const c = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    return c !== null && typeof c === 'object' ? (c as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Checks the spec's target. Never throws. */
export async function checkGraphTarget(spec: Spec, options: GraphDoctorOptions = {}): Promise<Finding[]> {
  const out: Finding[] = [];
  let emulator: RunningEmulator | undefined;
  let conn: EntraConnection;
  let where: string;
  try {
    if (spec.target.emulator) {
      const e = spec.target.emulator;
      const statePath = resolvePath(spec.dir, e.state);
      // readOnly: doctor never writes, not even the emulator's state file.
      // The same tenant a plan would see: the fixtures, when the state doesn't exist yet.
      const fixture =
        e.fixtures && e.fixtures.length > 0
          ? await loadFixtures(e.fixtures.map((f) => resolvePath(spec.dir, f)))
          : undefined;
      emulator = await startEmulator({
        statePath,
        readOnly: true,
        initialDomain: e.tenant,
        domains: e.domains,
        ...(fixture ? { fixture } : {}),
      });
      conn = emulatorConnection(emulator);
      where = `the embedded emulator (${e.state})`;
    } else if (spec.target.entra) {
      conn = await entraConnection(spec.target.entra, spec.dir);
      where = conn.endpoint;
    } else {
      return [
        finding(
          'settings',
          'error',
          'the spec has no target',
          'set target.entra (or target.emulator for a local tenant)',
        ),
      ];
    }
  } catch (err) {
    await emulator?.close().catch(() => undefined);
    return [errorFinding('settings', err)];
  }
  try {
    out.push(...(await checkConnection(spec, conn, where, options)));
  } finally {
    await emulator?.close().catch(() => undefined);
  }
  return out;
}

async function checkConnection(
  spec: Spec,
  conn: EntraConnection,
  where: string,
  options: GraphDoctorOptions,
): Promise<Finding[]> {
  const out: Finding[] = [];
  const errCtx = { endpoint: conn.endpoint, authorityHost: conn.authorityHost };

  // ---- token ----
  let token: string;
  try {
    token = await getToken(conn.credential, conn.endpoint);
  } catch (err) {
    let te = toTargetError(toGraphCallError(err, 'POST', 'token'), 'obtaining a token', errCtx);
    if (
      te.code === 'entra_auth_failed' &&
      /endpoints_resolution_error|network_error|ClientAuthError|fetch failed/i.test(te.message)
    ) {
      te = (await probeAuthority(conn.authorityHost)) ?? te;
    }
    // One clear line; the Graph checks below all need a token, so they are not attempted.
    out.push(errorFinding('token', te));
    return out;
  }
  const claims = tokenClaims(token);
  out.push(
    finding(
      'token',
      'ok',
      `obtained a token from ${conn.authorityHost} for ${where}${typeof claims?.['appid'] === 'string' ? ` as application ${String(claims['appid'])}` : ''}`,
    ),
  );

  // ---- permissions (the token's roles) ----
  const needs = requiredPermissions(spec);
  let roles: Set<string> | undefined;
  if (claims === undefined) {
    out.push(
      finding(
        'permissions',
        'warning',
        'the access token is opaque (not a JWT), so its roles cannot be read; the checks below try the calls instead',
        `grant the application permissions ${needs.map((n) => n.permission).join(', ')} with admin consent`,
      ),
    );
  } else {
    roles = new Set(
      Array.isArray(claims['roles'])
        ? (claims['roles'] as unknown[]).filter((r): r is string => typeof r === 'string')
        : [],
    );
    const missing = missingPermissions(needs, roles);
    for (const n of missing) {
      const alt = n.anyOf.filter((p) => p !== n.permission);
      out.push(
        finding(
          `permission:${n.permission}`,
          'error',
          `the application lacks the ${n.permission} application permission${alt.length > 0 ? ` (or ${alt.join(' / ')})` : ''}: adsync needs it to ${n.why}`,
          `in the app registration, API permissions → Microsoft Graph → Application permissions → ${n.permission}, then "Grant admin consent"`,
        ),
      );
    }
    if (missing.length === 0) {
      out.push(
        finding(
          'permissions',
          'ok',
          `the token's roles cover what this spec needs: ${needs.map((n) => n.anyOf.find((p) => roles!.has(p))).join(', ')}`,
        ),
      );
    }
  }

  const graph = new Graph(conn.credential, conn.endpoint, { maxAttempts: 3, backoffBaseMs: 200 });

  // ---- verified domains and the UPN suffixes in scope ----
  out.push(...(await checkDomains(spec, graph, errCtx, options)));

  // ---- adsync's application and its anchor extension ----
  const appId = conn.appId ?? (typeof claims?.['appid'] === 'string' ? claims['appid'] : undefined);
  out.push(...(await checkExtension(spec, graph, appId, roles, errCtx)));

  // ---- licence rules: the SKUs and service plans they name, and the seats ----
  if (spec.licenses) out.push(...(await checkLicenses(spec.licenses, graph, errCtx)));

  // ---- admin role holders (soft match) ----
  if (spec.matching.softMatch !== 'off') {
    try {
      // The same read as plan's: role-assignable groups in a role are expanded to their members.
      const holders = await readAdminRoles(graph);
      out.push(
        finding(
          'admin-roles',
          'ok',
          `directory role holders are readable (${holders.size}, directly or through role-assignable groups): soft match (${spec.matching.softMatch}) will never adopt them`,
        ),
      );
    } catch (err) {
      const te = toTargetError(err, 'listing directory roles', errCtx);
      out.push(
        finding(
          'admin-roles',
          'error',
          `${te.message} — with matching.softMatch ${spec.matching.softMatch}, adsync could not tell admins apart and might adopt one`,
          'grant RoleManagement.Read.Directory (application permission, admin consent), or set matching.softMatch: off',
        ),
      );
    }
  }
  // ---- a sync client on the tenant (takeover, release, coexistence) ----
  out.push(...(await checkSyncClient(spec, graph, () => scopedDesired(spec, options))));
  return out;
}

async function getToken(credential: TokenCredential, endpoint: string): Promise<string> {
  const t = await credential.getToken(`${new URL(endpoint).origin}/.default`);
  if (t === null || typeof t.token !== 'string' || t.token === '')
    throw new TargetError('entra_auth_failed', 'Entra: could not obtain a token: the credential returned no token');
  return t.token;
}

function openSource(source: SourceSpec, spec: Spec): SourceConnector {
  if (source.ldif) return new LdifSource({ name: source.name, path: resolvePath(spec.dir, source.ldif.path) });
  if (source.ldap) return new AdSource(source, spec.dir);
  throw new AdsyncError('source_kind', `sources.${source.name}: neither ldif nor ldap is set`);
}

interface Suffixes {
  bySuffix: Map<string, { count: number; example: string }>;
  from: string;
}

/** The objects in scope, as plan computes them (undefined when doctor doesn't read the sources). */
async function scopedDesired(spec: Spec, options: GraphDoctorOptions): Promise<DesiredState | undefined> {
  if (options.readSources === false) return undefined;
  const flows = compileFlows(spec);
  const snapshots = await Promise.all(
    spec.sources.map(async (source) => {
      const connector = openSource(source, spec);
      try {
        return await connector.read(readRequestFor(source, flows));
      } finally {
        await connector.close();
      }
    }),
  );
  return buildDesired(spec, snapshots, flows);
}

/** The UPN suffixes of the users adsync would provision: sources read, scoped and run through the flows. */
async function upnSuffixes(spec: Spec, options: GraphDoctorOptions): Promise<Suffixes> {
  const bySuffix = new Map<string, { count: number; example: string }>();
  const fromDomains = (why: string): Suffixes => {
    for (const d of spec.sources.flatMap((s) => s.scope.domains))
      bySuffix.set(d.toLowerCase(), { count: 0, example: '' });
    return { bySuffix, from: why };
  };
  if (options.readSources === false || !spec.objects.user.enabled) return fromDomains('the scoped domains');
  try {
    const flows = compileFlows(spec);
    const snapshots = await Promise.all(
      spec.sources.map(async (source) => {
        const connector = openSource(source, spec);
        try {
          return await connector.read(readRequestFor(source, flows));
        } finally {
          await connector.close();
        }
      }),
    );
    const desired = buildDesired(spec, snapshots, flows);
    for (const o of desired.objects) {
      if (o.kind !== 'user' || o.readOnly) continue;
      const upn = o.attrs['userPrincipalName'];
      if (typeof upn !== 'string' || !upn.includes('@')) continue;
      const suffix = upn.slice(upn.lastIndexOf('@') + 1).toLowerCase();
      const e = bySuffix.get(suffix);
      if (e) e.count++;
      else bySuffix.set(suffix, { count: 1, example: upn });
    }
    return { bySuffix, from: 'the users in scope' };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    return fromDomains(`the scoped domains (the sources could not be read: ${msg.slice(0, 160)})`);
  }
}

async function checkDomains(
  spec: Spec,
  graph: Graph,
  errCtx: { endpoint: string; authorityHost: string },
  options: GraphDoctorOptions,
): Promise<Finding[]> {
  let verified: string[];
  let initial: string;
  try {
    const res = await graph.get<{ value?: { verifiedDomains?: { name?: string; isInitial?: boolean }[] }[] }>(
      '/organization?$select=id,verifiedDomains',
    );
    const domains = (res.value?.[0]?.verifiedDomains ?? []).filter(
      (d): d is { name: string; isInitial?: boolean } => typeof d.name === 'string',
    );
    verified = domains.map((d) => d.name.toLowerCase());
    initial = (
      domains.find((d) => d.isInitial === true)?.name ??
      domains.find((d) => d.name.toLowerCase().endsWith('.onmicrosoft.com'))?.name ??
      ''
    ).toLowerCase();
  } catch (err) {
    return [
      errorFinding(
        'domains',
        toTargetError(err, 'reading the organization', { ...errCtx, permission: 'organization' }),
      ),
    ];
  }
  const { bySuffix, from } = await upnSuffixes(spec, options);
  const out: Finding[] = [];
  const ok: string[] = [];
  for (const [suffix, { count, example }] of [...bySuffix].sort(([a], [b]) => a.localeCompare(b))) {
    if (verified.includes(suffix)) {
      ok.push(suffix);
      continue;
    }
    const who = count > 0 ? `${count} user(s), e.g. ${example}` : 'the default suffix of a scoped domain';
    out.push(
      finding(
        `upn-suffix:${suffix}`,
        'warning',
        `UPN suffix ${suffix} (${who}) is not a verified domain of the tenant: adsync will give these users <mailNickname>@${initial || '<tenant>.onmicrosoft.com'} instead, as Entra does (the MOERA fallback)`,
        `verify ${suffix} in the tenant (Entra admin center → Domain names), or give the users a UPN suffix that is verified (${verified.join(', ')})`,
      ),
    );
  }
  if (bySuffix.size === 0)
    out.push(finding('domains', 'ok', `no user UPN in scope (from ${from}); verified domains: ${verified.join(', ')}`));
  else if (ok.length > 0)
    out.unshift(
      finding('domains', 'ok', `UPN suffix(es) ${ok.join(', ')} (from ${from}) are verified domains of the tenant`),
    );
  return out;
}

async function checkExtension(
  spec: Spec,
  graph: Graph,
  appId: string | undefined,
  roles: ReadonlySet<string> | undefined,
  errCtx: { endpoint: string; authorityHost: string },
): Promise<Finding[]> {
  if (appId === undefined) {
    return [
      finding(
        'extension',
        'error',
        "cannot tell which application holds adsync's directory extension (no client id in the spec, and the token names none)",
        "set target.entra.applicationId to the client id of adsync's app registration",
      ),
    ];
  }
  const ownedByHint =
    'with Application.ReadWrite.OwnedBy, the app must be an owner of its own registration (add its service principal as an owner)';
  let app: { id: string; displayName?: string } | undefined;
  try {
    const res = await graph.get<{ value?: { id?: string; displayName?: string }[] }>(
      `/applications?$filter=${encodeURIComponent(`appId eq '${appId.replace(/'/g, "''")}'`)}&$select=id,appId,displayName`,
    );
    const a = res.value?.[0];
    if (a !== undefined && typeof a.id === 'string')
      app = { id: a.id, ...(a.displayName !== undefined ? { displayName: a.displayName } : {}) };
  } catch (err) {
    if (err instanceof GraphCallError && err.status === 403) {
      return [
        finding(
          'extension',
          'error',
          `cannot read the application ${appId} (403 ${err.code}): adsync could not find or create its anchor extension`,
          `grant Application.ReadWrite.OwnedBy (application permission, admin consent); ${ownedByHint}`,
        ),
      ];
    }
    return [
      errorFinding(
        'extension',
        toTargetError(err, "reading adsync's application", { ...errCtx, permission: 'applications' }),
      ),
    ];
  }
  if (app === undefined) {
    return [
      finding(
        'extension',
        'error',
        `no application with appId ${appId} is visible in the tenant: adsync keeps its anchor in a directory extension on that app`,
        `set target.entra.applicationId to the client id of adsync's own app registration; ${ownedByHint}`,
      ),
    ];
  }
  const expected = extensionName(appId, ANCHOR_EXTENSION_NAME);
  let exts: { name?: string; targetObjects?: string[] }[];
  try {
    const res = await graph.get<{ value?: { name?: string; targetObjects?: string[] }[] }>(
      `/applications/${app.id}/extensionProperties`,
    );
    exts = res.value ?? [];
  } catch (err) {
    return [
      errorFinding(
        'extension',
        toTargetError(err, 'listing the extension properties', { ...errCtx, permission: 'applications' }),
      ),
    ];
  }
  const label = `application ${app.displayName ?? ''} (${appId})`.replace('  ', ' ');
  const ext = exts.find((e) => typeof e.name === 'string' && e.name.toLowerCase() === expected.toLowerCase());
  if (ext) {
    const targets = ext.targetObjects ?? [];
    const need = ['User', ...(spec.objects.group.enabled ? ['Group'] : [])];
    const lacking = need.filter((t) => !targets.includes(t));
    if (lacking.length > 0) {
      return [
        finding(
          'extension',
          'error',
          `the directory extension ${expected} exists on ${label} but does not target ${lacking.join(', ')} (it targets ${targets.join(', ') || 'nothing'})`,
          `delete it (DELETE /applications/${app.id}/extensionProperties/{id}) so adsync creates it for User and Group; extensions can't be changed in place`,
        ),
      ];
    }
    return [finding('extension', 'ok', `the directory extension ${expected} exists on ${label}`)];
  }
  const canCreate =
    roles === undefined
      ? undefined
      : ['Application.ReadWrite.OwnedBy', 'Application.ReadWrite.All'].some((r) => roles.has(r));
  if (canCreate === false) {
    return [
      finding(
        'extension',
        'error',
        `the directory extension ${expected} does not exist on ${label}, and the application may not create it`,
        `grant Application.ReadWrite.OwnedBy (application permission, admin consent); ${ownedByHint}`,
      ),
    ];
  }
  return [
    finding(
      'extension',
      canCreate ? 'ok' : 'warning',
      `the directory extension ${expected} does not exist yet on ${label}; adsync creates it on the first apply${canCreate ? '' : ' (if the application may: its token says nothing about its permissions)'}`,
      `grant Application.ReadWrite.OwnedBy; ${ownedByHint}`,
    ),
  ];
}
