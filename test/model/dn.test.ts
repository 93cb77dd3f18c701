import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import {
  canonicalType,
  checkDn,
  dnEquals,
  dnFromDnsName,
  dnsNameFromDn,
  domainOfDn,
  domainRootOf,
  escapeDnValue,
  isUnder,
  isUnderDn,
  isValidDn,
  normalizeDn,
  parentDn,
  parseDn,
  rdnValue,
  splitDn,
} from '../../src/model/dn.js';
import { SourceError } from '../../src/errors.js';

// The one DN implementation (src/model/dn.ts). Its tests, merged from the engine's (test/engine/dn.test.ts),
// the LDIF source's (test/connectors/ldif/dn.test.ts), the AD source's (test/connectors/ad/dn.test.ts) and
// the spec's (test/spec/schema.test.ts), come first, unchanged but for the renamed API; then the new ones.

// ---- from test/engine/dn.test.ts

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

// ---- from test/connectors/ldif/dn.test.ts (isUnder on DNs as written is isUnderDn; dnsNameOf is dnsNameFromDn)

test('normalizeDn: case, spaces around separators, and escape spellings compare equal', () => {
  const forms = [
    'CN=Lee\\, Ann,OU=Staff,DC=corp,DC=example',
    'cn=lee\\2C ann,ou=staff,dc=corp,dc=example',
    'CN=Lee\\2c Ann , OU = Staff,  DC=Corp,DC=EXAMPLE',
    'CN="Lee, Ann",OU=Staff,DC=corp,DC=example',
  ];
  const norm = forms.map(normalizeDn);
  for (const n of norm) assert.equal(n, norm[0]);
  // The canonical spelling is AD's (`\,`), no longer the LDIF source's (`\2c`).
  assert.equal(norm[0], 'cn=lee\\, ann,ou=staff,dc=corp,dc=example');
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
  assert.ok(isUnderDn('CN=Ann,OU=Staff,DC=corp,DC=example', 'ou=STAFF, dc=corp, dc=example'));
  assert.ok(isUnderDn('OU=Staff,DC=corp,DC=example', 'OU=Staff,DC=corp,DC=example'), 'the base itself');
  assert.ok(isUnderDn('CN=x,OU=Lee\\, Ann,DC=corp', 'OU=Lee\\2C Ann,DC=corp'));
  assert.ok(
    !isUnderDn('CN=Ann,OU=NotStaff,DC=corp,DC=example', 'OU=Staff,DC=corp,DC=example'),
    'a suffix of an RDN value is not a parent',
  );
  assert.ok(
    !isUnderDn('CN=Ann\\,OU=Staff,DC=corp,DC=example', 'OU=Staff,DC=corp,DC=example'),
    'an escaped comma is no separator',
  );
  assert.ok(
    !isUnderDn('OU=Staff,DC=corp,DC=example', 'CN=Ann,OU=Staff,DC=corp,DC=example'),
    'a parent is not under its child',
  );
  assert.ok(
    !isUnderDn('CN=a,XOU=Staff,DC=corp,DC=example', 'OU=Staff,DC=corp,DC=example'),
    'the suffix must start at an RDN',
  );
  assert.ok(isUnderDn('CN=Ann,DC=corp', ''), 'the root holds everything');
});

test('parseDn and the domain helpers', () => {
  const rdns = parseDn('CN=Lee\\, Ann,OU=Staff,DC=corp,DC=example');
  assert.equal(rdns.length, 4);
  // One RDN is its parts (types as written, values unescaped); its text as written comes from splitDn.
  assert.deepEqual(rdns[0], [{ type: 'CN', value: 'Lee, Ann' }]);
  assert.equal(canonicalType(rdns[0][0]!.type), 'cn');
  assert.equal(splitDn('CN=Lee\\, Ann,OU=Staff,DC=corp,DC=example')[0], 'CN=Lee\\, Ann');
  assert.deepEqual(domainRootOf('CN=Ann,OU=Staff,DC=Corp,DC=Example'), {
    dn: 'DC=Corp,DC=Example',
    dnsName: 'corp.example',
  });
  assert.equal(domainRootOf('CN=Ann,O=Org'), undefined);
  assert.equal(dnsNameFromDn('DC=child,DC=corp,DC=example'), 'child.corp.example');
});

test('malformed DNs are a SourceError', () => {
  for (const bad of ['CN=a,', 'no equals sign', 'CN=a\\', '=a,DC=x', 'CN="unterminated']) {
    assert.throws(
      () => normalizeDn(bad),
      (e: unknown) => e instanceof SourceError && e.code === 'dn_invalid',
      bad,
    );
  }
});

// ---- from test/connectors/ad/dn.test.ts

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
    assert.throws(
      () => normalizeDn('no equals sign'),
      (e: SourceError) => e.code === 'dn_invalid',
    );
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

// ---- from test/spec/schema.test.ts

test('DN syntax (RFC 4514)', () => {
  for (const ok of [
    'OU=Staff,DC=corp,DC=example',
    'CN=Smith\\, John,OU=Staff,DC=corp',
    'CN=a+SN=b,DC=x',
    'CN=#04024869,DC=x',
    '1.2.3=x',
    'CN=a\\2Cb,DC=x',
    'cn = spaced , dc = x',
  ]) {
    assert.equal(checkDn(ok), undefined, ok);
  }
  assert.match(checkDn('OU=Staff,,DC=x')!, /empty RDN/);
  assert.match(checkDn('Staff')!, /not attribute=value/);
  assert.match(checkDn('OU=,DC=x')!, /has no value/);
  assert.match(checkDn('O U=x')!, /not an attribute type/);
  assert.match(checkDn('CN=a;b')!, /';' must be escaped/);
  assert.match(checkDn('CN=a\\zz')!, /invalid escape/);
});

// ---- new: what merging the implementations added or settled

/** The same DN with the first character of its first value hex-escaped: always takes the full parser. */
function viaParser(dn: string): string {
  const eq = dn.indexOf('=');
  const ch = String.fromCodePoint(dn.codePointAt(eq + 1)!);
  const hex = [...Buffer.from(ch, 'utf8')].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
  return dn.slice(0, eq + 1) + hex + dn.slice(eq + 1 + ch.length);
}

describe('normalizeDn fast path', () => {
  it('gives what the full parser gives', () => {
    const dns = [
      'CN=User 1,OU=Staff,DC=corp,DC=example',
      'cn=a b  c,dc=X',
      'CN=Zoë Ådams,OU=Ünits,DC=x',
      'CN=Zoe\u0308 A\u030adams,DC=x',
      'CN=Иван Петров,OU=Москва,DC=corp',
      'CN=山田 太郎,DC=x',
      'CN=ΟΔΟΣ Σ,DC=x',
      'CN=İstanbul KELVIN\u212a,DC=x',
      'CN=a#b,DC=x',
      'x-Attr1=v,DC=x',
      'CN=ab\u0338,DC=x',
      'CN=\u1100\u1161\u11a8 \u2126\u212b\uf900\u{1d15e},DC=x',
      'CN=Йй и\u0306,DC=x',
    ];
    for (const dn of dns) assert.equal(normalizeDn(dn), normalizeDn(viaParser(dn)), dn);
  });

  it('gives what the full parser gives, for random DNs', () => {
    const alphabet = [
      'a',
      'B',
      ' ',
      '#',
      '=',
      ',',
      '+',
      ';',
      '"',
      '\\',
      '<',
      'é',
      'É',
      'e\u0301',
      'Σ',
      'ж',
      '山',
      '\u0338',
      '\u037e',
      '\n',
      '.',
      '-',
      '1',
      '\u1100',
      '\u1161',
      '가',
      '\u11a8',
      '\u2126',
      '\u212b',
      '\uf900',
      '\u{1d15e}',
      '\u0915\u093c',
      '\u0958',
      'й',
      'и\u0306',
    ];
    let seed = 42;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    for (let t = 0; t < 3000; t++) {
      const rdns: string[] = [];
      for (let r = 0, nr = 1 + rnd(3); r < nr; r++) {
        let v = 'v';
        for (let k = 0, nk = rnd(6); k < nk; k++) v += alphabet[rnd(alphabet.length)];
        rdns.push(`${['CN', 'ou', 'Dc', '2.5.4.3', 'x-1'][rnd(5)]}=${v}`);
      }
      const dn = rdns.join(',');
      let fast: string | Error;
      let slow: string | Error;
      try {
        fast = normalizeDn(dn);
      } catch (e) {
        fast = e as Error;
      }
      try {
        slow = normalizeDn(viaParser(dn));
      } catch (e) {
        slow = e as Error;
      }
      if (typeof fast === 'string' || typeof slow === 'string') assert.equal(fast, slow, dn);
    }
  });

  it('never lets a malformed DN through', () => {
    for (const bad of ['not a dn', 'CN=a,', 'CN=a,,DC=x', 'O U=x', '1A=x', 'CN', ',CN=a']) {
      assert.throws(
        () => normalizeDn(bad),
        (e: unknown) => e instanceof SourceError && e.code === 'dn_invalid',
        bad,
      );
    }
    assert.equal(normalizeDn(''), '', 'the empty DN is the root');
    assert.equal(normalizeDn('CN=a=b,DC=x'), 'cn=a\\=b,dc=x', 'an "=" in a value is escaped, as AD writes it');
  });
});

describe('merged behaviour', () => {
  it('maps the OID attribute types AD uses to their names', () => {
    const oids: [string, string][] = [
      ['2.5.4.3', 'cn'],
      ['2.5.4.11', 'ou'],
      ['0.9.2342.19200300.100.1.25', 'dc'],
      ['2.5.4.10', 'o'],
      ['2.5.4.6', 'c'],
      ['2.5.4.7', 'l'],
      ['2.5.4.8', 'st'],
      ['2.5.4.9', 'street'],
      ['0.9.2342.19200300.100.1.1', 'uid'],
    ];
    for (const [oid, name] of oids) {
      assert.equal(canonicalType(oid), name);
      assert.equal(normalizeDn(`${oid}=X,DC=y`), `${name}=x,dc=y`);
      assert.equal(normalizeDn(`OID.${oid}=X,DC=y`), `${name}=x,dc=y`);
    }
    assert.equal(canonicalType('constructor'), 'constructor');
    assert.equal(domainOfDn(normalizeDn('CN=a,0.9.2342.19200300.100.1.25=Corp,DC=Example')), 'corp.example');
  });

  it('compares BER values as written, and rejects a # value that is not hex', () => {
    assert.equal(normalizeDn('CN=#04024869,DC=x'), 'cn=#04024869,dc=x');
    assert.equal(normalizeDn('CN=#04024869,DC=x'), normalizeDn('cn = #04024869 , dc=x'));
    assert.equal(normalizeDn('CN=\\#04024869,DC=x'), 'cn=\\#04024869,dc=x');
    assert.deepEqual(parseDn('CN=#0A0b,DC=x')[0], [{ type: 'CN', value: '#0a0b', ber: true }]);
    for (const bad of ['CN=#hash,DC=x', 'CN=#041,DC=x', 'CN=#0402zz,DC=x', 'CN=#,DC=x'])
      assert.equal(isValidDn(bad), false, bad);
    assert.match(checkDn('CN=#hash,DC=x')!, /must be hex/);
  });

  it('isUnder on normalized DNs: an escaped comma is no separator; the root holds everything', () => {
    assert.ok(!isUnder(normalizeDn('CN=Ann\\,OU=Staff,DC=corp'), normalizeDn('OU=Staff,DC=corp')));
    assert.ok(
      isUnder(normalizeDn('CN=Ann\\\\,OU=Staff,DC=corp'), normalizeDn('OU=Staff,DC=corp')),
      'an escaped backslash, then a separator',
    );
    assert.ok(isUnder(normalizeDn('CN=a,DC=x'), ''));
    assert.ok(!isUnder('', normalizeDn('DC=x')));
    assert.ok(isUnderDn('CN=a,DC=x', ''));
  });

  it('domainOfDn and parentDn split only on unescaped commas', () => {
    assert.equal(domainOfDn(normalizeDn('CN=x\\,DC=evil,OU=a,DC=corp,DC=example')), 'corp.example');
    assert.equal(domainOfDn(normalizeDn('DC=a+CN=b,DC=example')), 'example');
    assert.equal(domainOfDn(normalizeDn('CN=a,OU=b')), '');
    assert.equal(parentDn(normalizeDn('CN=a\\\\,OU=x,DC=y')), 'ou=x,dc=y');
    assert.equal(parentDn(normalizeDn('DC=y')), '');
  });

  it('rdnValue unescapes the name, and passes through what does not parse', () => {
    assert.equal(rdnValue('CN=Smith\\, John,OU=x'), 'Smith, John');
    assert.equal(rdnValue('CN=Bob\\0ACNF:1234,OU=x'), 'Bob\nCNF:1234');
    assert.equal(rdnValue('not a dn'), 'not a dn');
  });

  it('splitDn and domainRootOf keep DNs as written, escaped trailing spaces included', () => {
    assert.deepEqual(splitDn(' CN=a\\ , OU = b ;DC=c '), ['CN=a\\ ', 'OU = b', 'DC=c']);
    assert.deepEqual(domainRootOf('CN=a,DC=Corp , DC=Example'), { dn: 'DC=Corp,DC=Example', dnsName: 'corp.example' });
    assert.deepEqual(domainRootOf('DC=x,OU=y'), undefined);
    assert.equal(dnsNameFromDn(dnFromDnsName('corp.example.')), 'corp.example');
    assert.equal(escapeDnValue('a\nb\0'), 'a\\0ab\\00');
  });

  it('spec checks are strict where AD is lenient, with a human message', () => {
    // AD accepts these; a spec should write them the RFC 4514 way.
    for (const lenient of ['CN=a;DC=x', 'CN="Lee, Ann",DC=x', 'CN=a\\zz,DC=x', 'CN=,DC=x', 'CN=a<b,DC=x']) {
      assert.equal(isValidDn(lenient), true, lenient);
      assert.notEqual(checkDn(lenient), undefined, lenient);
    }
    assert.equal(checkDn(''), 'empty DN');
    assert.match(checkDn('CN=a<b,DC=x')!, /'<' must be escaped/);
    assert.match(checkDn('CN="Lee, Ann",DC=x')!, /'"' must be escaped/);
    assert.match(checkDn('CN=a\\')!, /dangling/);
    assert.match(checkDn('=x,DC=y')!, /attribute type/);
    assert.equal(checkDn('OID.2.5.4.3=x,DC=y'), undefined);
  });

  it('malformed DNs name the problem in the error', () => {
    assert.throws(() => parseDn('CN=a,,DC=x'), /empty RDN/);
    assert.throws(() => normalizeDn('Staff'), /'Staff' is not attribute=value/);
    assert.equal(dnEquals('CN=a,DC=x', 'CN=a,,DC=x'), false);
  });
});
