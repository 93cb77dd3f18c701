/**
 * The identity side: OIDC discovery and the client-credentials token endpoint, enough for the real
 * `@azure/identity` → MSAL path (DESIGN §6, graph-facts §13), and bearer checks on `/v1.0`.
 * Tokens are opaque random strings; MSAL and the Graph SDK never look inside an access token.
 */
import { randomBytes } from 'node:crypto';
import type { Store } from './store.js';

export const TOKEN_LIFETIME_S = 3599;

export interface OAuthResult { status: number; body: Record<string, unknown>; headers?: Record<string, string> }

/** Tenant path segment accepted: the tenant id, a verified domain, or the usual aliases. */
export function tenantMatches(store: Store, segment: string): boolean {
  const s = segment.toLowerCase();
  return s === store.config.tenantId.toLowerCase() || s === store.config.initialDomain.toLowerCase()
    || store.config.domains.some((d) => d.toLowerCase() === s) || s === 'organizations';
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
  return { status, body: { error, error_description: description, error_codes: [], timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z' } };
}

/** POST /{tenant}/oauth2/v2.0/token with an application/x-www-form-urlencoded body. */
export function issueToken(store: Store, form: URLSearchParams, authorization: string | undefined, now: number): OAuthResult {
  if (form.get('grant_type') !== 'client_credentials') {
    return oauthError(400, 'unsupported_grant_type', `The grant type '${form.get('grant_type') ?? ''}' is not supported by this emulator; use client_credentials.`);
  }
  let clientId = form.get('client_id');
  let secret = form.get('client_secret');
  if (authorization?.startsWith('Basic ')) {
    const [id, sec] = Buffer.from(authorization.slice(6), 'base64').toString('utf8').split(':');
    clientId = decodeURIComponent(id ?? '');
    secret = decodeURIComponent(sec ?? '');
  }
  const app = [...store.applications.values()].find((a) => a.appId === clientId);
  if (!app) return oauthError(400, 'unauthorized_client', `Application with identifier '${clientId ?? ''}' was not found in the directory.`);
  if (form.get('client_assertion')) return oauthError(401, 'invalid_client', 'This emulator accepts client secrets only.');
  if (!secret || !app.secrets.includes(secret)) return oauthError(401, 'invalid_client', 'Invalid client secret provided.');
  const scope = form.get('scope') ?? '';
  if (!scope.split(' ').some((s) => s.endsWith('/.default'))) {
    return oauthError(400, 'invalid_scope', `The provided value '${scope}' for the input parameter 'scope' is not valid. The scope must end in /.default for the client credentials flow.`);
  }
  const token = randomBytes(32).toString('base64url');
  store.tokens.set(token, now + TOKEN_LIFETIME_S * 1000);
  return { status: 200, body: { token_type: 'Bearer', expires_in: TOKEN_LIFETIME_S, ext_expires_in: TOKEN_LIFETIME_S, access_token: token } };
}

/** undefined when the bearer token is valid; otherwise the 401 message. */
export function checkBearer(store: Store, authorization: string | undefined, now: number): string | undefined {
  if (!authorization || !/^Bearer\s+\S/i.test(authorization)) return 'Access token is empty.';
  const token = authorization.replace(/^Bearer\s+/i, '').trim();
  const exp = store.tokens.get(token);
  if (exp === undefined) return 'Access token validation failure. Invalid audience.';
  if (exp <= now) { store.tokens.delete(token); return 'Lifetime validation failed, the token is expired.'; }
  return undefined;
}
