/**
 * Issue 17, LDIF identity, through the CLI on the quickstart: an empty GUID, a GUID of the wrong length or
 * written as text, a DN with two records, and text that isn't UTF-8 each stop plan and apply with
 * `corp.ldif:LINE: …` and a hint — after a first apply, so a bad export can't delete or rewrite anything either.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { quickstart, type Quickstart } from '../../support/quickstart.js';

const BOB_GUID = 'objectGUID:: fnF/nK225EY7OVeEw2E67g==';
const EXPORT_LINES = readFileSync(
  fileURLToPath(new URL('../../../../examples/quickstart/corp.ldif', import.meta.url)),
  'utf8',
).split('\n');
/** Bob Ortiz's objectGUID line and his record's first line in examples/quickstart/corp.ldif (1-based). */
const BOB_GUID_LINE = EXPORT_LINES.indexOf(BOB_GUID) + 1;
const BOB_DN_LINE = EXPORT_LINES.indexOf('dn: CN=Bob Ortiz,OU=Staff,DC=contoso,DC=example') + 1;

const CASES: { name: string; edit: (text: string) => string | Buffer; error: RegExp }[] = [
  {
    name: 'an empty objectGUID',
    edit: (t) => t.replace(BOB_GUID, 'objectGUID::'),
    error: new RegExp(`corp\\.ldif:${BOB_GUID_LINE}: "objectGUID::" is empty`),
  },
  {
    name: 'an objectGUID with no value',
    edit: (t) => t.replace(BOB_GUID, 'objectGUID:'),
    error: new RegExp(`corp\\.ldif:${BOB_GUID_LINE}: "objectGUID:" is empty`),
  },
  {
    name: 'a 12-byte objectGUID',
    edit: (t) => t.replace(BOB_GUID, 'objectGUID:: fnF/nK225EY7OVeE'),
    error: new RegExp(`corp\\.ldif:${BOB_GUID_LINE}: "objectGUID::" holds 12 bytes; a GUID is 16`),
  },
  {
    name: 'a 20-byte mS-DS-ConsistencyGuid',
    edit: (t) => t.replace(BOB_GUID, `${BOB_GUID}\nmS-DS-ConsistencyGuid:: ${Buffer.alloc(20, 1).toString('base64')}`),
    error: new RegExp(`corp\\.ldif:${BOB_GUID_LINE + 1}: "mS-DS-ConsistencyGuid::" holds 20 bytes`),
  },
  {
    name: 'an objectGUID written as text',
    edit: (t) => t.replace(BOB_GUID, 'objectGUID: 9c7f717e-b6ad-46e4-3b39-5784c3613aee'),
    error: new RegExp(
      `corp\\.ldif:${BOB_GUID_LINE}: "objectGUID: 9c7f717e-b6ad-46e4-3b39-5784c3613aee" is text; a GUID is exported as base64`,
    ),
  },
  {
    name: 'a second record for a DN',
    edit: (t) =>
      `${t.trimEnd()}\n\ndn: CN=Bob Ortiz,OU=Staff,DC=contoso,DC=example\nobjectClass: user\nobjectGUID:: ${Buffer.alloc(16, 9).toString('base64')}\nsAMAccountName: bortiz2\n`,
    error: new RegExp(
      `corp\\.ldif:\\d+: a second record for "CN=Bob Ortiz,OU=Staff,DC=contoso,DC=example" \\(the first is at line ${BOB_DN_LINE}\\)`,
    ),
  },
  {
    name: 'a second record for a DN spelled differently',
    edit: (t) =>
      `${t.trimEnd()}\n\ndn: cn=bob ortiz, ou=staff, dc=contoso, dc=example\nobjectClass: user\nobjectGUID:: ${Buffer.alloc(16, 9).toString('base64')}\n`,
    error: new RegExp(
      `corp\\.ldif:\\d+: a second record for "cn=bob ortiz, ou=staff, dc=contoso, dc=example" \\(the first is at line ${BOB_DN_LINE}\\)`,
    ),
  },
  {
    name: 'a Latin-1 byte in a value',
    edit: (t) =>
      Buffer.from(t.replace('title: Account Executive', 'title: Account Ejecutivo de Direcci\xf3n'), 'latin1'),
    error: /corp\.ldif:\d+: the value of "title:" is not UTF-8 text/,
  },
];

describe('LDIF identity problems stop plan and apply (quickstart)', () => {
  let q: Quickstart;
  let tenantBefore: string;
  before(async () => {
    q = await quickstart();
    const applied = await q.cli(['apply', '-c', 'SPEC', '--auto-approve']);
    assert.equal(applied.code, 0, applied.stderr);
    tenantBefore = await readFile(join(q.dir, '.adsync', 'tenant.json'), 'utf8');
  });
  after(async () => q.close());

  for (const c of CASES) {
    it(`${c.name}: plan exits 1 with FILE:LINE and a hint`, async () => {
      await q.editLdif(c.edit);
      const r = await q.cli(['plan', '-c', 'SPEC']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, c.error);
      assert.match(r.stderr, /Hint: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stdout, '', 'no plan printed');
    });
  }

  it('apply with a broken export writes nothing (no create, update or delete)', async () => {
    await q.editLdif(CASES[0]!.edit);
    const r = await q.cli(['apply', '-c', 'SPEC', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, CASES[0]!.error);
    assert.equal(await readFile(join(q.dir, '.adsync', 'tenant.json'), 'utf8'), tenantBefore);
  });
});
