import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { LdifSource } from '../../../src/connectors/ldif/index.js';
import { isUnderDn } from '../../../src/model/dn.js';
import { firstString } from '../../../src/model/entry.js';
import type { DirectoryEntry } from '../../../src/model/entry.js';

// dist/test/connectors/ldif → the repository root
const CORP = resolve(import.meta.dirname, '../../../../examples/quickstart/corp.ldif');
const is = (e: DirectoryEntry, cls: string): boolean =>
  (e.attrs['objectclass'] ?? []).some((c) => typeof c === 'string' && c.toLowerCase() === cls);

test('the quickstart export reads as the README describes it', async () => {
  const snap = await new LdifSource({ name: 'contoso', path: CORP }).read({
    attributes: [],
    baseDns: ['DC=contoso,DC=example'],
  });
  assert.deepEqual(snap.namingContexts, [{ dn: 'DC=contoso,DC=example', dnsName: 'contoso.example' }]);
  const users = snap.entries.filter((e) => is(e, 'user'));
  const groups = snap.entries.filter((e) => is(e, 'group'));
  assert.equal(users.length, 13);
  assert.equal(users.filter((u) => isUnderDn(u.dn, 'OU=Service Accounts,DC=contoso,DC=example')).length, 1);
  assert.equal(users.filter((u) => isUnderDn(u.dn, 'OU=Contractors,DC=contoso,DC=example')).length, 3);
  assert.equal(groups.length, 4);
  assert.equal(snap.entries.filter((e) => is(e, 'contact')).length, 1);
  assert.deepEqual(
    users.filter((u) => firstString(u, 'useraccountcontrol') === '514').map((u) => firstString(u, 'samaccountname')),
    ['dkim'],
  );
  assert.ok(users.some((u) => u.dn === 'CN=Zoë Müller,OU=Staff,DC=contoso,DC=example'));
  assert.ok(users.some((u) => u.dn === 'CN=Chen\\, Wei,OU=Staff,DC=contoso,DC=example'));
  for (const u of users) {
    assert.equal((u.attrs['objectguid']?.[0] as Uint8Array | undefined)?.length, 16, u.dn);
    assert.match(firstString(u, 'userprincipalname') ?? '', /@contoso\.example$/);
  }
  const all = groups.find((g) => firstString(g, 'cn') === 'All Staff')!;
  assert.ok((all.attrs['member'] ?? []).includes('CN=Engineering,OU=Groups,DC=contoso,DC=example'), 'a nested group');
  const dl = groups.find((g) => firstString(g, 'grouptype') === '8')!;
  assert.equal(firstString(dl, 'mail'), 'sales@contoso.example');
  // Every member names an object in the export.
  const dns = new Set(snap.entries.map((e) => e.dn));
  for (const g of groups) for (const m of g.attrs['member'] ?? []) assert.ok(dns.has(m as string), `${m}`);
});
