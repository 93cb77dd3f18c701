import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LdifParser, parseLdif } from '../../../src/connectors/ldif/parser.js';
import { SourceError } from '../../../src/errors.js';

const GUID = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

function throwsAt(text: string | Uint8Array, line: number, pattern: RegExp): void {
  assert.throws(
    () => parseLdif(text, { file: 'x.ldif' }),
    (err: unknown) => {
      assert.ok(err instanceof SourceError, `expected a SourceError, got ${String(err)}`);
      assert.ok(err.message.startsWith(`x.ldif:${line}: `), `wrong position in: ${err.message}`);
      assert.match(err.message, pattern);
      assert.ok(err.hint !== undefined && err.hint.length > 0, 'a hint');
      return true;
    },
  );
}

test('plain records: version line, comments, blank-line separators, lower-cased names, values keep case', () => {
  const recs = parseLdif(
    '# an export\nversion: 1\n\n\n' +
      'dn: CN=Ann Lee,OU=Staff,DC=corp,DC=example\nobjectClass: top\nobjectClass: user\nsAMAccountName: ALee\n\n\n\n' +
      '# between records\ndn: CN=Bo,DC=corp,DC=example\ncn: Bo\n',
  );
  assert.equal(recs.length, 2);
  assert.equal(recs[0]!.dn, 'CN=Ann Lee,OU=Staff,DC=corp,DC=example');
  assert.equal(recs[0]!.line, 5);
  assert.deepEqual(recs[0]!.attrs, { objectclass: ['top', 'user'], samaccountname: ['ALee'] });
  assert.deepEqual(recs[1]!.attrs, { cn: ['Bo'] });
  assert.equal(recs[1]!.line, 13);
});

test('folded lines are unfolded (one leading space removed), also across comments and in the dn', () => {
  const recs = parseLdif(
    'dn: CN=A Very Long Name,OU=Staff,DC=co\n rp,DC=example\n# a comment that\n  is folded too\ndescription: one \n two\n  three\n',
  );
  assert.equal(recs[0]!.dn, 'CN=A Very Long Name,OU=Staff,DC=corp,DC=example');
  assert.deepEqual(recs[0]!.attrs['description'], ['one two three']);
});

test('folding is byte-exact across read chunks of any size', () => {
  const text =
    'version: 1\r\ndn:: Q049Sm9zw6kgR2FyY8OtYSxEQz1jb3JwLERDPWV4YW1wbGU=\r\ndisplayName: Jos\r\n é\r\nobjectGUID:: ABEiM0RVZn\r\n eImaq7zN3u/w==\r\n\r\n';
  const whole = parseLdif(text);
  const bytes = Buffer.from(text, 'utf8');
  for (const size of [1, 2, 3, 7, 64]) {
    const recs: unknown[] = [];
    const p = new LdifParser((r) => recs.push(r));
    for (let i = 0; i < bytes.length; i += size) p.push(Buffer.from(bytes.subarray(i, i + size)));
    p.end();
    assert.deepEqual(recs, whole, `chunk size ${size}`);
  }
  assert.equal((whole[0] as { attrs: Record<string, unknown[]> }).attrs['displayname']![0], 'José');
});

test('base64 values: binary attributes stay bytes, others decode as UTF-8; non-ASCII dn::', () => {
  const recs = parseLdif(
    `dn:: ${Buffer.from('CN=Zoë Müller,OU=Staff,DC=corp,DC=example').toString('base64')}\n` +
      `objectGUID:: ${GUID.toString('base64')}\n` +
      `mS-DS-ConsistencyGuid:: ${GUID.toString('base64')}\n` +
      `cn:: ${Buffer.from('Zoë Müller').toString('base64')}\n` +
      `description:: ${Buffer.from(' starts with a space').toString('base64')}\n`,
  );
  const r = recs[0]!;
  assert.equal(r.dn, 'CN=Zoë Müller,OU=Staff,DC=corp,DC=example');
  const guid = r.attrs['objectguid']![0]!;
  assert.ok(guid instanceof Uint8Array && typeof guid !== 'string');
  assert.deepEqual(Buffer.from(guid), GUID);
  assert.ok(r.attrs['ms-ds-consistencyguid']![0] instanceof Uint8Array);
  assert.deepEqual(r.attrs['cn'], ['Zoë Müller']);
  assert.deepEqual(r.attrs['description'], [' starts with a space']);
});

test('a plain value of a binary attribute is bytes too; plain UTF-8 values decode', () => {
  const r = parseLdif('dn: CN=x\nthumbnailPhoto: abcdefghijklmnop\nsn: Gómez\n')[0]!;
  assert.deepEqual(r.attrs['thumbnailphoto'], [Buffer.from('abcdefghijklmnop')]);
  assert.deepEqual(r.attrs['sn'], ['Gómez']);
});

test('CRLF line endings', () => {
  const r = parseLdif('version: 1\r\n\r\ndn: CN=a,DC=x\r\ncn: a\r\nsn: b\r\n\r\ndn: CN=b,DC=x\r\ncn: b\r\n');
  assert.equal(r.length, 2);
  assert.deepEqual(r[0]!.attrs, { cn: ['a'], sn: ['b'] });
  assert.equal(r[1]!.dn, 'CN=b,DC=x');
});

test('ldifde records: "changetype: add" accepted and not kept as an attribute', () => {
  const r = parseLdif('dn: CN=a,DC=x\nchangetype: add\nobjectClass: user\n\ndn: CN=b,DC=x\nchangeType: Add\ncn: b\n');
  assert.deepEqual(r[0]!.attrs, { objectclass: ['user'] });
  assert.deepEqual(r[1]!.attrs, { cn: ['b'] });
});

test('attribute options: ;binary and a complete ;range=0-* join the plain attribute', () => {
  const r = parseLdif(
    `dn: CN=g,DC=x\nobjectGUID;binary:: ${GUID.toString('base64')}\nmember;range=0-*: CN=a,DC=x\nmember: CN=b,DC=x\n`,
  )[0]!;
  assert.deepEqual(Buffer.from(r.attrs['objectguid']![0] as Uint8Array), GUID);
  assert.deepEqual(r.attrs['member'], ['CN=a,DC=x', 'CN=b,DC=x']);
});

test("ldapsearch's search/result trailer is not an entry", () => {
  const r = parseLdif(
    '# extended LDIF\ndn: CN=a,DC=x\ncn: a\n\n# search result\nsearch: 2\nresult: 0 Success\n\n# numResponses: 2\n',
  );
  assert.equal(r.length, 1);
});

test('errors carry file:line and a hint', () => {
  throwsAt(
    'dn: CN=a,DC=x\ncn: a\n\ndn: CN=b,DC=x\nchangetype: modify\nreplace: cn\ncn: c\n-\n',
    5,
    /changetype: modify/,
  );
  throwsAt('dn: CN=a,DC=x\nchangetype: delete\n', 2, /changetype: delete/);
  throwsAt('dn: CN=a,DC=x\ncn: a\njpegPhoto:< file:///tmp/a.jpg\n', 3, /by URL/);
  throwsAt('dn: CN=a,DC=x\ncn: a\nthis line has no colon\n', 3, /expected "attribute: value"/);
  throwsAt('dn: CN=a,DC=x\ncn:: not*base64\n', 2, /base64/);
  throwsAt('\n\ncn: a\n', 3, /must start with "dn:"/);
  throwsAt(' leading continuation\n', 1, /continuation/);
  throwsAt('version: 2\ndn: CN=a\n', 1, /version/);
  throwsAt('dn: CN=g,DC=x\ncn: g\nmember;range=0-1499: CN=a,DC=x\n', 3, /only part of the values/);
  throwsAt('dn: CN=a,DC=x\ncn: a\nchangetype: add\n', 3, /directly follow/);
  throwsAt('dn: CN=a,DC=x\n\n\ndn: CN=b,DC=x\nbad_name!: x\n', 5, /not an attribute name/);
});

test('acceptDn skips records without decoding them; acceptAttribute drops values', () => {
  const seen: string[] = [];
  const r = parseLdif(
    'dn: CN=a,DC=x\ncn: a\nsn: a\n\ndn: CN=b,DC=y\ncn:: !!!not base64 but skipped\n\ndn: CN=c,DC=x\ncn: c\n',
    {
      acceptDn: (dn) => (seen.push(dn), dn.endsWith('DC=x')),
      acceptAttribute: (a) => a !== 'sn',
    },
  );
  assert.deepEqual(seen, ['CN=a,DC=x', 'CN=b,DC=y', 'CN=c,DC=x']);
  assert.deepEqual(
    r.map((x) => x.dn),
    ['CN=a,DC=x', 'CN=c,DC=x'],
  );
  assert.deepEqual(r[0]!.attrs, { cn: ['a'] });
});

test('a file without a final newline, and an empty file', () => {
  assert.deepEqual(parseLdif('dn: CN=a\ncn: a')[0]!.attrs, { cn: ['a'] });
  assert.deepEqual(parseLdif(''), []);
});

// Issue 17, LDIF identity: a GUID that would anchor an object wrongly, and text that isn't UTF-8, stop the read.
test('an empty GUID, a GUID of the wrong length, GUID text, or two GUIDs: an error at the line', () => {
  const b64 = (n: number) => Buffer.alloc(n, 7).toString('base64');
  throwsAt('dn: CN=x,DC=y\nobjectGUID::\n', 2, /"objectGUID::" is empty/);
  throwsAt('dn: CN=x,DC=y\nobjectGUID:\n', 2, /"objectGUID:" is empty/);
  throwsAt(`dn: CN=x,DC=y\ncn: x\nobjectGUID:: ${b64(15)}\n`, 3, /"objectGUID::" holds 15 bytes; a GUID is 16/);
  throwsAt(`dn: CN=x,DC=y\nobjectGUID:: ${b64(17)}\n`, 2, /holds 17 bytes/);
  throwsAt(
    `dn: CN=x,DC=y\nmS-DS-ConsistencyGuid:: ${b64(1)}\n`,
    2,
    /"mS-DS-ConsistencyGuid::" holds 1 byte; a GUID is 16/,
  );
  throwsAt(
    'dn: CN=x,DC=y\nobjectGUID: 8d8a7f9e-1c2b-4a3d-9e8f-001122334455\n',
    2,
    /"objectGUID: 8d8a7f9e-1c2b-4a3d-9e8f-001122334455" is text; a GUID is exported as base64/,
  );
  throwsAt(
    `dn: CN=x,DC=y\nobjectGUID:: ${GUID.toString('base64')}\nobjectGUID:: ${GUID.toString('base64')}\n`,
    3,
    /"objectGUID" appears twice/,
  );
  // the 16-byte form is fine, folded or not
  const g = GUID.toString('base64');
  assert.deepEqual(
    parseLdif(`dn: CN=x,DC=y\nobjectGUID:: ${g.slice(0, 5)}\n ${g.slice(5)}\n`)[0]!.attrs['objectguid'],
    [GUID],
  );
});

test('text that is not UTF-8 (in a value, a base64 value, a folded value, the dn): an error at the line', () => {
  const latin1 = (s: string) => Buffer.from(s, 'latin1');
  throwsAt(latin1('dn: CN=x,DC=y\nsn: G\xf3mez\n'), 2, /the value of "sn:" is not UTF-8 text/);
  throwsAt(
    latin1('dn: CN=x,DC=y\ncn: x\ndescription: a long description that is folded a\n nd G\xf3mez\n'),
    3,
    /"description:" is not UTF-8/,
  );
  throwsAt(
    `dn: CN=x,DC=y\nsn:: ${latin1('G\xf3mez').toString('base64')}\n`,
    2,
    /the value of "sn::" is not UTF-8 text/,
  );
  throwsAt(latin1('dn: CN=G\xf3mez,DC=y\ncn: x\n'), 1, /the value of "dn:" is not UTF-8 text/);
  throwsAt(
    `dn:: ${latin1('CN=G\xf3mez,DC=y').toString('base64')}\ncn: x\n`,
    1,
    /the value of "dn::" is not UTF-8 text/,
  );
  // UTF-8 is fine, short or long
  assert.deepEqual(
    parseLdif('dn: CN=x,DC=y\nsn: Gómez\ndescription: Zoë Müller, a description longer than the fast path\n')[0]!.attrs[
      'sn'
    ],
    ['Gómez'],
  );
});

test('shared values (DNs, low-cardinality attributes) come back exactly as written, each record with lists of its own', () => {
  // Enough records that the sharing of unique values (cn) switches off (after 256), with groups before and after
  // the users their members name, members that name no record, distinguishedName repeating the dn, and
  // multi-valued lists; the oracle is the generator's own list of records.
  let seed = 20261202;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const titles = ['Manager', 'Engineer', 'Analyst', 'Lead', 'Director'];
  const userDn = (i: number): string => `CN=User ${i},OU=Staff,DC=corp,DC=example`;
  const expected: { dn: string; attrs: Record<string, string[]> }[] = [];
  const group = (g: number): void => {
    const member = Array.from({ length: 1 + rand(40) }, () =>
      rand(10) === 0 ? `CN=Gone ${rand(1000)},OU=Old,DC=corp,DC=example` : userDn(rand(600)),
    );
    const dn = `CN=Group ${g},OU=Groups,DC=corp,DC=example`;
    expected.push({ dn, attrs: { objectclass: ['top', 'group'], distinguishedname: [dn], member } });
  };
  for (let g = 0; g < 10; g++) group(g);
  for (let i = 0; i < 600; i++) {
    const dn = userDn(i);
    expected.push({
      dn,
      attrs: {
        objectclass: ['top', 'person', 'organizationalPerson', 'user'],
        cn: [`User ${i}`],
        distinguishedname: [dn],
        company: ['Contoso Ltd'],
        title: [titles[rand(titles.length)]!],
        ...(i % 3 === 0 ? { manager: [userDn(rand(600))] } : {}),
      },
    });
  }
  for (let g = 10; g < 20; g++) group(g);
  const text = expected
    .map(
      (r) =>
        `dn: ${r.dn}\n${Object.entries(r.attrs)
          .flatMap(([k, vs]) => vs.map((v) => `${k}: ${v}\n`))
          .join('')}`,
    )
    .join('\n');
  const recs = parseLdif(text);
  assert.deepEqual(
    recs.map((r) => ({ dn: r.dn, attrs: r.attrs })),
    expected,
  );
  // A shared value is never a shared list: changing one record's list leaves the others as they were.
  recs[20]!.attrs['company']!.push('changed');
  recs[20]!.attrs['objectclass']!.pop();
  recs[0]!.attrs['member']!.length = 0;
  assert.deepEqual(recs[21]!.attrs['company'], ['Contoso Ltd']);
  assert.deepEqual(recs[21]!.attrs['objectclass'], ['top', 'person', 'organizationalPerson', 'user']);
  assert.deepEqual(recs[1]!.attrs['member'], expected[1]!.attrs['member']);
});
