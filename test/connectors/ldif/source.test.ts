import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LdifSource } from '../../../src/connectors/ldif/index.js';
import { SourceError } from '../../../src/errors.js';

const GUID = Buffer.from('0f1e2d3c4b5a69788796a5b4c3d2e1f0', 'hex');

const EXPORT = [
  'dn: DC=Corp,DC=Example',
  'changetype: add',
  'objectClass: top',
  'objectClass: domainDNS',
  'dc: Corp',
  '',
  'dn: OU=Lee\\, Ann Team,DC=Corp,DC=Example',
  'changetype: add',
  'objectClass: organizationalUnit',
  '',
  'dn: CN=Ann Lee,OU=Lee\\, Ann Team,DC=Corp,DC=Example',
  'changetype: add',
  'objectClass: user',
  `objectGUID:: ${GUID.toString('base64')}`,
  'sAMAccountName: alee',
  'title: Engineer',
  'department: R&D',
  'distinguishedName: CN=Ann Lee,OU=Lee\\, Ann Team,DC=Corp,DC=Example',
  '',
  'dn: CN=Svc,OU=Service Accounts,DC=Corp,DC=Example',
  'changetype: add',
  'objectClass: user',
  'sAMAccountName: svc',
  '',
  'dn: CN=Other,DC=other,DC=test',
  'changetype: add',
  'objectClass: user',
  '',
].join('\r\n');

async function withFile<T>(text: string, f: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'adsync-ldif-'));
  try {
    const path = join(dir, 'export.ldif');
    await writeFile(path, text);
    return await f(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('read: everything, naming contexts from domainDNS entries', async () => {
  await withFile(EXPORT, async (path) => {
    const src = new LdifSource({ name: 'corp', path });
    const snap = await src.read({ attributes: [], baseDns: [] });
    await src.close();
    assert.equal(snap.source, 'corp');
    assert.equal(snap.entries.length, 5);
    assert.deepEqual(snap.namingContexts, [{ dn: 'DC=Corp,DC=Example', dnsName: 'corp.example' }]);
    const ann = snap.entries[2]!;
    assert.equal(ann.dn, 'CN=Ann Lee,OU=Lee\\, Ann Team,DC=Corp,DC=Example');
    assert.deepEqual(Buffer.from(ann.attrs['objectguid']![0] as Uint8Array), GUID);
  });
});

test('read: baseDns compared as AD does (case, escapes, spaces); the domain root is named even out of scope', async () => {
  await withFile(EXPORT, async (path) => {
    const snap = await new LdifSource({ name: 'corp', path }).read({
      attributes: [],
      baseDns: ['ou=LEE\\2C ann team, dc=corp, dc=example'],
    });
    assert.deepEqual(
      snap.entries.map((e) => e.dn),
      ['OU=Lee\\, Ann Team,DC=Corp,DC=Example', 'CN=Ann Lee,OU=Lee\\, Ann Team,DC=Corp,DC=Example'],
    );
    assert.deepEqual(
      snap.namingContexts.map((c) => c.dnsName),
      ['corp.example'],
    );
    const two = await new LdifSource({ name: 'corp', path }).read({
      attributes: [],
      baseDns: ['OU=Service Accounts,DC=corp,DC=example', 'DC=other,DC=test'],
    });
    assert.deepEqual(
      two.entries.map((e) => e.dn),
      ['CN=Svc,OU=Service Accounts,DC=Corp,DC=Example', 'CN=Other,DC=other,DC=test'],
    );
  });
});

test('read: only the requested attributes, plus the ones every entry keeps', async () => {
  await withFile(EXPORT, async (path) => {
    const snap = await new LdifSource({ name: 'corp', path }).read({
      attributes: ['title', 'sAMAccountName'],
      baseDns: [],
    });
    const ann = snap.entries.find((e) => e.dn.startsWith('CN=Ann'))!;
    assert.deepEqual(Object.keys(ann.attrs).sort(), [
      'distinguishedname',
      'objectclass',
      'objectguid',
      'samaccountname',
      'title',
    ]);
  });
});

test('read: without domainDNS entries the naming contexts come from the DC= components', async () => {
  await withFile(
    'dn: CN=a,OU=x,DC=corp,DC=example\ncn: a\n\ndn: CN=b,DC=child,DC=corp,DC=example\ncn: b\n\ndn: CN=c,O=NoDomain\ncn: c\n',
    async (path) => {
      const snap = await new LdifSource({ name: 'x', path }).read({ attributes: [], baseDns: [] });
      assert.deepEqual(snap.namingContexts, [
        { dn: 'DC=child,DC=corp,DC=example', dnsName: 'child.corp.example' },
        { dn: 'DC=corp,DC=example', dnsName: 'corp.example' },
      ]);
    },
  );
});

test('errors: a missing file is one line with a hint; a syntax error names file:line; a bad base DN', async () => {
  await assert.rejects(
    new LdifSource({ name: 'x', path: '/nonexistent/corp.ldif' }).read({ attributes: [], baseDns: [] }),
    (e: unknown) => {
      assert.ok(e instanceof SourceError);
      assert.equal(e.code, 'ldif_not_found');
      assert.equal(e.message, 'LDIF file not found: /nonexistent/corp.ldif');
      assert.ok(e.hint);
      return true;
    },
  );
  await withFile('dn: CN=a,DC=x\ncn: a\n\ndn: CN=b\\,DC=x\nchangetype: modify\n', async (path) => {
    await assert.rejects(new LdifSource({ name: 'x', path }).read({ attributes: [], baseDns: [] }), (e: unknown) => {
      assert.ok(e instanceof SourceError);
      assert.equal(e.message, `${path}:5: "changetype: modify" is not an export`);
      return true;
    });
  });
  await withFile('dn: CN=a,DC=x\ncn: a\n\ndn: CN=b,,DC=x\ncn: b\n', async (path) => {
    await assert.rejects(new LdifSource({ name: 'x', path }).read({ attributes: [], baseDns: [] }), (e: unknown) => {
      assert.ok(e instanceof SourceError);
      assert.ok(e.message.startsWith(`${path}:4: invalid DN "CN=b,,DC=x"`), e.message);
      return true;
    });
  });
  await withFile(EXPORT, async (path) => {
    await assert.rejects(
      new LdifSource({ name: 'x', path }).read({ attributes: [], baseDns: ['not a dn'] }),
      (e: unknown) => e instanceof SourceError && e.code === 'ldif_base_invalid',
    );
  });
});
