/**
 * Issue 11's acceptance, through the CLI: `adsync explain` agrees with `adsync plan` for every object of the
 * quickstart under `safety.deleteMode: disable-first` and soft match, before and after an apply. The issue's
 * repro: Kate Novak (knovak) moved into OU=Service Accounts (out of scope) is disabled, not deleted, in both.
 * (The writeback example's half is in test/writeback/writeback.test.ts: it needs Samba.)
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
    spec = join(dir, 'adsync.yaml');
    ldif = join(dir, 'corp.ldif');
    // A cloud-only user with Isabel Costa's UPN: soft match (upn) adopts it.
    await writeFile(
      join(dir, 'cloud.yaml'),
      [
        'version: 1',
        'users:',
        '  - userPrincipalName: icosta@contoso.example',
        '    displayName: Isabel (cloud)',
        '',
      ].join('\n'),
    );
    const text = (await readFile(join(QUICKSTART, 'adsync.yaml'), 'utf8'))
      .replace(
        '    domains: [contoso.example]\n\nobjects:',
        '    domains: [contoso.example]\n    fixture: ./cloud.yaml\n\nobjects:',
      )
      .replace(
        'safety:\n  maxDeletes: 10',
        'matching:\n  softMatch: upn\n\nsafety:\n  maxDeletes: 10\n  deleteMode: disable-first',
      );
    assert.match(text, /fixture: \.\/cloud\.yaml/);
    assert.match(text, /deleteMode: disable-first/);
    await writeFile(spec, text);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('on the first plan: creates, memberships and a soft-match adoption', async () => {
    const { plan, explained } = await assertExplainAgrees(spec);
    assert.ok(
      plan.changes.some((c) => c.action === 'adopt' && c.label === 'icosta@contoso.example'),
      'the plan soft-matches Isabel Costa',
    );
    assert.ok(explained.size >= 10, `explained ${explained.size} objects`);
  });

  it('after an apply: Kate Novak moved into OU=Service Accounts is disabled, not deleted, in plan and explain', async () => {
    const applied = await runCli(['apply', '-c', spec, '--auto-approve']);
    assert.equal(applied.code, 0, applied.stderr);
    const before = await readFile(ldif, 'utf8');
    const moved = before
      .replaceAll(
        'CN=Kate Novak,OU=Contractors,DC=contoso,DC=example',
        'CN=Kate Novak,OU=Service Accounts,DC=contoso,DC=example',
      )
      .replace('department: Sales', 'department: Field Sales');
    assert.notEqual(moved, before);
    await writeFile(ldif, moved);

    const { plan, explained } = await assertExplainAgrees(spec);
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
