/** Identity endpoints and bearer checks (DESIGN §6, graph-facts §9 and §13), through real HTTPS. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClientSecretCredential } from '@azure/identity';
import { Client, PageIterator } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js';
import { errorOf, harness, type Harness } from './helpers.js';

describe('emulator: authentication', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.emu.close();
  });

  it('serves OIDC metadata with the endpoints MSAL needs', async () => {
    const r = await fetch(`${h.emu.authorityHost}/${h.emu.tenantId}/v2.0/.well-known/openid-configuration`);
    assert.equal(r.status, 200);
    const m = (await r.json()) as Record<string, string>;
    for (const k of ['token_endpoint', 'issuer', 'authorization_endpoint', 'jwks_uri', 'end_session_endpoint'])
      assert.equal(typeof m[k], 'string', k);
    assert.equal(m['token_endpoint'], `${h.emu.authorityHost}/${h.emu.tenantId}/oauth2/v2.0/token`);
  });

  it('issues a bearer token for the client-credentials grant', async () => {
    const r = await fetch(`${h.emu.authorityHost}/${h.emu.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: h.emu.clientId,
        client_secret: h.emu.clientSecret,
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
    assert.equal(r.status, 200);
    const b = (await r.json()) as Record<string, unknown>;
    assert.equal(b['token_type'], 'Bearer');
    assert.equal(typeof b['expires_in'], 'number');
    assert.equal(typeof b['access_token'], 'string');
  });

  it('refuses a wrong client secret', async () => {
    const r = await fetch(`${h.emu.authorityHost}/${h.emu.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: h.emu.clientId,
        client_secret: 'wrong',
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
    assert.equal(r.status, 401);
    assert.equal(((await r.json()) as { error: string }).error, 'invalid_client');
  });

  it('answers 401 InvalidAuthenticationToken without a token, with request-id and the echoed client-request-id', async () => {
    const r = await fetch(`${h.emu.url}/v1.0/users`, { headers: { 'client-request-id': 'abc-123' } });
    assert.equal(r.status, 401);
    const body = (await r.json()) as { error: { code: string; innerError: Record<string, string> } };
    assert.equal(body.error.code, 'InvalidAuthenticationToken');
    assert.match(body.error.innerError['date']!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    assert.equal(body.error.innerError['request-id'], r.headers.get('request-id'));
    assert.equal(r.headers.get('client-request-id'), 'abc-123');
    assert.equal(body.error.innerError['client-request-id'], 'abc-123');
  });

  it('answers 401 for an unknown token', async () => {
    const r = await fetch(`${h.emu.url}/v1.0/users`, { headers: { Authorization: 'Bearer nope' } });
    assert.equal(r.status, 401);
    assert.equal(
      errorOf({ status: r.status, headers: r.headers, body: await r.json() }).code,
      'InvalidAuthenticationToken',
    );
  });

  it('works with the real ClientSecretCredential and Graph SDK, following nextLink', async () => {
    for (let i = 0; i < 5; i++) await h.newUser(`sdk${i}`);
    const credential = new ClientSecretCredential(h.emu.tenantId, h.emu.clientId, h.emu.clientSecret, {
      authorityHost: h.emu.authorityHost,
      disableInstanceDiscovery: true,
    });
    const client = Client.initWithMiddleware({
      authProvider: new TokenCredentialAuthenticationProvider(credential, {
        scopes: ['https://graph.microsoft.com/.default'],
      }),
      baseUrl: h.emu.url,
      customHosts: new Set(['127.0.0.1']),
    });
    const first = (await client.api('/users').top(2).select('id,userPrincipalName').get()) as {
      value: unknown[];
      '@odata.nextLink'?: string;
    };
    assert.equal(first.value.length, 2);
    assert.match(first['@odata.nextLink'] ?? '', /^https:\/\/127\.0\.0\.1:\d+\/v1\.0\/users\?.*\$skiptoken=/);
    const upns: string[] = [];
    await new PageIterator(client, first, (u) => {
      upns.push((u as { userPrincipalName: string }).userPrincipalName);
      return true;
    }).iterate();
    assert.equal(upns.length, 5);
    assert.deepEqual(
      upns.map((u) => u.replace(/\d+@.*$/, '')),
      ['sdk', 'sdk', 'sdk', 'sdk', 'sdk'],
    );
  });
});
