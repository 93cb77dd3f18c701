/**
 * Pipeline identities whose federated token is refreshed for long runs (facts: pipeline §4.1–4.3).
 *
 * GitHub Actions: the runner's OIDC token lives about 5 minutes, so a token file written once (what
 * `azure/login` does) fails on the first Graph token minted after that (AADSTS700024). `github-actions-oidc`
 * asks the runner for a fresh one (GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…, bearer
 * $ACTIONS_ID_TOKEN_REQUEST_TOKEN) whenever the last is near expiry, and hands it to Entra through
 * ClientAssertionCredential, which calls back each time it needs a new access token.
 *
 * Azure Pipelines: `azure-pipelines` is @azure/identity's AzurePipelinesCredential, which requests a fresh
 * OIDC token from the pipeline (SYSTEM_OIDCREQUESTURI) for every access token.
 */
import { AzurePipelinesCredential, ClientAssertionCredential, type TokenCredential } from '@azure/identity';
import { TargetError } from '../../errors.js';
import { registerSecret } from '../../cli/redact.js';

/** The audience Entra's federated credentials expect (and azure/login uses). */
export const AZURE_AD_TOKEN_EXCHANGE = 'api://AzureADTokenExchange';

export interface GitHubOidcOptions {
  /** ACTIONS_ID_TOKEN_REQUEST_URL (it carries a query string already). */
  requestUrl: string;
  /** ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  requestToken: string;
  audience?: string;
  /** A fresh token is requested when the cached one expires within this margin (default 60 s). */
  marginMs?: number;
  /** The clock (ms since the epoch): injected by tests to run past an assertion's lifetime without waiting. */
  now?: () => number;
  fetch?: typeof fetch;
}

/** The `exp` claim (seconds) of a JWT, read without verifying it (Entra verifies it). */
function expiry(jwt: string): number | undefined {
  const payload = jwt.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp : undefined;
  } catch {
    return undefined;
  }
}

/** GitHub's OIDC token for the job, cached until it is near expiry. */
export class GitHubOidcAssertion {
  private cached: { token: string; expMs: number } | undefined;
  /** How many tokens were requested from the runner (observability, tests). */
  requests = 0;
  private readonly now: () => number;
  private readonly margin: number;

  constructor(private readonly options: GitHubOidcOptions) {
    this.now = options.now ?? Date.now;
    this.margin = options.marginMs ?? 60_000;
    registerSecret(options.requestToken);
  }

  async get(): Promise<string> {
    if (this.cached !== undefined && this.cached.expMs - this.now() > this.margin) return this.cached.token;
    const url = `${this.options.requestUrl}${this.options.requestUrl.includes('?') ? '&' : '?'}audience=${encodeURIComponent(this.options.audience ?? AZURE_AD_TOKEN_EXCHANGE)}`;
    let body: unknown;
    let status: number | undefined;
    try {
      const res = await (this.options.fetch ?? fetch)(url, {
        headers: { Authorization: `bearer ${this.options.requestToken}`, Accept: 'application/json' },
      });
      status = res.status;
      body = res.ok ? await res.json() : undefined;
    } catch (err) {
      throw new TargetError(
        'github_oidc_unavailable',
        `GitHub Actions: cannot request an OIDC token from the runner: ${(err as Error).message}`,
        {
          hint: 'the job needs `permissions: id-token: write`; pull requests from forks get no OIDC token',
        },
      );
    }
    const token = (body as { value?: unknown } | undefined)?.value;
    if (typeof token !== 'string' || token === '') {
      throw new TargetError(
        'github_oidc_unavailable',
        `GitHub Actions: the runner gave no OIDC token (HTTP ${status})`,
        {
          hint: 'the job needs `permissions: id-token: write`; pull requests from forks get no OIDC token',
        },
      );
    }
    registerSecret(token);
    this.requests++;
    const exp = expiry(token);
    // Without an exp claim the token is used once (every access token asks for a new one).
    this.cached = { token, expMs: exp === undefined ? 0 : exp * 1000 };
    return token;
  }
}

export function githubActionsOidcCredential(
  tenantId: string,
  clientId: string,
  options: GitHubOidcOptions,
  common: { authorityHost: string; disableInstanceDiscovery?: boolean },
): { credential: TokenCredential; assertion: GitHubOidcAssertion } {
  const assertion = new GitHubOidcAssertion(options);
  return { credential: new ClientAssertionCredential(tenantId, clientId, () => assertion.get(), common), assertion };
}

/** The GitHub OIDC credential from the runner's environment, or a clear error naming what is missing. */
export function githubActionsOidcFromEnv(
  tenantId: string,
  clientId: string | undefined,
  audience: string | undefined,
  env: NodeJS.ProcessEnv,
  common: { authorityHost: string; disableInstanceDiscovery?: boolean },
): TokenCredential {
  const requestUrl = env['ACTIONS_ID_TOKEN_REQUEST_URL'];
  const requestToken = env['ACTIONS_ID_TOKEN_REQUEST_TOKEN'];
  if (clientId === undefined || requestUrl === undefined || requestToken === undefined) {
    const missing = [
      clientId === undefined ? 'a client id (credential.clientId or AZURE_CLIENT_ID)' : '',
      requestUrl === undefined ? 'ACTIONS_ID_TOKEN_REQUEST_URL' : '',
      requestToken === undefined ? 'ACTIONS_ID_TOKEN_REQUEST_TOKEN' : '',
    ].filter(Boolean);
    throw new TargetError(
      'entra_credential_incomplete',
      `target.entra.credential (github-actions-oidc) needs ${missing.join(', ')}`,
      {
        hint: 'run in a GitHub Actions job with `permissions: id-token: write` (the runner sets ACTIONS_ID_TOKEN_REQUEST_*); fork pull requests get no OIDC token',
      },
    );
  }
  return githubActionsOidcCredential(
    tenantId,
    clientId,
    { requestUrl, requestToken, ...(audience !== undefined ? { audience } : {}) },
    common,
  ).credential;
}

/** AzurePipelinesCredential from the task's environment (service connection id, System.AccessToken). */
export function azurePipelinesFromEnv(
  tenantId: string,
  clientId: string | undefined,
  serviceConnectionId: string | undefined,
  env: NodeJS.ProcessEnv,
  common: { authorityHost: string; disableInstanceDiscovery?: boolean },
): TokenCredential {
  const systemAccessToken = env['SYSTEM_ACCESSTOKEN'];
  const missing = [
    clientId === undefined ? 'a client id (credential.clientId or AZURESUBSCRIPTION_CLIENT_ID)' : '',
    serviceConnectionId === undefined
      ? 'a service connection id (credential.serviceConnectionId or AZURESUBSCRIPTION_SERVICE_CONNECTION_ID)'
      : '',
    systemAccessToken === undefined
      ? 'SYSTEM_ACCESSTOKEN (map it: env: SYSTEM_ACCESSTOKEN: $(System.AccessToken))'
      : '',
    env['SYSTEM_OIDCREQUESTURI'] === undefined ? 'SYSTEM_OIDCREQUESTURI (set by Azure Pipelines)' : '',
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new TargetError(
      'entra_credential_incomplete',
      `target.entra.credential (azure-pipelines) needs ${missing.join(', ')}`,
      {
        hint: 'run in an Azure Pipelines job; the service connection uses workload identity federation',
      },
    );
  }
  registerSecret(systemAccessToken!);
  return new AzurePipelinesCredential(tenantId, clientId!, serviceConnectionId!, systemAccessToken!, common);
}
