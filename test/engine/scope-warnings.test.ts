/**
 * Issue 17: scope entries that match nothing were silent, so a typo in an excluded OU synced the service
 * account it meant to keep out. plan warns, naming the entry and where it is in the spec.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unmatchedScopeEntries } from '../../src/engine/scope.js';
import { checkSpecText } from '../../src/spec/load.js';
import { entry, group, scope, user } from '../support/fixtures.js';
import { quickstart, type Quickstart } from '../support/quickstart.js';

describe('scope entries that match nothing', () => {
  it('each kind of entry: domains, include and exclude OUs, groups', () => {
    const entries = [
      user('Ann Lee'),
      group('Engineering', []),
      entry('OU=Empty,DC=contoso,DC=example', { objectClass: ['organizationalUnit'] }),
    ];
    const warnings = unmatchedScopeEntries(
      0,
      'corp',
      scope({
        domains: ['contoso.example', 'fabrikam.example'],
        ous: {
          include: ['OU=Staff,DC=contoso,DC=example', 'OU=Staf,DC=contoso,DC=example'],
          exclude: ['OU=Empty,DC=contoso,DC=example', 'ou=service accounts,dc=contoso,dc=example'],
        },
        groups: ['CN=Engineering,OU=Groups,DC=contoso,DC=example', 'CN=Enginering,OU=Groups,DC=contoso,DC=example'],
      }),
      entries,
    );
    assert.deepEqual(warnings, [
      'sources[0].scope.domains[1] "fabrikam.example" matches nothing in source corp: no object of that domain was read',
      'sources[0].scope.ous.include[1] "OU=Staf,DC=contoso,DC=example" matches nothing in source corp: no object was read under it, so it adds nothing',
      'sources[0].scope.ous.exclude[1] "ou=service accounts,dc=contoso,dc=example" matches nothing in source corp: no object was read under it, so it excludes nothing (a typo would let in what it means to keep out)',
      'sources[0].scope.groups[1] "CN=Enginering,OU=Groups,DC=contoso,DC=example" matches nothing in source corp: no such group was read, so none of its members can be in scope',
    ]);
  });

  it('an entry matched by a DN spelled differently is matched', () => {
    assert.deepEqual(
      unmatchedScopeEntries(0, 'corp', scope({ ous: { include: [], exclude: ['ou=STAFF, dc=Contoso,dc=example'] } }), [
        user('Ann Lee'),
      ]),
      [],
    );
  });
});

describe('scope warnings through the CLI (quickstart)', () => {
  let q: Quickstart;
  before(async () => (q = await quickstart()));
  after(async () => q.close());

  it('a typo in the excluded OU: plan warns and names it; the service account it meant to exclude is in the plan', async () => {
    await q.editSpec((t) =>
      t.replace(
        'exclude: ["OU=Service Accounts,DC=contoso,DC=example"]',
        'exclude: ["OU=Service Acounts,DC=contoso,DC=example"]',
      ),
    );
    const r = await q.cli(['plan', '-c', 'SPEC']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^Warning: sources\[0\]\.scope\.ous\.exclude\[0\] "OU=Service Acounts,DC=contoso,DC=example" matches nothing in source contoso: no object was read under it, so it excludes nothing/m,
    );
    assert.match(r.stdout, /svc-backup/);
    // apply, which plans afresh, says so too before it writes
    const applied = await q.cli(['apply', '-c', 'SPEC', '--auto-approve']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(
      applied.stderr,
      /^Warning: sources\[0\]\.scope\.ous\.exclude\[0\] "OU=Service Acounts,DC=contoso,DC=example" matches nothing/m,
    );
  });

  it('the quickstart as shipped: no warning', async () => {
    await q.editSpec((t) => `${t}\n`);
    await rm(join(q.dir, '.adsync'), { recursive: true, force: true });
    const r = await q.cli(['plan', '-c', 'SPEC']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Warning/);
  });
});

describe('scope entries that can match nothing, whatever the directory holds (validate)', () => {
  const spec = (scopeLines: string) => `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
    scope:
${scopeLines}
target:
  emulator: { state: ./state.json }
`;

  it('an OU or group outside scope.domains, an excluded OU outside every included one: positioned warnings, the spec stays valid', () => {
    const r = checkSpecText(
      spec(`      domains: [contoso.example]
      ous:
        include: ["OU=Staff,DC=contoso,DC=example"]
        exclude: ["OU=Service Accounts,DC=contoso,DC=example", "OU=Temp,OU=Staff,DC=contoso,DC=example", "OU=Svc,DC=fabrikam,DC=example"]
      groups: ["CN=Pilot,OU=Groups,DC=fabrikam,DC=example"]`),
      'a.yaml',
    );
    assert.deepEqual(r.problems, []);
    assert.deepEqual(
      (r.warnings ?? []).map((w) => `${w.line}:${w.col} ${w.message}`),
      [
        '9:19 sources[0].scope.ous.exclude[0] excludes nothing: it is not under any OU of scope.ous.include',
        '9:106 sources[0].scope.ous.exclude[2] can match nothing: its domain fabrikam.example is not in scope.domains',
        '10:16 sources[0].scope.groups[0] can match nothing: its domain fabrikam.example is not in scope.domains',
      ],
    );
  });

  it('the shipped specs have none', () => {
    for (const s of ['quickstart', 'ad-to-entra', 'group-writeback']) {
      const file = fileURLToPath(new URL(`../../../examples/${s}/adsync.yaml`, import.meta.url));
      assert.equal(checkSpecText(readFileSync(file, 'utf8'), file).warnings, undefined, s);
    }
  });

  it('through the CLI: validate prints the warning and exits 0', async () => {
    const q = await quickstart();
    try {
      await q.editSpec((t) =>
        t.replace(
          'exclude: ["OU=Service Accounts,DC=contoso,DC=example"]',
          'exclude: ["OU=Service Accounts,DC=contoso,DC=exmaple"]',
        ),
      );
      const r = await q.cli(['validate', '-c', 'SPEC']);
      assert.equal(r.code, 0, r.stderr);
      const line =
        /^Warning: .*adsync\.yaml:22:19 sources\[0\]\.scope\.ous\.exclude\[0\] can match nothing: its domain contoso\.exmaple is not in scope\.domains$/m;
      assert.match(r.stderr, line);
      // --json carries it; plan says it the same way
      const json = await q.cli(['validate', '-c', 'SPEC', '--json']);
      assert.equal(json.code, 0, json.stderr);
      const result = JSON.parse(json.stdout) as { warnings?: { line: number; col: number; message: string }[] };
      assert.deepEqual(
        result.warnings?.map((w) => `${w.line}:${w.col}`),
        ['22:19'],
      );
      const plan = await q.cli(['plan', '-c', 'SPEC']);
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stderr, line);
    } finally {
      await q.close();
    }
  });
});
