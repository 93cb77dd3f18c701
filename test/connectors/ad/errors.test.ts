/**
 * Each way a DC connection fails gives one clear SourceError line with a code and a hint.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AdSource } from '../../../src/connectors/ad/index.js';
import { AdsyncError, SourceError } from '../../../src/errors.js';
import type { SambaDc } from '../../support/samba.js';
import { sambaEnv, sambaSkipReason, sambaSourceSpec, startSamba } from '../../support/samba.js';

const skip = await sambaSkipReason();

function oneClearLine(e: unknown, code: string, pattern: RegExp): boolean {
  assert.ok(e instanceof SourceError, `a SourceError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  assert.equal(e.exitCode, 1);
  assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
  assert.match(e.message, pattern);
  assert.ok(e.hint && e.hint.length > 10, 'has a hint');
  return true;
}

describe('AD source errors against Samba AD DC', { skip }, () => {
  let dc: SambaDc;
  let silent: Server;
  let silentPort = 0;

  before(async () => {
    dc = await startSamba();
    // Accepts TCP and never answers: a TLS handshake that hangs, like a firewall black hole past the SYN.
    silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as AddressInfo).port;
  });
  after(async () => {
    silent?.close();
    await dc?.stop();
  });

  const read = async (src: AdSource, baseDns: string[] = []) => {
    try {
      return await src.read({ attributes: ['cn'], baseDns });
    } finally {
      await src.close();
    }
  };

  it('wrong password: LDAP 49, invalid credentials', async () => {
    const src = new AdSource(sambaSourceSpec(dc), '/', { env: sambaEnv(dc, 'not-the-password') });
    await assert.rejects(read(src), (e) =>
      oneClearLine(
        e,
        'ldap_invalid_credentials',
        /bind to 127\.0\.0\.1:636 as CN=Administrator.*invalid credentials \(LDAP 49/,
      ),
    );
  });

  it('unreachable host: connection refused', async () => {
    const src = new AdSource(sambaSourceSpec(dc, { ldap: { url: 'ldaps://127.0.0.1:1' } }), '/', { env: sambaEnv(dc) });
    await assert.rejects(read(src), (e) =>
      oneClearLine(e, 'ldap_unreachable', /cannot reach ldaps:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/),
    );
  });

  it('unreachable host: connect timeout', async () => {
    const src = new AdSource(sambaSourceSpec(dc, { ldap: { url: `ldaps://127.0.0.1:${silentPort}` } }), '/', {
      env: sambaEnv(dc),
      connectTimeoutMs: 500,
    });
    const t0 = Date.now();
    await assert.rejects(read(src), (e) => oneClearLine(e, 'ldap_unreachable', /connect timed out/));
    assert.ok(Date.now() - t0 < 5000, 'gives up after the connect timeout');
  });

  it('untrusted certificate: names the CA option', async () => {
    const src = new AdSource(sambaSourceSpec(dc, { ldap: { ca: dc.untrustedCaPath } }), '/', { env: sambaEnv(dc) });
    await assert.rejects(
      read(src),
      (e) =>
        oneClearLine(e, 'ldap_tls_untrusted', /certificate is not trusted/) &&
        /ldap\.ca/.test((e as AdsyncError).hint!),
    );
    const noCa = sambaSourceSpec(dc);
    delete noCa.ldap!.ca;
    await assert.rejects(
      read(new AdSource(noCa, '/', { env: sambaEnv(dc) })),
      (e) =>
        oneClearLine(e, 'ldap_tls_untrusted', /not trusted/) &&
        /set sources\[corp\]\.ldap\.ca/.test((e as AdsyncError).hint!),
    );
  });

  it('no secret is sent when the certificate is not trusted', async () => {
    // The TLS check happens before bind: an untrusted DC never sees the password (a wrong one would be 49).
    const src = new AdSource(sambaSourceSpec(dc, { ldap: { ca: dc.untrustedCaPath } }), '/', {
      env: sambaEnv(dc, 'wrong'),
    });
    await assert.rejects(read(src), (e) => e instanceof SourceError && e.code === 'ldap_tls_untrusted');
  });

  it('base DN that does not exist: LDAP 32 noSuchObject', async () => {
    const src = new AdSource(sambaSourceSpec(dc), '/', { env: sambaEnv(dc) });
    await assert.rejects(read(src, ['OU=Nowhere,DC=contoso,DC=test']), (e) =>
      oneClearLine(
        e,
        'ldap_no_such_object',
        /search base OU=Nowhere,DC=contoso,DC=test does not exist on 127\.0\.0\.1:636 \(LDAP 32 noSuchObject\)/,
      ),
    );
    const viaSpec = new AdSource(sambaSourceSpec(dc, { ldap: { baseDn: 'OU=Gone,DC=contoso,DC=test' } }), '/', {
      env: sambaEnv(dc),
    });
    await assert.rejects(read(viaSpec), (e) => oneClearLine(e, 'ldap_no_such_object', /OU=Gone/));
  });

  it('refuses a cleartext bind and a missing password variable before connecting', async () => {
    const clear = new AdSource(sambaSourceSpec(dc, { ldap: { url: dc.startTlsUrl } }), '/', { env: sambaEnv(dc) });
    await assert.rejects(read(clear), (e) => oneClearLine(e, 'ldap_cleartext', /clear text/));
    const noEnv = new AdSource(sambaSourceSpec(dc), '/', { env: {} });
    await assert.rejects(
      read(noEnv),
      (e) => e instanceof AdsyncError && e.code === 'secret_missing' && /ADSYNC_TEST_LDAP_PASSWORD/.test(e.message),
    );
  });
});
