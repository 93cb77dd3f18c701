/**
 * The Entra connector: reads users, groups and memberships from Microsoft Graph and applies plans to it,
 * through the official SDK (@microsoft/microsoft-graph-client) and @azure/identity.
 *
 *   const target = await connectEntra(spec.target.entra, spec.dir);
 *   const snapshot = await target.read({ userProperties, groupProperties, readMembers: true });
 *   const result = await applyPlan({ entra: target }, plan);   // src/apply/loop.ts, through the Target interface
 *   await target.close();
 */
import { createHash } from 'node:crypto';
import { ClientSecretCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import type { Plan } from '../../model/plan.js';
import type { TargetSnapshot, TenantInfo } from '../../model/target.js';
import type { EntraTargetSpec } from '../../spec/types.js';
import { resolveOptional, resolvePathValue, resolveValue } from '../../spec/resolve.js';
import { AdsyncError, TargetError } from '../../errors.js';
import { beginEntraApply, entraWidth } from './executor.js';
import {
  ANCHOR_EXTENSION_NAME,
  DIGEST_EXTENSION_NAME,
  extensionName,
  siblingExtension,
} from '../../model/extension.js';
import type { ApplyContext } from './executor.js';
import type { BatchRequest, BatchResponseItem, BatchTransport } from './batch.js';
import { GRAPH_WRITE_BUDGET } from './budget.js';
import type { WriteBudget } from './budget.js';
import type { ApplyOptions } from '../../model/apply.js';
import type { ApplyReporter, ApplyStep, ReadableTarget, TargetApply, TargetCapabilities } from '../../model/target.js';
import { buildCredential, needsInstanceDiscoveryDisabled } from './credential.js';
import { Graph, GraphCallError, describeNetworkError } from './graph.js';
import type { GraphRetryEvent } from './graph.js';
import { toTargetError } from './errors.js';
import { readSnapshot } from './read.js';
import {
  DeltaRefused,
  fetchDeltaRound,
  readTargetWithDelta,
  roundFingerprint,
  targetScope,
  type DeltaRound,
  type PartRead,
  type TargetDeltaState,
} from './delta.js';
import { readDirectorySync } from './takeover.js';
import type { EntraReadRequest, MembersVia, ReadStats } from './read.js';
import { trustCa, trustCaFile } from './tls.js';

export type { EntraReadRequest, MembersVia, ReadStats } from './read.js';
export type { DeltaRound, PartRead, TargetDeltaState } from './delta.js';

/**
 * One round of stored delta links, to tell whether the tenant changed since (a stored plan is reused when it
 * did not, src/sync/plan-memo.ts); the round is handed to readIncremental when it did, so nothing is read twice.
 */
export type DeltaProbe =
  | {
      /** The read scope (targetScope): the links are only good for the scope they were asked with. */
      scope: string;
      /** The tenant id, and what the round read besides changes (roles, directory-sync status), as a digest. */
      fingerprint: string;
      round: DeltaRound;
    }
  | { refused: string };
export type { ApplyOptions, ApplyResult } from '../../model/apply.js';
export type { WriteBudget } from './budget.js';
export { GRAPH_WRITE_BUDGET } from './budget.js';

export const DEFAULT_GRAPH_ENDPOINT = 'https://graph.microsoft.com';

export interface EntraConnectOptions {
  /** Called before each retry of a direct Graph call (reads), e.g. to log throttling. */
  onRetry?: (event: GraphRetryEvent) => void;
  /** Diagnostic lines (never secrets). */
  log?: (line: string) => void;
  /**
   * Pace writes to this budget during apply. Default: Graph's 3,000 writes / 150 s for a real tenant; off for
   * the emulator (Retry-After still applies when it throttles).
   */
  writeBudget?: WriteBudget | null;
  /** How memberships are read: one delta pass (default) or per group through $batch. */
  membersVia?: MembersVia;
  /** `$batch` requests in flight (default 4). */
  concurrency?: number;
  /** Base of retry backoff in ms (default 500 for $batch, 1000 for direct calls); tests shorten it. */
  backoffBaseMs?: number;
  /** The application whose directory extension holds adsync's anchor (default: the credential's client id). */
  applicationId?: string;
}

export interface EntraTarget extends ReadableTarget<EntraReadRequest> {
  readonly system: 'entra';
  readonly tenant: TenantInfo;
  /** `extension_<appIdNoHyphens>_adsyncAnchor` if the extension exists, else undefined. */
  readonly anchorProperty: string | undefined;
  /** Full names of the directory extensions registered on adsync's application (e.g. the disable-first mark). */
  readonly extensions: ReadonlySet<string>;
  read(request: EntraReadRequest): Promise<TargetSnapshot>;
  /**
   * The same snapshot as read(), through Graph delta from `prior` when it is for this scope (else in full,
   * with links for the next run); `full` forces a full read and says why (./delta.ts).
   */
  readIncremental?(
    request: EntraReadRequest,
    prior: TargetDeltaState | undefined,
    full?: string,
    /** A probe's round from prior's links: folded instead of fetched again. */
    fetched?: DeltaRound,
  ): Promise<{ snapshot: TargetSnapshot; state: TargetDeltaState; read: PartRead; fingerprint: string }>;
  /** One round of `links` for this read scope (see DeltaProbe). */
  probeDelta?(request: EntraReadRequest, links: { users: string; groups: string }): Promise<DeltaProbe>;
  close(): Promise<void>;
  /** Counters of the last read (objects, memberships, how members were read). */
  readonly lastRead: ReadStats | undefined;
  /** HTTP requests and retries so far (all operations). */
  readonly stats: { requests: number; retries: number };
}

export async function connectEntra(
  spec: EntraTargetSpec,
  specDir: string,
  options: EntraConnectOptions = {},
): Promise<EntraTarget> {
  const c = await entraConnection(spec, specDir, options.applicationId);
  return connectWith({
    ...c,
    writeBudget: options.writeBudget !== undefined ? options.writeBudget : GRAPH_WRITE_BUDGET,
    options,
  });
}

/** What the connector talks to and as whom: the credential, Graph's endpoint, the authority, adsync's app. */
export interface EntraConnection {
  credential: TokenCredential;
  endpoint: string;
  authorityHost: string;
  /** The application holding adsync's directory extensions (undefined: read from the token's appid claim). */
  appId: string | undefined;
}

/** The connection target.entra describes (CA trusted, secrets read): the code path connectEntra uses. */
export async function entraConnection(
  spec: EntraTargetSpec,
  specDir: string,
  applicationId?: string,
): Promise<EntraConnection> {
  if (spec.ca !== undefined) await trustCaFile(resolvePathValue(spec.ca, 'target.entra.ca', specDir));
  const built = await buildCredential(spec, specDir);
  const endpoint = resolveOptional(spec.endpoint, 'target.entra.endpoint') ?? DEFAULT_GRAPH_ENDPOINT;
  const appId = applicationId ?? resolveOptional(spec.applicationId, 'target.entra.applicationId') ?? built.clientId;
  return { credential: built.credential, endpoint, authorityHost: built.authorityHost, appId };
}

/** The connection to an in-process emulator (its certificate trusted): the code path connectEmulator uses. */
export function emulatorConnection(
  emulator: {
    url: string;
    authorityHost: string;
    tenantId: string;
    clientId: string;
    clientSecret: string;
    certPem: string;
  },
  applicationId?: string,
): EntraConnection {
  trustCa(emulator.certPem);
  const credential = new ClientSecretCredential(emulator.tenantId, emulator.clientId, emulator.clientSecret, {
    authorityHost: emulator.authorityHost,
    ...(needsInstanceDiscoveryDisabled(emulator.authorityHost) ? { disableInstanceDiscovery: true } : {}),
  });
  return {
    credential,
    endpoint: emulator.url,
    authorityHost: emulator.authorityHost,
    appId: applicationId ?? emulator.clientId,
  };
}

/** For the embedded emulator: the caller starts it in-process and passes it here. */
export async function connectEmulator(
  emulator: {
    url: string;
    authorityHost: string;
    tenantId: string;
    clientId: string;
    clientSecret: string;
    certPem: string;
  },
  options: EntraConnectOptions = {},
): Promise<EntraTarget> {
  return connectWith({
    ...emulatorConnection(emulator, options.applicationId),
    writeBudget: options.writeBudget !== undefined ? options.writeBudget : null,
    options,
  });
}

interface ConnectParams {
  credential: TokenCredential;
  endpoint: string;
  authorityHost: string;
  appId: string | undefined;
  writeBudget: WriteBudget | null;
  options: EntraConnectOptions;
}

async function connectWith(p: ConnectParams): Promise<EntraTarget> {
  let endpointUrl: URL;
  try {
    endpointUrl = new URL(p.endpoint);
  } catch {
    throw new TargetError('entra_endpoint_invalid', `target.entra.endpoint is not a URL: ${p.endpoint}`, {
      hint: 'e.g. https://graph.microsoft.com',
    });
  }
  if (endpointUrl.protocol !== 'https:') {
    throw new TargetError('entra_endpoint_insecure', `target.entra.endpoint must be https:// (got ${p.endpoint})`, {
      hint: 'the Graph SDK sends tokens only over https; serve the endpoint over TLS and trust its CA with target.entra.ca',
    });
  }
  const graphOptions = {
    ...(p.options.onRetry !== undefined ? { onRetry: p.options.onRetry } : {}),
    ...(p.options.backoffBaseMs !== undefined ? { backoffBaseMs: p.options.backoffBaseMs } : {}),
  };
  const graph = new Graph(p.credential, p.endpoint, graphOptions);
  const errCtx = { endpoint: graph.endpoint, authorityHost: p.authorityHost };
  const log = p.options.log ?? ((): void => undefined);

  // The first call also proves the token works: credential and TLS problems surface here, once, clearly.
  const tenant = await readTenant(graph).catch(async (err: unknown) => {
    const te = toTargetError(err, 'reading the organization', { ...errCtx, permission: 'organization' });
    // MSAL reports a TLS or network failure at the authority as `endpoints_resolution_error`, without the
    // cause: ask the authority ourselves to say which it is.
    if (
      te.code === 'entra_auth_failed' &&
      /endpoints_resolution_error|network_error|ClientAuthError|fetch failed/i.test(te.message)
    ) {
      const probed = await probeAuthority(p.authorityHost);
      if (probed !== undefined) throw probed;
    }
    throw te;
  });
  const appId = p.appId ?? (await appIdFromToken(p.credential, graph.endpoint));
  const found =
    appId === undefined
      ? { application: undefined, anchorProperty: undefined, extensions: [] }
      : await findAnchor(graph, appId, errCtx, log);
  log(
    `entra: tenant ${tenant.tenantId} (${tenant.initialDomain}); anchor ${found.anchorProperty ?? 'not registered yet'}`,
  );
  const target = new GraphTarget(graph, tenant, found.application, found.anchorProperty, p.writeBudget, p.options);
  for (const name of found.extensions) target.extensions.add(name);
  return target;
}

/** A TargetError when the authority host can't be reached or its certificate isn't trusted; else undefined. */
export async function probeAuthority(authorityHost: string): Promise<TargetError | undefined> {
  try {
    const res = await fetch(authorityHost, { method: 'GET', signal: AbortSignal.timeout(10_000) });
    await res.body?.cancel();
    return undefined;
  } catch (err) {
    const msg = describeNetworkError(err);
    if (/CERT|certificate/i.test(msg)) {
      return new TargetError(
        'entra_tls_untrusted',
        `Entra: cannot get a token from ${authorityHost}: its TLS certificate is not trusted (${msg.split(':')[0]})`,
        {
          hint: 'set target.entra.ca to the PEM of the CA that signed it (the emulator prints its certificate with --cert-out)',
        },
      );
    }
    return new TargetError(
      'entra_unreachable',
      `Entra: cannot reach the token authority ${authorityHost} (${msg.slice(0, 160)})`,
      {
        hint: 'check target.entra.authorityHost and the network path (proxy, firewall) to it',
      },
    );
  }
}

async function readTenant(graph: Graph): Promise<TenantInfo> {
  const res = await graph.get<{
    value?: { id?: string; verifiedDomains?: { name?: string; isInitial?: boolean }[] }[];
  }>('/organization?$select=id,verifiedDomains');
  const org = res.value?.[0];
  if (org === undefined || typeof org.id !== 'string') {
    throw new TargetError('entra_no_organization', 'Entra: /organization returned no tenant', {
      hint: 'check target.entra.endpoint points at Microsoft Graph',
    });
  }
  const domains = (org.verifiedDomains ?? []).filter((d) => typeof d.name === 'string');
  const initial =
    domains.find((d) => d.isInitial === true)?.name ??
    domains.find((d) => d.name!.toLowerCase().endsWith('.onmicrosoft.com'))?.name ??
    '';
  return {
    tenantId: org.id,
    verifiedDomains: domains.map((d) => d.name!.toLowerCase()).sort(),
    initialDomain: initial.toLowerCase(),
  };
}

/** The `appid` (v1) or `azp` (v2) claim of the access token, when it is a JWT. */
async function appIdFromToken(credential: TokenCredential, endpoint: string): Promise<string | undefined> {
  try {
    const token = await credential.getToken(`${new URL(endpoint).origin}/.default`);
    const payload = token?.token.split('.')[1];
    if (payload === undefined) return undefined;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { appid?: unknown; azp?: unknown };
    const id = claims.appid ?? claims.azp;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

async function findAnchor(
  graph: Graph,
  appId: string,
  errCtx: { endpoint: string; authorityHost: string },
  log: (line: string) => void,
): Promise<{
  application: { objectId: string; appId: string } | undefined;
  anchorProperty: string | undefined;
  extensions: string[];
}> {
  const expected = extensionName(appId, ANCHOR_EXTENSION_NAME);
  const isAnchor = (name: unknown): name is string =>
    typeof name === 'string' && name.toLowerCase() === expected.toLowerCase();
  try {
    const apps = await graph.get<{ value?: { id?: string; appId?: string }[] }>(
      `/applications?$filter=${encodeURIComponent(`appId eq '${appId.replace(/'/g, "''")}'`)}&$select=id,appId`,
    );
    const app = apps.value?.[0];
    if (app === undefined || typeof app.id !== 'string') {
      throw new TargetError('entra_application_not_found', `Entra: no application with appId ${appId} in tenant`, {
        hint: "adsync keeps its anchor in a directory extension on its own app registration: set target.entra.applicationId to that app's client id",
      });
    }
    const application = { objectId: app.id, appId };
    const ext = await graph.get<{ value?: { name?: string }[] }>(`/applications/${app.id}/extensionProperties`);
    const names = (ext.value ?? []).map((e) => e.name).filter((n): n is string => typeof n === 'string');
    return { application, anchorProperty: names.find(isAnchor), extensions: names };
  } catch (err) {
    if (err instanceof TargetError) throw err;
    if (!(err instanceof GraphCallError) || err.status !== 403)
      throw toTargetError(err, "reading adsync's application", { ...errCtx, permission: 'applications' });
    // Without Application.Read.All the app can still see the extensions available in the tenant.
    log(`entra: cannot read applications (${err.code}); looking the anchor extension up among available extensions`);
    try {
      const avail = await graph.post<{ value?: { name?: string }[] }>(
        '/directoryObjects/getAvailableExtensionProperties',
        { isSyncedFromOnPremises: false },
      );
      const prefix = expected.slice(0, expected.length - ANCHOR_EXTENSION_NAME.length).toLowerCase();
      const names = (avail.value ?? []).map((e) => e.name).filter((n): n is string => typeof n === 'string');
      return {
        application: undefined,
        anchorProperty: names.find(isAnchor),
        extensions: names.filter((n) => n.toLowerCase().startsWith(prefix)),
      };
    } catch {
      throw toTargetError(err, "reading adsync's application", { ...errCtx, permission: 'applications' });
    }
  }
}

class GraphTarget implements EntraTarget {
  readonly system = 'entra';
  readonly capabilities: TargetCapabilities = {
    width: (step: ApplyStep, concurrency: number | undefined) =>
      entraWidth(step, concurrency ?? this.options.concurrency ?? 4),
  };
  lastRead: ReadStats | undefined;
  readonly extensions = new Set<string>();
  private readonly transport: BatchTransport;
  private readonly errCtx: { endpoint: string };

  constructor(
    private readonly graph: Graph,
    readonly tenant: TenantInfo,
    private readonly application: { objectId: string; appId: string } | undefined,
    public anchorProperty: string | undefined,
    private readonly writeBudget: WriteBudget | null,
    private readonly options: EntraConnectOptions,
  ) {
    this.errCtx = { endpoint: graph.endpoint };
    this.transport = {
      postBatch: async (requests: BatchRequest[]): Promise<BatchResponseItem[]> => {
        const res = await graph.post<{ responses?: BatchResponseItem[] }>('/$batch', { requests }, { noRetry: true });
        return (res?.responses ?? []).map((r) => ({
          id: String(r.id),
          status: r.status,
          headers: r.headers ?? {},
          body: r.body,
        }));
      },
    };
  }

  get stats(): { requests: number; retries: number } {
    return { requests: this.graph.requests, retries: this.graph.retries };
  }

  private deltaContext() {
    return {
      tenantId: this.tenant.tenantId,
      anchorProperty: this.anchorProperty,
      digestProperty: this.digestProperty(),
      endpoint: this.graph.endpoint,
      membersVia: this.options.membersVia ?? 'delta',
      concurrency: this.options.concurrency ?? 4,
    };
  }

  async probeDelta(request: EntraReadRequest, links: { users: string; groups: string }): Promise<DeltaProbe> {
    const ctx = this.deltaContext();
    let round: DeltaRound;
    try {
      round = await fetchDeltaRound(this.graph, ctx, request, links);
    } catch (err) {
      if (err instanceof DeltaRefused) return { refused: err.message };
      throw err;
    }
    // As readIncremental completes it: the directory-sync status read directly when the round had none.
    if (round.directorySync === undefined) {
      const directorySync = await readDirectorySync(this.graph);
      if (directorySync !== undefined) round.directorySync = directorySync;
    }
    return {
      scope: targetScope(ctx, request),
      fingerprint: this.fingerprint(round),
      round,
    };
  }

  /** The tenant and what a read sees besides objects (role holders, directory-sync status), as a digest. */
  private fingerprint(read: Pick<DeltaRound, 'admins' | 'adminRolesUnread' | 'directorySync'>): string {
    return createHash('sha256')
      .update(JSON.stringify([this.tenant, roundFingerprint(read)]))
      .digest('hex')
      .slice(0, 32);
  }

  async readIncremental(
    request: EntraReadRequest,
    prior: TargetDeltaState | undefined,
    full?: string,
    fetched?: DeltaRound,
  ): Promise<{ snapshot: TargetSnapshot; state: TargetDeltaState; read: PartRead; fingerprint: string }> {
    const out = await readTargetWithDelta(
      this.graph,
      this.transport,
      this.deltaContext(),
      request,
      prior,
      full,
      fetched,
    );
    if (out.stats !== undefined) this.lastRead = out.stats;
    // Whether a sync client runs is read every time, as a full read does (it decides which creates are held); a
    // delta fold read it in its `$batch` already.
    const directorySync = out.snapshot.directorySync ?? (await readDirectorySync(this.graph));
    return {
      snapshot: { ...out.snapshot, tenant: this.tenant, ...(directorySync !== undefined ? { directorySync } : {}) },
      state: out.state,
      read: out.read,
      fingerprint: this.fingerprint({
        admins: out.admins,
        ...(out.snapshot.adminRolesUnread !== undefined ? { adminRolesUnread: out.snapshot.adminRolesUnread } : {}),
        ...(directorySync !== undefined ? { directorySync } : {}),
      }),
    };
  }

  private digestProperty(): string | undefined {
    const name = this.anchorProperty?.replace(new RegExp(`_${ANCHOR_EXTENSION_NAME}$`), `_${DIGEST_EXTENSION_NAME}`);
    return name !== undefined && this.extensions.has(name) ? name : undefined;
  }

  async read(request: EntraReadRequest): Promise<TargetSnapshot> {
    const digestProperty = siblingExtension(this.anchorProperty, DIGEST_EXTENSION_NAME);
    const { snapshot, stats } = await readSnapshot(
      this.graph,
      this.transport,
      {
        anchorProperty: this.anchorProperty,
        digestProperty:
          digestProperty !== undefined && this.extensions.has(digestProperty) ? digestProperty : undefined,
        endpoint: this.graph.endpoint,
        membersVia: this.options.membersVia ?? 'delta',
        concurrency: this.options.concurrency ?? 4,
      },
      request,
    );
    this.lastRead = stats;
    const directorySync = await readDirectorySync(this.graph);
    return { ...snapshot, tenant: this.tenant, ...(directorySync !== undefined ? { directorySync } : {}) };
  }

  async begin(
    plan: Pick<Plan, 'target' | 'changes' | 'prerequisites'>,
    options: ApplyOptions,
    report: ApplyReporter,
  ): Promise<TargetApply> {
    if (plan.target.system !== 'entra') {
      throw new TargetError('plan_wrong_target', `this plan is for ${plan.target.system}, not Entra`, {
        hint: 'apply it with the matching target',
      });
    }
    if (plan.target.tenantId !== undefined && plan.target.tenantId !== this.tenant.tenantId) {
      throw new TargetError(
        'plan_wrong_tenant',
        `this plan is for tenant ${plan.target.tenantId}, but the credential is for ${this.tenant.tenantId}`,
        {
          hint: 'plan and apply against the same tenant',
        },
      );
    }
    const ctx: ApplyContext = {
      transport: this.transport,
      directoryObjectUrl: (id) => this.graph.directoryObjectUrl(id),
      anchorProperty: this.anchorProperty,
      application: this.application,
      onAnchorProperty: (name) => {
        this.anchorProperty = name;
      },
      knownExtensions: this.extensions,
      onExtension: (name) => {
        this.extensions.add(name);
      },
      writeBudget: this.writeBudget,
      queue: {
        ...(this.options.backoffBaseMs !== undefined ? { backoffBaseMs: this.options.backoffBaseMs } : {}),
      },
    };
    const opts: ApplyOptions = { ...options };
    if (opts.concurrency === undefined && this.options.concurrency !== undefined)
      opts.concurrency = this.options.concurrency;
    const wrap = (err: unknown): never => {
      if (err instanceof AdsyncError) throw err; // adsync's own (the journal can't be written): already one clear line
      throw toTargetError(err, 'applying the plan', { ...this.errCtx, permission: 'extension' });
    };
    const run = await beginEntraApply(ctx, plan, opts, report).catch(wrap);
    return {
      apply: (change, step) => run.apply(change, step).catch(wrap),
      end: () => run.end(),
    };
  }

  async close(): Promise<void> {
    // The SDK holds no connections of its own (global fetch pools them); nothing to release.
  }
}

// Resolve helpers re-exported for commands that print the connection target.
export function describeEntraTarget(spec: EntraTargetSpec): string {
  const endpoint = resolveOptional(spec.endpoint, 'target.entra.endpoint') ?? DEFAULT_GRAPH_ENDPOINT;
  return `${endpoint} (tenant ${resolveValue(spec.tenantId, 'target.entra.tenantId')})`;
}
