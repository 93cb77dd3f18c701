/**
 * The one door to Microsoft Graph: the official SDK client (auth, redirects, telemetry headers) with adsync's
 * own retry policy for 429/503/504 (Retry-After honoured, backoff with jitter, bounded), a request counter,
 * and errors that keep the HTTP status, Graph's code and message, and the network cause.
 *
 * The SDK's RetryHandler is left out of the chain on purpose: adsync retries itself so that retries are
 * counted, Retry-After inside $batch is handled the same way as outside, and nothing is retried twice.
 */
import {
  AuthenticationHandler,
  Client,
  RedirectHandler,
  RedirectHandlerOptions,
  TelemetryHandler,
} from '@microsoft/microsoft-graph-client';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js';
import type { TokenCredential } from '@azure/identity';
import { backoffMs, retryAfterMs, TRANSIENT_STATUSES } from './retry.js';
import { AdsyncError } from '../../errors.js';

export { backoffMs, retryAfterMs, TRANSIENT_STATUSES } from './retry.js';

/** A failed Graph call, with what Graph said (never a token: the SDK does not put one in errors). */
export class GraphCallError extends Error {
  /** HTTP status, or -1 when no response came back (network, TLS, token acquisition). */
  readonly status: number;
  /** Graph's error code (`Request_ResourceNotFound`), or the failing layer's error name. */
  readonly code: string;
  readonly details: { code?: string; target?: string; message?: string }[];
  readonly headers: Record<string, string>;
  readonly method: string;
  readonly path: string;
  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: GraphCallError['details'];
    headers?: Record<string, string>;
    method: string;
    path: string;
  }) {
    super(init.message);
    this.name = 'GraphCallError';
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? [];
    this.headers = init.headers ?? {};
    this.method = init.method;
    this.path = init.path;
  }
}

/** Thrown from the fetch step so the SDK's error keeps the network cause (ECONNREFUSED, cert errors). */
class NetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetworkError';
  }
}

/** The last step of the middleware chain: fetch, with the cause of a network failure kept in the message. */
class FetchHandler implements Middleware {
  constructor(private readonly onRequest: () => void) {}
  async execute(context: Context): Promise<void> {
    this.onRequest();
    try {
      context.response = await fetch(context.request, context.options);
    } catch (err) {
      throw new NetworkError(describeNetworkError(err));
    }
  }
}

export function describeNetworkError(err: unknown): string {
  const e = err as {
    message?: string;
    code?: string;
    cause?: { code?: string; message?: string; cause?: { code?: string } };
  };
  const code = e.cause?.code ?? e.code ?? e.cause?.cause?.code;
  const msg = e.cause?.message ?? e.message ?? String(err);
  return code !== undefined && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

export interface GraphRetryEvent {
  method: string;
  path: string;
  status: number;
  attempt: number;
  delayMs: number;
}

export interface GraphOptions {
  onRetry?: (event: GraphRetryEvent) => void;
  /** Attempts per request for 429/503/504/network errors (default 8). */
  maxAttempts?: number;
  /** Scale for backoff delays (tests); Retry-After is always honoured as given. */
  backoffBaseMs?: number;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Don't retry (the caller handles it, e.g. $batch). */
  noRetry?: boolean;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Direct calls back off up to 30 s between attempts (Retry-After, when Graph sends it, wins: retry.ts). */
const BACKOFF_CAP_MS = 30_000;

export class Graph {
  readonly client: Client;
  /** e.g. https://graph.microsoft.com (no trailing slash, no version). */
  readonly endpoint: string;
  requests = 0;
  retries = 0;
  private readonly options: GraphOptions;

  constructor(credential: TokenCredential, endpoint: string, options: GraphOptions = {}) {
    this.endpoint = endpoint.replace(/\/+$/, '').replace(/\/v1\.0$/, '');
    this.options = options;
    const url = new URL(this.endpoint);
    const authProvider = new TokenCredentialAuthenticationProvider(credential, { scopes: [`${url.origin}/.default`] });
    // The SDK's default chain minus RetryHandler (see the file comment), ending in our fetch step.
    const middleware: Middleware[] = [
      new AuthenticationHandler(authProvider),
      new RedirectHandler(new RedirectHandlerOptions()),
      new TelemetryHandler(),
      new FetchHandler(() => {
        this.requests++;
      }),
    ];
    this.client = Client.initWithMiddleware({
      middleware,
      baseUrl: `${this.endpoint}/`,
      customHosts: new Set([url.hostname]),
    });
  }

  /** Absolute URL of a directory object, as `@odata.bind` / `@odata.id` want it. */
  directoryObjectUrl(id: string): string {
    return `${this.endpoint}/v1.0/directoryObjects/${id}`;
  }

  async get<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.call<T>('GET', path, undefined, options);
  }
  async post<T = unknown>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return this.call<T>('POST', path, body, options);
  }
  async patch<T = unknown>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return this.call<T>('PATCH', path, body, options);
  }
  async delete(path: string, options: RequestOptions = {}): Promise<void> {
    await this.call('DELETE', path, undefined, options);
  }

  /** Every item of a paged collection, following @odata.nextLink verbatim. */
  async *pages<T = Record<string, unknown>>(
    path: string,
    options: RequestOptions = {},
  ): AsyncGenerator<T[], string | undefined> {
    let next: string | undefined = path;
    while (next !== undefined) {
      const page: { value?: T[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string } = await this.get(
        next,
        options,
      );
      yield page.value ?? [];
      if (page['@odata.nextLink'] === undefined) return page['@odata.deltaLink'];
      next = page['@odata.nextLink'];
    }
    return undefined;
  }

  async call<T>(method: string, path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    const maxAttempts = options.noRetry === true ? 1 : (this.options.maxAttempts ?? 8);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(method, path, body, options.headers);
      } catch (err) {
        if (!(err instanceof GraphCallError)) throw err;
        const transient =
          TRANSIENT_STATUSES.has(err.status) ||
          (err.status === -1 &&
            err.code === 'NetworkError' &&
            /ECONNRESET|EPIPE|ETIMEDOUT|UND_ERR_SOCKET|other side closed/i.test(err.message));
        if (!transient || attempt >= maxAttempts) throw err;
        const delayMs =
          retryAfterMs(err.headers) ?? backoffMs(attempt, this.options.backoffBaseMs ?? 1000, BACKOFF_CAP_MS);
        this.retries++;
        this.options.onRetry?.({ method, path, status: err.status, attempt, delayMs });
        await sleep(delayMs);
      }
    }
  }

  private async once<T>(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string> | undefined,
  ): Promise<T> {
    const req = this.client.api(path);
    if (headers !== undefined) req.headers(headers);
    try {
      switch (method) {
        case 'GET':
          return (await req.get()) as T;
        case 'POST':
          return (await req.post(body)) as T;
        case 'PATCH':
          return (await req.patch(body)) as T;
        case 'PUT':
          return (await req.put(body)) as T;
        case 'DELETE':
          return (await req.delete()) as T;
        default:
          throw new AdsyncError('internal', `unsupported method ${method}`);
      }
    } catch (err) {
      throw toGraphCallError(err, method, path);
    }
  }
}

function headersToRecord(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (h !== null && typeof h === 'object' && typeof (h as Headers).forEach === 'function') {
    (h as Headers).forEach((v, k) => {
      out[k.toLowerCase()] = v;
    });
  }
  return out;
}

export function toGraphCallError(err: unknown, method: string, path: string): GraphCallError {
  if (err instanceof GraphCallError) return err;
  const e = err as {
    statusCode?: number;
    code?: string | null;
    message?: string;
    body?: unknown;
    headers?: unknown;
    name?: string;
  };
  const status = typeof e.statusCode === 'number' ? e.statusCode : -1;
  let details: GraphCallError['details'] = [];
  if (typeof e.body === 'string' && e.body.startsWith('{')) {
    try {
      const parsed = JSON.parse(e.body) as { details?: GraphCallError['details'] };
      if (Array.isArray(parsed.details)) details = parsed.details;
    } catch {
      /* not JSON */
    }
  }
  return new GraphCallError({
    status,
    code: e.code ?? e.name ?? 'Error',
    message: e.message ?? String(err),
    details,
    headers: headersToRecord(e.headers),
    method,
    path: stripQuery(path),
  });
}

function stripQuery(path: string): string {
  const i = path.indexOf('?');
  return i === -1 ? path : path.slice(0, i);
}
