/**
 * Trusting an extra CA in-process (tls.setDefaultCACertificates). This file runs in its own process (node:test
 * isolates files), so the emulator's certificate is untrusted until a test trusts it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { startEmulator } from '../../../src/emulator/index.js';
import type { RunningEmulator } from '../../../src/emulator/index.js';
import { connectEntra } from '../../../src/connectors/entra/index.js';
import type { EntraTargetSpec } from '../../../src/spec/types.js';
import { TargetError } from '../../../src/errors.js';

let emu: RunningEmulator;
let dir: string;
let other: Server;
let otherUrl: string;

before(async () => {
  emu = await startEmulator({});
  dir = await mkdtemp(join(tmpdir(), 'adsync-tls-'));
  await writeFile(join(dir, 'emulator.pem'), emu.certPem);
  process.env['ADSYNC_TLS_TEST_SECRET'] = emu.clientSecret;
  // A second HTTPS server with a certificate nobody trusts, to stand for an untrusted Graph endpoint.
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  other = createServer({ key: pems.private, cert: pems.cert }, (_req, res) => {
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  otherUrl = `https://127.0.0.1:${(other.address() as AddressInfo).port}`;
});
after(async () => {
  other?.close();
  await emu?.close();
});

function spec(extra: Partial<EntraTargetSpec> = {}): EntraTargetSpec {
  return {
    tenantId: emu.tenantId,
    endpoint: emu.url,
    authorityHost: emu.authorityHost,
    credential: { kind: 'client-secret', clientId: emu.clientId, secret: { env: 'ADSYNC_TLS_TEST_SECRET' } },
    ...extra,
  };
}

test('an untrusted authority certificate is one clear TargetError with a hint', async () => {
  await assert.rejects(connectEntra(spec(), dir), (err: unknown) => {
    assert.ok(err instanceof TargetError, String(err));
    assert.equal(err.code, 'entra_tls_untrusted', err.message);
    assert.match(err.hint ?? '', /target\.entra\.ca/);
    assert.ok(!err.message.includes(emu.clientSecret));
    return true;
  });
});

test('with target.entra.ca, both the token request (@azure/identity) and Graph (SDK fetch) trust the emulator', async () => {
  const t = await connectEntra(spec({ ca: 'emulator.pem' }), dir, { writeBudget: null });
  assert.equal(t.tenant.tenantId, emu.tenantId);
  const snap = await t.read({ userProperties: [], groupProperties: [], readMembers: true });
  assert.equal(snap.system, 'entra');
  assert.ok(t.stats.requests >= 3);
});

test('an untrusted Graph endpoint (token fine) is one clear TargetError naming the endpoint', async () => {
  await assert.rejects(connectEntra(spec({ ca: 'emulator.pem', endpoint: otherUrl }), dir), (err: unknown) => {
    assert.ok(err instanceof TargetError, String(err));
    assert.equal(err.code, 'entra_tls_untrusted', err.message);
    assert.ok(err.message.includes(otherUrl), err.message);
    return true;
  });
});
