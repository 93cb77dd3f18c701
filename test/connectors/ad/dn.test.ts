import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dnEquals, dnFromDnsName, dnsNameFromDn, escapeDnValue, isUnderDn, normalizeDn, parseDn } from '../../../src/connectors/ad/dn.js';
import { SourceError } from '../../../src/errors.js';

describe('AD DN matching', () => {
  it('ignores the case of types and values', () => {
    assert.ok(dnEquals('CN=Alice Smith,OU=Sales,DC=Contoso,DC=Test', 'cn=alice smith,ou=sales,dc=contoso,dc=test'));
    assert.ok(!dnEquals('CN=Alice Smith,OU=Sales,DC=contoso,DC=test', 'CN=Alice Smyth,OU=Sales,DC=contoso,DC=test'));
  });

  it('treats \\, \\2C and \\2c as the same comma, and keeps it apart from a separator', () => {
    const a = 'CN=Smith\\, John,OU=People,DC=contoso,DC=test';
    assert.ok(dnEquals(a, 'CN=Smith\\2C John,OU=People,DC=contoso,DC=test'));
    assert.ok(dnEquals(a, 'cn=smith\\2c john,ou=people,dc=contoso,dc=test'));
    assert.equal(parseDn(a).length, 4);
    assert.equal(parseDn(a)[0]![0]!.value, 'Smith, John');
    assert.ok(!dnEquals(a, 'CN=Smith,CN=John,OU=People,DC=contoso,DC=test'));
  });

  it('drops unescaped spaces around separators but keeps escaped leading and trailing spaces', () => {
    assert.ok(dnEquals('CN=Bob , OU=People,DC=contoso,DC=test', 'CN=Bob,OU=People,DC=contoso,DC=test'));
    assert.ok(dnEquals('CN = Bob,  OU=People , DC=contoso,DC=test', 'CN=Bob,OU=People,DC=contoso,DC=test'));
    const lead = 'CN=\\ Leading,OU=People,DC=contoso,DC=test';
    assert.equal(parseDn(lead)[0]![0]!.value, ' Leading');
    assert.ok(dnEquals(lead, 'CN=\\20Leading,OU=People,DC=contoso,DC=test'));
    assert.ok(!dnEquals(lead, 'CN=Leading,OU=People,DC=contoso,DC=test'));
    assert.ok(dnEquals('CN=Trail\\ ,DC=x', 'CN=Trail\\20,DC=x'));
    assert.ok(!dnEquals('CN=Trail\\ ,DC=x', 'CN=Trail,DC=x'));
  });

  it('handles #, quotes and the other specials', () => {
    assert.ok(dnEquals('CN=\\#hash,DC=x', 'CN=\\23hash,DC=x'));
    assert.equal(parseDn('CN=\\#hash,DC=x')[0]![0]!.value, '#hash');
    // A BER value (#hex) is not the string "#04..."
    assert.ok(!dnEquals('CN=#04024869,DC=x', 'CN=\\#04024869,DC=x'));
    assert.ok(dnEquals('CN=#04024869,DC=x', 'CN=#04024869,DC=X'));
    assert.ok(dnEquals('CN=O\\"Brien \\"Q\\",DC=x', 'CN=O\\22Brien \\22Q\\22,DC=x'));
    assert.ok(dnEquals('CN=a\\+b\\;c\\<d\\>e\\=f\\\\g,DC=x', 'CN=a\\2Bb\\3Bc\\3Cd\\3Ee\\3Df\\5Cg,DC=x'));
  });

  it('decodes hex escapes as UTF-8 and folds non-ASCII case', () => {
    assert.ok(dnEquals('CN=Zoë Ærø,DC=x', 'CN=Zo\\C3\\AB \\C3\\86r\\C3\\B8,DC=x'));
    assert.ok(dnEquals('CN=ZOË ÆRØ,DC=x', 'cn=zoë ærø,dc=x'));
    assert.ok(dnEquals('CN=山田 太郎,DC=x', 'CN=\\E5\\B1\\B1\\E7\\94\\B0 \\E5\\A4\\AA\\E9\\83\\8E,DC=x'));
    // NFC vs NFD spellings of ë
    assert.ok(dnEquals('CN=Zo\u00eb,DC=x', 'CN=Zoe\u0308,DC=x'));
  });

  it('orders the parts of a multi-valued RDN canonically and maps OID types', () => {
    assert.ok(dnEquals('CN=a+UID=b,DC=x', 'uid=B+cn=A,dc=x'));
    assert.ok(dnEquals('2.5.4.3=Bob,DC=x', 'CN=Bob,DC=x'));
  });

  it('normalizes to one spelling that round-trips', () => {
    const n = normalizeDn('CN=Smith\\2C John ,OU=Sales\\, EMEA,DC=Contoso,DC=Test');
    assert.equal(n, 'cn=smith\\, john,ou=sales\\, emea,dc=contoso,dc=test');
    assert.equal(normalizeDn(n), n);
  });

  it('escapes values for DNs', () => {
    assert.equal(escapeDnValue('Smith, John'), 'Smith\\, John');
    assert.equal(escapeDnValue(' lead#'), '\\ lead#');
    assert.equal(escapeDnValue('#x '), '\\#x\\ ');
    assert.equal(escapeDnValue('a"b\\c+d;e<f>g=h'), 'a\\"b\\\\c\\+d\\;e\\<f\\>g\\=h');
    for (const v of ['Smith, John', ' lead', '#hash', 'O"Brien', 'trail ', 'Zoë', 'a\\b']) {
      assert.equal(parseDn(`CN=${escapeDnValue(v)},DC=x`)[0]![0]!.value, v);
    }
  });

  it('rejects malformed DNs with a SourceError, and never calls them equal', () => {
    assert.throws(() => normalizeDn('CN=a,,DC=x'), SourceError);
    assert.throws(() => normalizeDn('no equals sign'), (e: SourceError) => e.code === 'dn_invalid');
    assert.throws(() => normalizeDn('CN=a\\'), SourceError);
    assert.equal(dnEquals('garbage', 'garbage'), false);
  });

  it('maps DNS names and DC= DNs, and tests ancestry', () => {
    assert.equal(dnFromDnsName('corp.example.com'), 'DC=corp,DC=example,DC=com');
    assert.equal(dnsNameFromDn('OU=Sales,DC=Corp,DC=Example'), 'corp.example');
    assert.ok(isUnderDn('CN=a,OU=Sales,DC=corp,DC=example', 'ou=sales,dc=CORP,dc=example'));
    assert.ok(isUnderDn('OU=Sales,DC=corp,DC=example', 'OU=Sales,DC=corp,DC=example'));
    assert.ok(!isUnderDn('OU=Sales2,DC=corp,DC=example', 'OU=Sales,DC=corp,DC=example'));
    assert.ok(!isUnderDn('CN=x,OU=xSales,DC=corp,DC=example', 'OU=Sales,DC=corp,DC=example'));
  });
});
