/**
 * Test plumbing for the emulator conformance suite: a running emulator trusted in-process, a token, and a
 * small `call()` over real HTTPS that returns status, headers and the parsed body.
 */
import tls from 'node:tls';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/index.js';

export interface Reply {
  status: number;
  headers: Headers;

  body: any;
}

export interface Harness {
  emu: RunningEmulator;
  token: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  get(path: string, headers?: Record<string, string>): Promise<Reply>;
  /** Creates a user in a verified domain and returns its id. */
  newUser(name: string, extra?: Record<string, unknown>): Promise<string>;
  newGroup(name: string, extra?: Record<string, unknown>): Promise<string>;
}

export const DOMAIN = 'contoso.example';

/** Trusts an emulator's self-signed certificate for this process (Node ≥ 22.19). */
export function trust(certPem: string): void {
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), certPem]);
}

export async function getToken(emu: RunningEmulator): Promise<string> {
  const r = await fetch(`${emu.authorityHost}/${emu.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: emu.clientId,
      client_secret: emu.clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    }),
  });
  const body = (await r.json()) as { access_token: string };
  return body.access_token;
}

export async function harness(options: EmulatorOptions = {}): Promise<Harness> {
  const emu = await startEmulator({ domains: [DOMAIN], ...options });
  trust(emu.certPem);
  const token = await getToken(emu);
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> => {
    const init: RequestInit = { method, headers: { Authorization: `Bearer ${token}`, ...headers } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
    }
    const url = path.startsWith('https://') ? path : `${emu.url}/v1.0${path}`;
    const r = await fetch(url, init);
    const text = await r.text();
    let parsed: unknown = text;
    if ((r.headers.get('content-type') ?? '').includes('json') && text.length > 0) parsed = JSON.parse(text);
    return { status: r.status, headers: r.headers, body: parsed };
  };
  let n = 0;
  return {
    emu,
    token,
    call,
    get: (path, headers) => call('GET', path, undefined, headers),
    async newUser(name, extra = {}) {
      const r = await call('POST', '/users', {
        accountEnabled: true,
        displayName: name,
        mailNickname: `${name}${++n}`,
        userPrincipalName: `${name}${n}@${DOMAIN}`,
        passwordProfile: { password: 'Pa55w.rd!Pa55w.rd', forceChangePasswordNextSignIn: false },
        ...extra,
      });
      if (r.status !== 201) throw new Error(`newUser: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id as string;
    },
    async newGroup(name, extra = {}) {
      const r = await call('POST', '/groups', {
        displayName: name,
        mailEnabled: false,
        securityEnabled: true,
        mailNickname: `${name}${++n}`,
        groupTypes: [],
        ...extra,
      });
      if (r.status !== 201) throw new Error(`newGroup: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id as string;
    },
  };
}

export const NOT_FOUND = (id: string): string =>
  `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`;

/** Asserts Graph's error shape (graph-facts §9) and returns error.code/message for exact checks. */
export function errorOf(r: Reply): { code: string; message: string; details?: unknown } {
  const e = r.body?.error;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string')
    throw new Error(`not a Graph error body: ${JSON.stringify(r.body)}`);
  if (typeof e.innerError?.['request-id'] !== 'string' || typeof e.innerError?.date !== 'string')
    throw new Error(`no innerError: ${JSON.stringify(r.body)}`);
  return e;
}
