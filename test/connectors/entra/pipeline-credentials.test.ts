/**
 * `credential.kind: github-actions-oidc` (issue 14): GitHub's OIDC token lives 5 minutes, so a run longer
 * than that needs a fresh one for every Graph token minted later. Driven against local HTTPS endpoints: a
 * runner token endpoint issuing 5-minute assertions and an Entra token endpoint that refuses an expired
 * assertion (AADSTS700024) and issues short-lived access tokens, both on an injected clock (no sleeping).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ClientAssertionCredential } from '@azure/identity';
import { generate } from 'selfsigned';
import {
  githubActionsOidcCredential,
  GitHubOidcAssertion,
} from '../../../src/connectors/entra/pipeline-credentials.js';
import { buildCredential } from '../../../src/connectors/entra/credential.js';
import { trust } from '../../emulator/helpers.js';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const REQUEST_TOKEN = 'runner-request-token-7d1f';
const SUBJECT = 'repo:contoso/identity:environment:entra-production';
const LIFETIME_S = 300; // GitHub's documented example tokens: exp = iat + 300

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = (claims: Record<string, unknown>) => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.sig`;
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, number | string>;

describe('github-actions-oidc: a fresh assertion for every token a long run needs', () => {
  let server: Server;
  let base: string;
  let clockMs = Date.UTC(2026, 11, 2, 8, 0, 0);
  const now = () => clockMs;
  const log: string[] = [];

  before(async () => {
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
      ],
    });
    trust(pems.cert);
    server = createServer({ cert: pems.cert, key: pems.private }, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const iat = Math.floor(clockMs / 1000);
      if (url.pathname === '/runner/idtoken') {
        // GitHub's runner: bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN, the audience as a query parameter.
        if (req.headers.authorization !== `bearer ${REQUEST_TOKEN}`) return send(401, { message: 'bad request token' });
        log.push(`runner ${url.searchParams.get('audience')}`);
        return send(200, {
          value: jwt({
            iss: 'https://token.actions.githubusercontent.com',
            sub: SUBJECT,
            aud: url.searchParams.get('audience'),
            iat,
            nbf: iat - 600,
            exp: iat + LIFETIME_S,
          }),
        });
      }
      if (url.pathname === `/${TENANT}/v2.0/.well-known/openid-configuration`) {
        return send(200, {
          token_endpoint: `${base}/${TENANT}/oauth2/v2.0/token`,
          issuer: `${base}/${TENANT}/v2.0`,
          authorization_endpoint: `${base}/${TENANT}/oauth2/v2.0/authorize`,
          jwks_uri: `${base}/${TENANT}/discovery/v2.0/keys`,
          response_types_supported: ['code'],
          subject_types_supported: ['pairwise'],
          id_token_signing_alg_values_supported: ['RS256'],
        });
      }
      if (url.pathname === `/${TENANT}/oauth2/v2.0/token`) {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          const form = new URLSearchParams(body);
          const assertion = form.get('client_assertion') ?? '';
          const c = claimsOf(assertion);
          // Entra's checks on a federated assertion: audience, subject, time range (AADSTS700024).
          if (c['aud'] !== 'api://AzureADTokenExchange' || c['sub'] !== SUBJECT)
            return send(400, {
              error: 'invalid_client',
              error_description: 'AADSTS70021: No matching federated identity record found for presented assertion.',
            });
          if (Number(c['exp']) <= Math.floor(clockMs / 1000)) {
            log.push('entra refused an expired assertion');
            return send(400, {
              error: 'invalid_client',
              error_description: 'AADSTS700024: Client assertion is not within its valid time range.',
            });
          }
          log.push('entra issued');
          // A short-lived access token: MSAL renews it on every request, as it would after an hour.
          send(200, { token_type: 'Bearer', expires_in: 1, ext_expires_in: 1, access_token: `graph-token-${iat}` });
        });
        return;
      }
      send(404, { error: 'not found' });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const common = () => ({ authorityHost: base, disableInstanceDiscovery: true });
  const scope = 'https://graph.microsoft.com/.default';

  it("a 40-minute run gets Graph tokens all along: each one past the last assertion's lifetime asks the runner again", async () => {
    log.length = 0;
    const { credential, assertion } = githubActionsOidcCredential(
      TENANT,
      CLIENT,
      { requestUrl: `${base}/runner/idtoken?api-version=2.0`, requestToken: REQUEST_TOKEN, now },
      common(),
    );
    const tokens: string[] = [];
    for (let minute = 0; minute <= 40; minute += 8) {
      const t = await credential.getToken(scope);
      assert.ok(t?.token.startsWith('graph-token-'), `a Graph token at minute ${minute}`);
      tokens.push(t!.token);
      clockMs += 8 * 60_000; // longer than one assertion's 5-minute lifetime
    }
    assert.equal(new Set(tokens).size, tokens.length, 'a new access token each time');
    assert.equal(assertion.requests, tokens.length, 'a fresh assertion for each');
    assert.ok(log.every((l) => l !== 'entra refused an expired assertion'));
    assert.ok(log.includes('runner api://AzureADTokenExchange'), "Entra's token-exchange audience");
  });

  it("within an assertion's lifetime the cached one is reused; near expiry a new one is fetched", async () => {
    const a = new GitHubOidcAssertion({
      requestUrl: `${base}/runner/idtoken?api-version=2.0`,
      requestToken: REQUEST_TOKEN,
      now,
    });
    const first = await a.get();
    clockMs += 3 * 60_000;
    assert.equal(await a.get(), first, '3 minutes in: the same token');
    clockMs += 90_000; // 4.5 minutes: within the 60 s margin
    assert.notEqual(await a.get(), first);
    assert.equal(a.requests, 2);
  });

  it('the control: an assertion fetched once (a token file written at the start) fails after 5 minutes with AADSTS700024', async () => {
    const once = await new GitHubOidcAssertion({
      requestUrl: `${base}/runner/idtoken?api-version=2.0`,
      requestToken: REQUEST_TOKEN,
      now,
    }).get();
    const stale = new ClientAssertionCredential(TENANT, CLIENT, async () => once, common());
    assert.ok(await stale.getToken(scope));
    clockMs += 8 * 60_000;
    await assert.rejects(stale.getToken(scope), /AADSTS700024/);
  });

  it("from the spec: credential.kind github-actions-oidc reads the runner's environment, and names what is missing", async () => {
    const spec = {
      tenantId: TENANT,
      endpoint: 'https://graph.microsoft.com',
      authorityHost: base,
      credential: { kind: 'github-actions-oidc' as const },
    };
    const env = {
      AZURE_CLIENT_ID: CLIENT,
      ACTIONS_ID_TOKEN_REQUEST_URL: `${base}/runner/idtoken?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
    };
    const built = await buildCredential(spec, '.', env);
    assert.equal(built.clientId, CLIENT);
    assert.ok((await built.credential.getToken(scope))?.token.startsWith('graph-token-'));
    await assert.rejects(
      buildCredential(spec, '.', { AZURE_CLIENT_ID: CLIENT }),
      /github-actions-oidc\) needs ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN/,
    );
    await assert.rejects(
      buildCredential({ ...spec, credential: { kind: 'azure-pipelines' } } as never, '.', {}),
      /azure-pipelines\) needs a client id .*SYSTEM_ACCESSTOKEN/,
    );
  });
});
