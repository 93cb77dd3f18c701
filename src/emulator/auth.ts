/**
 * The identity side: OIDC discovery and the client-credentials token endpoint, enough for the real
 * `@azure/identity` → MSAL path (DESIGN §6, graph-facts §13), and bearer checks on `/v1.0`.
 *
 * Access tokens are JWTs shaped like Entra's app-only v1.0 tokens for Graph (`appid`, `tid`, `idtyp: app`,
 * `roles` = the application permissions granted to the client; no `roles` claim when none are), signed RS256
 * with the emulator's TLS key and published at `jwks_uri`. MSAL and the Graph SDK never look inside them;
 * `adsync doctor` reads `roles` to check the grant, as it does against real Entra. The emulator still accepts
 * only tokens it issued (and remembers), and enforces `roles` on every Graph request (permissions.ts).
 */
import { createHash, createPublicKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import type { Application, Store } from './store.js';
import { DEFAULT_ROLES } from './permissions.js';

export const TOKEN_LIFETIME_S = 3599;

export interface OAuthResult {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** Tenant path segment accepted: the tenant id, a verified domain, or the usual aliases. */
export function tenantMatches(store: Store, segment: string): boolean {
  const s = segment.toLowerCase();
  return (
    s === store.config.tenantId.toLowerCase() ||
    s === store.config.initialDomain.toLowerCase() ||
    store.config.domains.some((d) => d.toLowerCase() === s) ||
    s === 'organizations'
  );
}

export function openidConfiguration(store: Store, base: string): Record<string, unknown> {
  const t = store.config.tenantId;
  return {
    token_endpoint: `${base}/${t}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/${t}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/${t}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${base}/oidc/userinfo`,
    authorization_endpoint: `${base}/${t}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/${t}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/${t}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'tid'],
    kerberos_endpoint: `${base}/${t}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: '127.0.0.1',
    cloud_graph_host_name: '127.0.0.1',
    msgraph_host: '127.0.0.1',
    rbac_url: base,
  };
}

/** OAuth 2.0 error body (RFC 6749 §5.2), the shape Entra's token endpoint uses. */
function oauthError(status: number, error: string, description: string): OAuthResult {
  const code = /^AADSTS(\d+):/.exec(description);
  return {
    status,
    body: {
      error,
      error_description: description,
      error_codes: code ? [Number(code[1])] : [],
      timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z',
    },
  };
}

/** POST /{tenant}/oauth2/v2.0/token with an application/x-www-form-urlencoded body. */
export function issueToken(
  store: Store,
  form: URLSearchParams,
  authorization: string | undefined,
  now: number,
): OAuthResult {
  if (form.get('grant_type') !== 'client_credentials') {
    return oauthError(
      400,
      'unsupported_grant_type',
      `The grant type '${form.get('grant_type') ?? ''}' is not supported by this emulator; use client_credentials.`,
    );
  }
  let clientId = form.get('client_id');
  let secret = form.get('client_secret');
  if (authorization?.startsWith('Basic ')) {
    const [id, sec] = Buffer.from(authorization.slice(6), 'base64').toString('utf8').split(':');
    clientId = decodeURIComponent(id ?? '');
    secret = decodeURIComponent(sec ?? '');
  }
  const app = [...store.applications.values()].find((a) => a.appId === clientId);
  // Entra's AADSTS codes for these two (700016, 7000215) lead its descriptions; clients show that line.
  if (!app)
    return oauthError(
      400,
      'unauthorized_client',
      `AADSTS700016: Application with identifier '${clientId ?? ''}' was not found in the directory '${store.config.tenantDisplayName}'.`,
    );
  if (form.get('client_assertion'))
    return oauthError(401, 'invalid_client', 'This emulator accepts client secrets only.');
  if (!secret || !app.secrets.includes(secret))
    return oauthError(
      401,
      'invalid_client',
      `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.appId}'.`,
    );
  const scope = form.get('scope') ?? '';
  if (!scope.split(' ').some((s) => s.endsWith('/.default'))) {
    return oauthError(
      400,
      'invalid_scope',
      `The provided value '${scope}' for the input parameter 'scope' is not valid. The scope must end in /.default for the client credentials flow.`,
    );
  }
  const resource = scope
    .split(' ')
    .find((s) => s.endsWith('/.default'))!
    .slice(0, -'/.default'.length);
  const token = accessToken(store, app, resource, now);
  store.tokens.set(token, now + TOKEN_LIFETIME_S * 1000);
  return {
    status: 200,
    body: { token_type: 'Bearer', expires_in: TOKEN_LIFETIME_S, ext_expires_in: TOKEN_LIFETIME_S, access_token: token },
  };
}

/** The application permissions granted to a client (its app roles on Graph, admin-consented). */
export function grantedRoles(app: Application): readonly string[] {
  return app.roles ?? DEFAULT_ROLES;
}

function b64url(o: unknown): string {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}

/** `x5t`/`kid` of the signing certificate: base64url SHA-1 of its DER, as Entra publishes it. */
function thumbprint(certPem: string): string {
  return createHash('sha1').update(new X509Certificate(certPem).raw).digest('base64url');
}

/** An app-only access token, shaped like Entra's v1.0 tokens for Graph, signed RS256. */
function accessToken(store: Store, app: Application, resource: string, now: number): string {
  const t = store.config.tenantId;
  const kid = thumbprint(store.config.certPem);
  const iat = Math.floor(now / 1000);
  const roles = [...grantedRoles(app)];
  const claims: Record<string, unknown> = {
    aud: resource,
    iss: `https://sts.windows.net/${t}/`,
    iat,
    nbf: iat,
    exp: iat + TOKEN_LIFETIME_S,
    app_displayname: app.displayName,
    appid: app.appId,
    appidacr: '1',
    idp: `https://sts.windows.net/${t}/`,
    idtyp: 'app',
    oid: app.servicePrincipalId ?? app.id,
    // Entra leaves the claim out when the app holds no application permission.
    ...(roles.length > 0 ? { roles } : {}),
    sub: app.servicePrincipalId ?? app.id,
    tid: t,
    uti: randomUUID().replace(/-/g, ''),
    ver: '1.0',
  };
  const input = `${b64url({ typ: 'JWT', alg: 'RS256', x5t: kid, kid })}.${b64url(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), store.config.keyPem).toString('base64url')}`;
}

/** GET /{tenant}/discovery/v2.0/keys: the public key tokens are signed with. */
export function jwks(store: Store): Record<string, unknown> {
  const kid = thumbprint(store.config.certPem);
  const jwk = createPublicKey(store.config.certPem).export({ format: 'jwk' });
  const der = new X509Certificate(store.config.certPem).raw.toString('base64');
  return {
    keys: [
      {
        kty: 'RSA',
        use: 'sig',
        kid,
        x5t: kid,
        n: jwk.n,
        e: jwk.e,
        x5c: [der],
        issuer: `https://login.microsoftonline.com/${store.config.tenantId}/v2.0`,
      },
    ],
  };
}

/** The `roles` claim of a token the emulator issued; undefined for opaque tokens (older state files). */
function rolesOf(token: string): Set<string> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { roles?: unknown };
    return new Set(Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : []);
  } catch {
    return undefined;
  }
}

export interface BearerCheck {
  /** The 401 message when the token is missing, unknown or expired. */
  problem?: string;
  /** The token's application permissions (undefined: an opaque token, not checked). */
  roles?: Set<string>;
}

/** Checks the bearer token of a Graph request and reads its roles. */
export function authenticate(store: Store, authorization: string | undefined, now: number): BearerCheck {
  if (!authorization || !/^Bearer\s+\S/i.test(authorization)) return { problem: 'Access token is empty.' };
  const token = authorization.replace(/^Bearer\s+/i, '').trim();
  const exp = store.tokens.get(token);
  if (exp === undefined) return { problem: 'Access token validation failure. Invalid audience.' };
  if (exp <= now) {
    store.tokens.delete(token);
    return { problem: 'Lifetime validation failed, the token is expired.' };
  }
  const roles = rolesOf(token);
  return roles === undefined ? {} : { roles };
}

/** undefined when the bearer token is valid; otherwise the 401 message. */
export function checkBearer(store: Store, authorization: string | undefined, now: number): string | undefined {
  return authenticate(store, authorization, now).problem;
}
