import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphCallError } from '../../../src/connectors/entra/graph.js';
import { toTargetError } from '../../../src/connectors/entra/errors.js';
import { needsInstanceDiscoveryDisabled } from '../../../src/connectors/entra/credential.js';

const ctx = { endpoint: 'https://graph.microsoft.com', authorityHost: 'https://login.microsoftonline.com' };
const call = (status: number, code: string, message: string): GraphCallError =>
  new GraphCallError({ status, code, message, method: 'GET', path: '/users' });

test('403 names the permission the operation needs', () => {
  const e = toTargetError(
    call(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'),
    'reading users',
    { ...ctx, permission: 'users' },
  );
  assert.equal(e.code, 'entra_forbidden');
  assert.equal(
    e.message,
    'Entra: access denied while reading users: 403 Authorization_RequestDenied: Insufficient privileges to complete the operation.',
  );
  assert.match(e.hint ?? '', /User\.Read\.All/);
});

test('401, network and TLS failures each get their own code and a one-line message', () => {
  assert.equal(
    toTargetError(call(401, 'InvalidAuthenticationToken', 'Access token validation failure.'), 'reading users', ctx)
      .code,
    'entra_unauthorized',
  );
  const net = toTargetError(
    call(-1, 'NetworkError', 'ECONNREFUSED: connect ECONNREFUSED 10.0.0.1:443'),
    'reading users',
    ctx,
  );
  assert.equal(net.code, 'entra_unreachable');
  assert.match(net.message, /ECONNREFUSED/);
  const tls = toTargetError(
    call(-1, 'NetworkError', 'SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain'),
    'reading users',
    ctx,
  );
  assert.equal(tls.code, 'entra_tls_untrusted');
  assert.match(tls.hint ?? '', /target\.entra\.ca/);
  const auth = toTargetError(
    call(
      -1,
      'AuthenticationError',
      'ClientSecretCredential authentication failed: AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\nTrace ID: x',
    ),
    'reading users',
    ctx,
  );
  assert.equal(auth.code, 'entra_auth_failed');
  assert.equal(auth.message, 'Entra: could not obtain a token: AADSTS7000215: Invalid client secret provided.');
});

test('instance discovery is disabled for any authority that is not a Microsoft cloud', () => {
  assert.equal(needsInstanceDiscoveryDisabled('https://login.microsoftonline.com'), false);
  assert.equal(needsInstanceDiscoveryDisabled('https://login.microsoftonline.us/'), false);
  assert.equal(needsInstanceDiscoveryDisabled('https://127.0.0.1:8443'), true);
  assert.equal(needsInstanceDiscoveryDisabled('https://login.contoso.example'), true);
});
