/**
 * `adsync doctor` against Samba AD DC: an admin passes; an account denied read on one scoped OU gets an error
 * naming that OU, and the CLI exits 1 with the findings in --json.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Client } from 'ldapts';
import { checkLdapSource, runDoctor } from '../../../src/doctor/ldap.js';
import type { Finding } from '../../../src/doctor/ldap.js';
import type { SambaDc } from '../../support/samba.js';
import { adminClient, sambaEnv, sambaSkipReason, sambaSourceSpec, startSamba } from '../../support/samba.js';
import { addOu, addUser, uniqueSuffix } from '../../support/samba-seed.js';

const run = promisify(execFile);
const skip = await sambaSkipReason();
const SVC_PASSWORD = 'Svc-Acc0unt-Pa55!';

function sidString(b: Buffer): string {
  let s = `S-${b[0]}-${b.readUIntBE(2, 6)}`;
  for (let i = 0; i < b[1]!; i++) s += `-${b.readUInt32LE(8 + 4 * i)}`;
  return s;
}

const find = (fs: Finding[], check: string) => fs.find((f) => f.check === check);

describe('adsync doctor against Samba AD DC', { skip }, () => {
  let dc: SambaDc;
  let admin: Client;
  let open: string;
  let closed: string;
  let svc: string;
  const sfx = uniqueSuffix();

  before(async () => {
    dc = await startSamba();
    admin = await adminClient(dc);
    const root = await addOu(admin, `adsync-doctor-${sfx}`, dc.baseDn);
    open = await addOu(admin, 'Open', root);
    closed = await addOu(admin, 'Closed', root);
    await addUser(admin, open, {
      cn: 'Olga Open',
      sam: `olga${sfx}`,
      upn: `olga.${sfx}@contoso.test`,
      attrs: { mail: 'olga@contoso.test', givenName: 'Olga', sn: 'Open', displayName: 'Olga Open' },
    });
    await addUser(admin, closed, { cn: 'Carl Closed', sam: `carl${sfx}`, upn: `carl.${sfx}@contoso.test` });
    svc = await addUser(admin, root, { cn: 'svc-sync', sam: `svc${sfx}`, password: SVC_PASSWORD });
    const { searchEntries } = await admin.search(svc, {
      scope: 'base',
      attributes: ['objectSid'],
      explicitBufferAttributes: ['objectSid'],
    });
    const sid = sidString(searchEntries[0]!['objectSid'] as Buffer);
    // Deny the sync account Read Property, List Children, List Object and Read Control on Closed and below.
    await run('samba-tool', [
      'dsacl',
      'set',
      '-H',
      join(dc.dir, 'dc', 'private', 'sam.ldb'),
      `--objectdn=${closed}`,
      `--sddl=(D;CI;RPLCLORC;;;${sid})`,
      '--action=deny',
    ]);
  });
  after(async () => {
    await admin?.unbind();
    await dc?.stop();
  });

  it('all ok for an account with read rights; reports the ms-DS-ConsistencyGuid schema and write access', async () => {
    const spec = sambaSourceSpec(dc, { scope: { ous: { include: [open, closed], exclude: [] } } });
    const fs = await checkLdapSource(spec, '/', { env: sambaEnv(dc) });
    assert.deepEqual(
      fs.filter((f) => f.status === 'error'),
      [],
    );
    assert.equal(find(fs, 'tls')?.status, 'ok');
    assert.match(find(fs, 'tls')!.message, /certificate verified/);
    assert.equal(find(fs, 'bind')?.status, 'ok');
    assert.equal(find(fs, `read:${open}`)?.status, 'ok');
    assert.equal(find(fs, `read:${closed}`)?.status, 'ok');
    assert.equal(find(fs, 'schema:ms-ds-consistencyguid')?.status, 'ok');
    assert.equal(find(fs, 'write:ms-ds-consistencyguid')?.status, 'ok', 'Administrator may write it');
    assert.equal(find(fs, `dirsync:${dc.baseDn}`)?.status, 'ok', 'Administrator may replicate changes');
  });

  it('reports the missing read permission on the denied OU, and only there', async () => {
    const spec = sambaSourceSpec(dc, {
      ldap: { bindDn: svc },
      scope: { ous: { include: [open, closed], exclude: [] } },
    });
    const report = await runDoctor({ sources: [spec], dir: '/' }, { env: sambaEnv(dc, SVC_PASSWORD) });
    const fs = report.findings;
    assert.equal(find(fs, 'bind')?.status, 'ok');
    assert.equal(find(fs, `read:${open}`)?.status, 'ok');
    const denied = find(fs, `read:${closed}`);
    assert.equal(denied?.status, 'error', JSON.stringify(fs, null, 2));
    assert.match(denied.message, /cannot read OU=Closed|may not see it/);
    assert.match(denied.fix!, /Read all properties.*List contents/);
    assert.equal(report.errors, 1);
    const write = find(fs, 'write:ms-ds-consistencyguid');
    assert.equal(write?.status, 'warning', 'a plain user may not write ms-DS-ConsistencyGuid');
    assert.match(write.fix!, /mS-DS-ConsistencyGuid/);
    // DirSync needs Replicating Directory Changes, which a plain user lacks: a warning (polling still works)
    const dirsync = find(fs, `dirsync:${dc.baseDn}`);
    assert.equal(dirsync?.status, 'warning', JSON.stringify(fs, null, 2));
    assert.match(dirsync.message, /uSNChanged/);
    assert.match(dirsync.fix!, /Replicating Directory Changes/);
  });

  it('turns connection failures into error findings with fixes', async () => {
    const bad = sambaSourceSpec(dc, { ldap: { ca: dc.untrustedCaPath } });
    const fs = await checkLdapSource(bad, '/', { env: sambaEnv(dc) });
    assert.equal(find(fs, 'tls')?.status, 'error');
    assert.match(find(fs, 'tls')!.fix!, /ldap\.ca/);
    const wrong = await checkLdapSource(sambaSourceSpec(dc), '/', { env: sambaEnv(dc, 'nope') });
    assert.equal(find(wrong, 'tls')?.status, 'ok');
    assert.equal(find(wrong, 'bind')?.status, 'error');
    assert.match(find(wrong, 'bind')!.message, /LDAP 49/);
  });

  it('`adsync doctor -c SPEC --json` exits 1 with the findings', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adsync-doctor-'));
    try {
      const specPath = join(dir, 'adsync.yaml');
      await writeFile(
        specPath,
        [
          'version: 1',
          'sources:',
          '  - name: corp',
          '    ldap:',
          `      url: ${dc.url}`,
          `      bindDn: ${JSON.stringify(svc)}`,
          '      password: { env: ADSYNC_LDAP_PASSWORD }',
          `      ca: ${JSON.stringify(dc.caPath)}`,
          '    scope:',
          '      domains: [contoso.test]',
          `      ous: { include: [${JSON.stringify(open)}, ${JSON.stringify(closed)}] }`,
          'target:',
          '  emulator: { state: ./tenant.json, tenant: contoso.onmicrosoft.com, domains: [contoso.test] }',
          '',
        ].join('\n'),
      );
      const bin = join(import.meta.dirname, '..', '..', '..', '..', 'bin', 'run.js');
      const env = { ...process.env, ADSYNC_LDAP_PASSWORD: SVC_PASSWORD };
      const res = await run(process.execPath, [bin, 'doctor', '-c', specPath, '--json'], { env }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );
      assert.equal(res.code, 1, res.stderr);
      const out = JSON.parse(res.stdout) as { findings: Finding[]; errors: number };
      assert.equal(out.errors, 1);
      assert.equal(find(out.findings, `read:${closed}`)?.status, 'error');
      assert.ok(
        !res.stdout.includes(SVC_PASSWORD) && !res.stderr.includes(SVC_PASSWORD),
        'the password is never printed',
      );
      const text = await run(process.execPath, [bin, 'doctor', '-c', specPath], { env }).catch(
        (e: { code: number; stdout: string }) => e,
      );
      assert.equal((text as { code: number }).code, 1);
      assert.match((text as { stdout: string }).stdout, /^error {3}corp: .*OU=Closed/m);
      assert.match((text as { stdout: string }).stdout, /fix: grant/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
