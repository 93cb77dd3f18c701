/**
 * Issue 17: scope entries that match nothing were silent, so a typo in an excluded OU synced the service
 * account it meant to keep out. plan warns, naming the entry and where it is in the spec.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { unmatchedScopeEntries } from '../../src/engine/scope.js';
import { entry, group, scope, user } from '../support/fixtures.js';
import { quickstart, type Quickstart } from './quickstart.js';

describe('scope entries that match nothing', () => {
  it('each kind of entry: domains, include and exclude OUs, groups', () => {
    const entries = [user('Ann Lee'), group('Engineering', []), entry('OU=Empty,DC=contoso,DC=example', { objectClass: ['organizationalUnit'] })];
    const warnings = unmatchedScopeEntries(0, 'corp', scope({
      domains: ['contoso.example', 'fabrikam.example'],
      ous: { include: ['OU=Staff,DC=contoso,DC=example', 'OU=Staf,DC=contoso,DC=example'], exclude: ['OU=Empty,DC=contoso,DC=example', 'ou=service accounts,dc=contoso,dc=example'] },
      groups: ['CN=Engineering,OU=Groups,DC=contoso,DC=example', 'CN=Enginering,OU=Groups,DC=contoso,DC=example'],
    }), entries);
    assert.deepEqual(warnings, [
      'sources[0].scope.domains[1] "fabrikam.example" matches nothing in source corp: no object of that domain was read',
      'sources[0].scope.ous.include[1] "OU=Staf,DC=contoso,DC=example" matches nothing in source corp: no object was read under it, so it adds nothing',
      'sources[0].scope.ous.exclude[1] "ou=service accounts,dc=contoso,dc=example" matches nothing in source corp: no object was read under it, so it excludes nothing (a typo would let in what it means to keep out)',
      'sources[0].scope.groups[1] "CN=Enginering,OU=Groups,DC=contoso,DC=example" matches nothing in source corp: no such group was read, so none of its members can be in scope',
    ]);
  });

  it('an entry matched by a DN spelled differently is matched', () => {
    assert.deepEqual(unmatchedScopeEntries(0, 'corp', scope({ ous: { include: [], exclude: ['ou=STAFF, dc=Contoso,dc=example'] } }), [user('Ann Lee')]), []);
  });
});

describe('scope warnings through the CLI (quickstart)', () => {
  let q: Quickstart;
  before(async () => (q = await quickstart()));
  after(async () => q.close());

  it('a typo in the excluded OU: plan warns and names it; the service account it meant to exclude is in the plan', async () => {
    await q.editSpec((t) => t.replace('exclude: ["OU=Service Accounts,DC=contoso,DC=example"]', 'exclude: ["OU=Service Acounts,DC=contoso,DC=example"]'));
    const r = await q.cli(['plan', '-c', 'SPEC']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^Warning: sources\[0\]\.scope\.ous\.exclude\[0\] "OU=Service Acounts,DC=contoso,DC=example" matches nothing in source contoso: no object was read under it, so it excludes nothing/m);
    assert.match(r.stdout, /svc-backup/);
  });

  it('the quickstart as shipped: no warning', async () => {
    await q.editSpec((t) => `${t}\n`);
    const r = await q.cli(['plan', '-c', 'SPEC']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Warning/);
  });
});
