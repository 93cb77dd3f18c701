/**
 * Issue 11's acceptance, through the CLI: `adsync explain` agrees with `adsync plan` for every object of the
 * quickstart's plan after an apply, under `safety.deleteMode: disable-first` and soft match. The issue's
 * repro: Kate Novak (knovak) moved into OU=Service Accounts (out of scope) is disabled, not deleted, in both.
 * (The writeback example's half is in test/e2e/writeback.test.ts: it needs Samba.)
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../support/cli.js';
import { assertExplainAgrees } from '../support/explain-agrees.js';

const QUICKSTART = fileURLToPath(new URL('../../../examples/quickstart/', import.meta.url));

describe('explain agrees with plan (quickstart, disable-first, soft match)', () => {
  let dir: string;
  let spec: string;
  let ldif: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-explain-agrees-'));
    await cp(join(QUICKSTART, 'corp.ldif'), join(dir, 'corp.ldif'));
    await cp(join(QUICKSTART, 'tenant.yaml'), join(dir, 'tenant.yaml'));
    spec = join(dir, 'adsync.yaml');
    ldif = join(dir, 'corp.ldif');
    // A cloud-only user with the UPN of a user AD gets later: soft match (upn) adopts it.
    await writeFile(
      join(dir, 'cloud.yaml'),
      [
        'version: 1',
        'users:',
        '  - userPrincipalName: lvogel@contoso.example',
        '    displayName: Lena (cloud)',
        '',
      ].join('\n'),
    );
    const text = (await readFile(join(QUICKSTART, 'adsync.yaml'), 'utf8'))
      .replace('    fixture: ./tenant.yaml\n', '    fixture: [./tenant.yaml, ./cloud.yaml]\n')
      .replace(
        'safety:\n  maxDeletes: 10',
        'matching:\n  softMatch: upn\n\nsafety:\n  maxDeletes: 10\n  deleteMode: disable-first',
      );
    assert.match(text, /fixture: \[\.\/tenant\.yaml, \.\/cloud\.yaml\]/);
    assert.match(text, /deleteMode: disable-first/);
    await writeFile(spec, text);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('for every object of a plan that disables, updates and soft-matches; Kate Novak is disabled, not deleted', async () => {
    const applied = await runCli(['apply', '-c', spec, '--auto-approve']);
    assert.equal(applied.code, 0, applied.stderr);
    const before = await readFile(ldif, 'utf8');
    const edited =
      before
        .replaceAll(
          'CN=Kate Novak,OU=Contractors,DC=contoso,DC=example',
          'CN=Kate Novak,OU=Service Accounts,DC=contoso,DC=example',
        )
        .replace('title: Designer', 'title: Senior Designer') +
      // Lena Vogel is new in AD; a cloud-only user already has her UPN: soft match (upn) adopts it.
      [
        '',
        'dn: CN=Lena Vogel,OU=Staff,DC=contoso,DC=example',
        'changetype: add',
        'objectClass: top',
        'objectClass: person',
        'objectClass: organizationalPerson',
        'objectClass: user',
        'cn: Lena Vogel',
        'sn: Vogel',
        'givenName: Lena',
        'displayName: Lena Vogel',
        'objectGUID:: q83vEjRWeJCrze8SNFZ4kA==',
        'userAccountControl: 512',
        'sAMAccountName: lvogel',
        'userPrincipalName: lvogel@contoso.example',
        'mail: lena.vogel@contoso.example',
        '',
      ].join('\n');
    await writeFile(ldif, edited);

    const { plan, explained } = await assertExplainAgrees(spec);
    const actions = plan.changes.map((c) => `${c.action} ${c.label}`);
    assert.ok(actions.includes('adopt lvogel@contoso.example'), `soft match adopts Lena Vogel: ${actions.join(', ')}`);
    const kate = plan.changes.find((c) => c.label === 'knovak@contoso.example');
    assert.ok(kate && kate.action === 'update', `the plan disables knovak: ${JSON.stringify(kate)}`);
    const fromExplain = explained.get(kate.anchor)?.changes ?? [];
    assert.deepEqual(
      fromExplain.map((c) => c.action),
      ['update'],
      'explain says disable (an update), not delete',
    );
    assert.ok(
      fromExplain[0]?.action === 'update' &&
        fromExplain[0].attributes.some((a) => a.name === 'accountEnabled' && a.after === false),
      'explain shows accountEnabled → false',
    );
    const text = await runCli(['explain', '-c', spec, 'knovak@contoso.example']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /~ update user knovak@contoso\.example/);
    assert.doesNotMatch(text.stdout, /- delete user knovak/);
  });
});
