/**
 * The Microsoft Graph emulator (DESIGN §6): Graph v1.0 and the Entra token endpoint over HTTPS on 127.0.0.1,
 * faithful to shared/reference/graph-facts.md. Start it in-process with `startEmulator()` or from the CLI
 * with `adsync emulator`. A separate wing: it shares no code with the Entra connector it serves.
 */
import { runSyncCycle } from './sync.js';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { generate } from 'selfsigned';
import { Store, type Application, type DirObject, type TenantConfig } from './store.js';
import { FaultInjector, type EmulatorFaults } from './faults.js';
import type { Ctx } from './context.js';
import { errorResponse, GraphError, JSON_TYPE, newRequestId, type GraphRequest, type GraphResponse } from './http.js';
import { handleGraph } from './router.js';
import { authenticate, issueToken, jwks, openidConfiguration, tenantMatches } from './auth.js';
import { seedRole, type SeedRole } from './roles.js';
import { splitUrl } from './batch.js';
import type { Kind } from './schema.js';
import { isoSeconds } from './directory.js';
import { RequestTap, type FreezePoint } from './tap.js';
import { applyFixture, type TenantFixture } from './fixture.js';

export { loadFixtures, parseFixtures, FixtureError, type TenantFixture } from './fixture.js';

export type { EmulatorFaults } from './faults.js';
export { ADSYNC_ROLES, DEFAULT_ROLES } from './permissions.js';

/** What `seed()` accepts. */
export interface SeedObjects {
  users?: object[];
  groups?: object[];
  contacts?: object[];
  /** Activated directory roles, e.g. `{ displayName: 'Global Administrator', roleTemplateId: '62e90394-…', members: [userId] }`. */
  directoryRoles?: SeedRole[];
}

export interface EmulatorOptions {
  /** 0 or absent = ephemeral. */
  port?: number;
  /** JSON state file; loaded if present, written on save()/close(). */
  statePath?: string;
  /** Load the state file but never write it (e.g. `adsync doctor`, which must not change anything). */
  readOnly?: boolean;
  /** GUID; generated (and persisted) if absent. */
  tenantId?: string;
  /** e.g. 'contoso.onmicrosoft.com' (default derived from the tenant id). */
  initialDomain?: string;
  /** Extra verified domains, e.g. ['contoso.example']. */
  domains?: string[];
  clientId?: string;
  clientSecret?: string;
  /**
   * Application permissions granted to the client: the `roles` of its tokens, enforced on every request
   * (403 Authorization_RequestDenied otherwise). Default DEFAULT_ROLES (what adsync needs, plus Domain.Read.All).
   * Given for a loaded state, it replaces the stored grant; tokens issued before keep theirs until they expire.
   */
  roles?: string[];
  /** All off by default. */
  faults?: EmulatorFaults;
  /**
   * A described tenant (`loadFixtures()`), loaded into a new state. A state file that already exists keeps its
   * objects; it must have been made from the same fixtures (else the start fails: delete it to reload).
   */
  fixture?: TenantFixture;
  /**
   * The time requests are stamped with (default Date.now). Tests hold it still, so budgets and replication lag
   * don't depend on how fast the machine sends requests.
   */
  now?: () => number;
  /** Called for every write request (non-GET Graph request, also inside $batch; refused ones too): tests count writes. */
  onWrite?: Ctx['onWrite'];
}

export interface RunningEmulator {
  /** 'https://127.0.0.1:PORT' (Graph base; requests go to /v1.0/...). */
  url: string;
  /** Same origin; token endpoint at /{tenant}/oauth2/v2.0/token, OIDC metadata at /{tenant}/v2.0/.well-known/openid-configuration. */
  authorityHost: string;
  port: number;
  tenantId: string;
  initialDomain: string;
  clientId: string;
  clientSecret: string;
  applicationObjectId: string;
  /** Self-signed certificate (CN/SAN 127.0.0.1 + localhost), persisted in the state so restarts keep trust. */
  certPem: string;
  seed(objects: SeedObjects): void;
  /** Grants the client these application permissions (new tokens carry them). */
  setRoles(roles: string[]): void;
  setFaults(f: EmulatorFaults): void;
  save(): Promise<void>;
  /** True when something changed since the last save (for debounced saving). */
  isDirty(): boolean;
  /** Writes executed since start (non-GET Graph requests answered 2xx; each inner request of a $batch). */
  writes(): number;
  /** HTTP requests received since start (token requests included). */
  requests(): number;
  /**
   * Test hook (tap.ts): after `writes` more writes executed (or `requests` more HTTP requests received) the
   * emulator executes and answers nothing until `unfreeze()`. Resolves when it froze.
   */
  freezeAfter(at: FreezePoint): Promise<void>;
  /** Serves requests again; the requests held while frozen are dropped. */
  unfreeze(): void;
  /**
   * Test control (not Graph): Entra Connect's next sync cycle over the objects whose source of authority was
   * switched back (src/emulator/sync.ts runSyncCycle): the ids it took over, and those the hard-match block kept.
   */
  syncCycle(): { tookOver: string[]; blocked: string[] };
  /** Saves state if statePath, stops the server. */
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024 * 1024;

/**
 * The subject names the tenant: OpenSSL finds a trust anchor by subject name, so two emulators' certificates
 * trusted in one process (or one NODE_EXTRA_CA_CERTS bundle) must not share a subject.
 */
async function newCertificate(tenantId: string): Promise<{ cert: string; key: string }> {
  const notAfter = new Date();
  notAfter.setFullYear(notAfter.getFullYear() + 5);
  const pems = await generate(
    [
      { name: 'commonName', value: '127.0.0.1' },
      { name: 'organizationName', value: 'adsync Graph emulator' },
      { shortName: 'OU', value: `tenant-${tenantId}-${randomUUID().slice(0, 8)}` },
    ],
    {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate: notAfter,
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 7, ip: '127.0.0.1' },
            { type: 2, value: 'localhost' },
          ],
        },
      ],
    },
  );
  return { cert: pems.cert, key: pems.private };
}

async function newStore(o: EmulatorOptions): Promise<Store> {
  const tenantId = o.tenantId ?? randomUUID();
  const { cert, key } = await newCertificate(tenantId);
  const config: TenantConfig = {
    tenantId,
    initialDomain: (
      o.initialDomain ?? `adsyncemu${tenantId.replace(/-/g, '').slice(0, 8)}.onmicrosoft.com`
    ).toLowerCase(),
    domains: [],
    tenantDisplayName: 'adsync emulator tenant',
    createdDateTime: isoSeconds(Date.now()),
    certPem: cert,
    keyPem: key,
    appObjectId: randomUUID(),
  };
  const store = new Store(config);
  const app: Application = {
    id: config.appObjectId,
    appId: o.clientId ?? randomUUID(),
    displayName: 'adsync',
    createdDateTime: config.createdDateTime,
    secrets: [o.clientSecret ?? randomBytes(30).toString('base64url')],
    servicePrincipalId: randomUUID(),
  };
  store.applications.set(app.id, app);
  return store;
}

/** Applies options to a loaded state: extra domains and client credentials are added, never removed. */
function reconcile(store: Store, o: EmulatorOptions): void {
  if (o.tenantId && o.tenantId !== store.config.tenantId) {
    throw new Error(`the state file belongs to tenant ${store.config.tenantId}, not ${o.tenantId}`);
  }
  for (const d of o.domains ?? []) {
    const l = d.toLowerCase();
    if (l !== store.config.initialDomain && !store.config.domains.includes(l)) store.config.domains.push(l);
  }
  const app = store.applications.get(store.config.appObjectId)!;
  if (o.clientId && o.clientId !== app.appId) {
    throw new Error(`the state file's application has client id ${app.appId}, not ${o.clientId}`);
  }
  if (o.clientSecret && !app.secrets.includes(o.clientSecret)) app.secrets.push(o.clientSecret);
  if (o.roles) app.roles = [...o.roles];
  app.servicePrincipalId ??= randomUUID();
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) h[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return h;
}

function send(res: ServerResponse, r: GraphResponse, requestId: string, clientRequestId: string | undefined): void {
  const headers: Record<string, string> = { 'request-id': requestId, ...r.headers };
  if (clientRequestId) headers['client-request-id'] = clientRequestId;
  let payload: string | undefined;
  if (r.body !== undefined) {
    if (typeof r.body === 'string') {
      payload = r.body;
      headers['content-type'] ??= 'text/plain;charset=utf-8';
    } else {
      payload = JSON.stringify(r.body);
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['Content-Type'] = JSON_TYPE;
    }
  }
  res.writeHead(r.status, headers);
  res.end(payload);
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  let store: Store;
  let fresh = false;
  if (options.statePath && Store.exists(options.statePath)) {
    store = await Store.load(options.statePath);
  } else {
    store = await newStore(options);
    fresh = true;
  }
  reconcile(store, options);
  if (options.fixture && fresh) applyFixture(store, options.fixture);
  else if ((options.fixture?.digest ?? undefined) !== store.config.fixtureDigest && options.fixture !== undefined) {
    throw new Error(
      `the state file ${options.statePath} was not made from the fixture(s) ${options.fixture.files.join(', ')}: delete it to load them into a new tenant`,
    );
  }
  const app = (): Application => store.applications.get(store.config.appObjectId)!;
  const faults = new FaultInjector(options.faults, {
    appId: () => app().appId,
    tenantId: () => store.config.tenantId,
    userCount: () => store.users.size,
  });
  const clock = options.now ?? Date.now;
  const tap = new RequestTap();
  const ctx: Ctx = {
    store,
    lagMs: () => faults.lagMs(),
    tap,
    ...(options.onWrite ? { onWrite: options.onWrite } : {}),
  };
  let base = '';

  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!tap.admit()) return tap.hold(res);
    const requestId = newRequestId();
    const headers = lowerHeaders(req);
    const clientRequestId = headers['client-request-id'];
    const now = clock();
    const url = new URL(req.url ?? '/', base);
    const path = url.pathname;
    try {
      const raw = await readBody(req);
      // ---- identity endpoints (graph-facts §13) ----
      const oidc = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path);
      if (oidc && req.method === 'GET') {
        if (!tenantMatches(store, decodeURIComponent(oidc[1]!)))
          return send(
            res,
            {
              status: 400,
              headers: {},
              body: { error: 'invalid_tenant', error_description: `Tenant '${oidc[1]}' not found.` },
            },
            requestId,
            clientRequestId,
          );
        return send(
          res,
          { status: 200, headers: {}, body: openidConfiguration(store, base) },
          requestId,
          clientRequestId,
        );
      }
      const tok = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
      if (tok && req.method === 'POST') {
        if (!tenantMatches(store, decodeURIComponent(tok[1]!)))
          return send(
            res,
            {
              status: 400,
              headers: {},
              body: { error: 'invalid_request', error_description: `Tenant '${tok[1]}' not found.` },
            },
            requestId,
            clientRequestId,
          );
        const r = issueToken(store, new URLSearchParams(raw.toString('utf8')), headers['authorization'], now);
        return send(
          res,
          { status: r.status, headers: { 'Cache-Control': 'no-store', ...(r.headers ?? {}) }, body: r.body },
          requestId,
          clientRequestId,
        );
      }
      if (/^\/[^/]+\/discovery\/v2\.0\/keys$/.test(path))
        return send(res, { status: 200, headers: {}, body: jwks(store) }, requestId, clientRequestId);

      // ---- Graph ----
      if (!path.startsWith('/v1.0/') && path !== '/v1.0') {
        return send(
          res,
          { status: 404, headers: {}, body: { error: { code: 'BadRequest', message: 'Invalid version.' } } },
          requestId,
          clientRequestId,
        );
      }
      const rel = (req.url ?? '').slice('/v1.0'.length);
      const { rawPath, segments, query } = splitUrl(rel);
      const greq: GraphRequest = {
        method: (req.method ?? 'GET').toUpperCase(),
        segments,
        rawPath,
        query,
        headers,
        body: undefined,
        requestId,
        clientRequestId,
        now,
        base,
      };
      const auth = authenticate(store, headers['authorization'], now);
      if (auth.problem)
        return send(
          res,
          errorResponse(greq, new GraphError(401, 'InvalidAuthenticationToken', auth.problem)),
          requestId,
          clientRequestId,
        );
      if (auth.roles) greq.roles = auth.roles;
      if (raw.length > 0) {
        try {
          greq.body = JSON.parse(raw.toString('utf8'));
        } catch {
          return send(
            res,
            errorResponse(
              greq,
              new GraphError(
                400,
                'BadRequest',
                'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
              ),
            ),
            requestId,
            clientRequestId,
          );
        }
      }
      const answer = handleGraph(ctx, faults, greq);
      if (tap.frozen) return tap.hold(res);
      send(res, answer, requestId, clientRequestId);
    } catch (e) {
      const err = new GraphError(
        500,
        'Service_InternalServerError',
        `Encountered an internal server error. (${e instanceof Error ? e.message : String(e)})`,
      );
      send(res, errorResponse({ requestId, clientRequestId, now }, err), requestId, clientRequestId);
    }
  };

  const server: Server = createServer(
    { cert: store.config.certPem, key: store.config.keyPem, keepAlive: true },
    (req, res) => {
      void onRequest(req, res);
    },
  );
  server.keepAliveTimeout = 30_000;
  // Every socket, including ones still in their TLS handshake (closeAllConnections doesn't know those yet):
  // close() must not wait out a keep-alive that a request in flight opened a moment later.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  base = `https://127.0.0.1:${port}`;

  const save = async (): Promise<void> => {
    if (options.statePath && !options.readOnly) await store.save(options.statePath);
  };

  return {
    url: base,
    authorityHost: base,
    port,
    tenantId: store.config.tenantId,
    initialDomain: store.config.initialDomain,
    clientId: app().appId,
    clientSecret: options.clientSecret ?? app().secrets[0]!,
    applicationObjectId: app().id,
    certPem: store.config.certPem,
    seed: (objects) => seedObjects(store, objects),
    setRoles: (roles) => {
      app().roles = [...roles];
      store.dirty = true;
    },
    setFaults: (f) => {
      faults.set(f);
      // Without lag, nothing stays hidden: objects created under an earlier lag become visible at once.
      if (!f.replicationLagMs)
        for (const c of [store.users, store.groups, store.contacts]) for (const o of c.byId.values()) o.visibleAt = 0;
    },
    save,
    syncCycle: () => runSyncCycle(store, Date.now()),
    isDirty: () => store.dirty,
    writes: () => tap.writes,
    requests: () => tap.requests,
    freezeAfter: (at) => tap.freezeAfter(at),
    unfreeze: () => tap.unfreeze(),
    close: async () => {
      // A run that changed nothing (a plan) leaves the state file as it was; a new tenant is written once.
      if (store.dirty || (options.statePath !== undefined && !existsSync(options.statePath))) await save();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/**
 * Test and demo seeding: cloud-only or synced-looking users, groups of any type (mail-enabled security,
 * distribution) and contacts, bypassing Graph's write rules. `members` (ids) on a group sets its members.
 */
function seedObjects(store: Store, objects: SeedObjects): void {
  const memberLists: [string, string[]][] = [];
  const add = (kind: Kind, raw: object): void => {
    const { members, ...props } = raw as Record<string, unknown> & { members?: string[] };
    if (kind === 'group') props['groupTypes'] ??= [];
    if (typeof props['mail'] === 'string' && props['proxyAddresses'] === undefined)
      props['proxyAddresses'] = [`SMTP:${props['mail']}`];
    props['createdDateTime'] ??= isoSeconds(Date.now());
    const o: DirObject = store.newObject(kind, props);
    if (store.get(o.id)) throw new Error(`seed: an object with id ${o.id} already exists`);
    // Seeding skips Graph's rules, but not the uniqueness the indexes rely on.
    const upn = props['userPrincipalName'];
    if (kind === 'user' && typeof upn === 'string' && store.upns.has(upn.toLowerCase()))
      throw new Error(`seed: userPrincipalName ${upn} already exists`);
    if (typeof props['mail'] === 'string' && store.proxies.has(props['mail'].toLowerCase()))
      throw new Error(`seed: address ${props['mail']} already exists`);
    store.collection(kind).add(o);
    store.registerAddresses(o);
    store.logChange({ kind, id: o.id });
    if (kind === 'group' && Array.isArray(members)) memberLists.push([o.id, members]);
  };
  for (const u of objects.users ?? []) add('user', u);
  for (const g of objects.groups ?? []) add('group', g);
  for (const c of objects.contacts ?? []) add('contact', c);
  for (const [gid, ids] of memberLists) {
    for (const id of ids) {
      const m = store.get(id);
      if (!m) throw new Error(`seed: member ${id} of group ${gid} does not exist`);
      store.addMember(gid, m);
    }
  }
  for (const r of objects.directoryRoles ?? []) seedRole(store, r);
}
