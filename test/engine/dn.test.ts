import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { domainOfDn, isUnder, isValidDn, normalizeDn, parentDn } from '../../src/model/dn.js';

describe('normalizeDn', () => {
  const same: [string, string][] = [
    ['CN=Smith\\, John,OU=Staff,DC=Contoso,DC=Example', 'cn=smith\\2C john, ou=staff ,dc=contoso,dc=example'],
    ['CN=Zoë Ådams,DC=x', 'CN=Zo\\C3\\AB \\C3\\85dams,DC=x'],
    ['CN=\\#hash,DC=x', 'cn=\\23hash,dc=x'],
    ['CN=\\ lead,DC=x', 'cn=\\20lead,dc=x'],
    ['CN=a+SN=b,DC=x', 'sn=b+cn=a,dc=x'],
  ];
  for (const [a, b] of same) it(`${a} equals ${b}`, () => assert.equal(normalizeDn(a), normalizeDn(b)));

  it('keeps different names apart', () => {
    assert.notEqual(normalizeDn('CN=a\\,b,DC=x'), normalizeDn('CN=a,CN=b,DC=x'));
    assert.notEqual(normalizeDn('CN=\\ lead,DC=x'), normalizeDn('CN=lead,DC=x'));
  });

  it('answers containment, domain and parent questions', () => {
    assert.ok(isUnder(normalizeDn('CN=a,OU=Staff,DC=x'), normalizeDn('ou=staff,dc=x')));
    assert.ok(!isUnder(normalizeDn('CN=a,OU=NotStaff,DC=x'), normalizeDn('OU=Staff,DC=x')));
    assert.equal(domainOfDn(normalizeDn('CN=a,OU=b,DC=Corp,DC=Example')), 'corp.example');
    assert.equal(parentDn(normalizeDn('CN=a\\,b,OU=x,DC=y')), 'ou=x,dc=y');
  });

  it('rejects malformed DNs', () => {
    assert.equal(isValidDn('CN=a,DC=x'), true);
    assert.equal(isValidDn('not a dn'), false);
    assert.equal(isValidDn('CN=a,=x'), false);
  });
});
