import { test } from 'node:test';
import assert from 'node:assert/strict';
import { domainRootOf, dnsNameOf, isUnder, normalizeDn, parseDn } from '../../../src/connectors/ldif/dn.js';
import { SourceError } from '../../../src/errors.js';

test('normalizeDn: case, spaces around separators, and escape spellings compare equal', () => {
  const forms = [
    'CN=Lee\\, Ann,OU=Staff,DC=corp,DC=example',
    'cn=lee\\2C ann,ou=staff,dc=corp,dc=example',
    'CN=Lee\\2c Ann , OU = Staff,  DC=Corp,DC=EXAMPLE',
    'CN="Lee, Ann",OU=Staff,DC=corp,DC=example',
  ];
  const norm = forms.map(normalizeDn);
  for (const n of norm) assert.equal(n, norm[0]);
  assert.equal(norm[0], 'cn=lee\\2c ann,ou=staff,dc=corp,dc=example');
});

test('normalizeDn: hex-escaped UTF-8 equals the characters; multi-valued RDNs in any order', () => {
  assert.equal(normalizeDn('CN=Jos\\C3\\A9,DC=x'), normalizeDn('cn=JOSÉ,dc=X'));
  assert.equal(normalizeDn('CN=a+UID=b,DC=x'), normalizeDn('uid=B+cn=A,dc=x'));
  assert.notEqual(normalizeDn('CN=a\\,b,DC=x'), normalizeDn('CN=a,CN=b,DC=x'));
  // An escaped trailing space is part of the value; an unescaped one is not.
  assert.notEqual(normalizeDn('CN=a\\ ,DC=x'), normalizeDn('CN=a,DC=x'));
  assert.equal(normalizeDn('CN=a ,DC=x'), normalizeDn('CN=a,DC=x'));
});

test('isUnder: subtree membership as AD compares DNs, not string suffixes', () => {
  assert.ok(isUnder('CN=Ann,OU=Staff,DC=corp,DC=example', 'ou=STAFF, dc=corp, dc=example'));
  assert.ok(isUnder('OU=Staff,DC=corp,DC=example', 'OU=Staff,DC=corp,DC=example'), 'the base itself');
  assert.ok(isUnder('CN=x,OU=Lee\\, Ann,DC=corp', 'OU=Lee\\2C Ann,DC=corp'));
  assert.ok(!isUnder('CN=Ann,OU=NotStaff,DC=corp,DC=example', 'OU=Staff,DC=corp,DC=example'), 'a suffix of an RDN value is not a parent');
  assert.ok(!isUnder('CN=Ann\\,OU=Staff,DC=corp,DC=example', 'OU=Staff,DC=corp,DC=example'), 'an escaped comma is no separator');
  assert.ok(!isUnder('OU=Staff,DC=corp,DC=example', 'CN=Ann,OU=Staff,DC=corp,DC=example'), 'a parent is not under its child');
  assert.ok(!isUnder('CN=a,XOU=Staff,DC=corp,DC=example', 'OU=Staff,DC=corp,DC=example'), 'the suffix must start at an RDN');
  assert.ok(isUnder('CN=Ann,DC=corp', ''), 'the root holds everything');
});

test('parseDn and the domain helpers', () => {
  const rdns = parseDn('CN=Lee\\, Ann,OU=Staff,DC=corp,DC=example');
  assert.equal(rdns.length, 4);
  assert.deepEqual(rdns[0]!.avas, [{ type: 'cn', value: 'Lee, Ann' }]);
  assert.equal(rdns[0]!.raw, 'CN=Lee\\, Ann');
  assert.deepEqual(domainRootOf('CN=Ann,OU=Staff,DC=Corp,DC=Example'), { dn: 'DC=Corp,DC=Example', dnsName: 'corp.example' });
  assert.equal(domainRootOf('CN=Ann,O=Org'), undefined);
  assert.equal(dnsNameOf('DC=child,DC=corp,DC=example'), 'child.corp.example');
});

test('malformed DNs are a SourceError', () => {
  for (const bad of ['CN=a,', 'no equals sign', 'CN=a\\', '=a,DC=x', 'CN="unterminated']) {
    assert.throws(() => normalizeDn(bad), (e: unknown) => e instanceof SourceError && e.code === 'dn_invalid', bad);
  }
});
