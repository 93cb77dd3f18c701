/**
 * Members of another forest (account forest / resource forest): a group of one source names a member of
 * another by a foreign security principal, `CN=<SID>,CN=ForeignSecurityPrincipals,<domain>`. It resolves to the
 * desired object of another source whose objectSid is that SID, as Entra Connect joins the principal to the
 * metaverse object by objectSidString; when no source synchronizes that SID the member is left out with a reason.
 * Plain data: two LDIF sources (corp, the resource forest; accounts, the account forest).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDesired, type DesiredObject } from '../../src/engine/desired.js';
import { foreignPrincipalSid } from '../../src/engine/foreign-principals.js';
import { compileFlows } from '../../src/engine/flows.js';
import { assemblePlan } from '../../src/engine/plan.js';
import type { DirectoryEntry, SourceSnapshot } from '../../src/model/entry.js';
import { normalizeDn } from '../../src/model/dn.js';
import { sidToBytes } from '../../src/model/sid.js';
import type { Spec } from '../../src/spec/types.js';
import { dnOf, emptyTarget, entry, group, guid, scope, snapshot, spec, user } from '../support/fixtures.js';

const FABRIKAM = 'DC=fabrikam,DC=example';
const DOMAIN_SID = 'S-1-5-21-1111-2222-3333';
const sidOf = (rid: number) => `${DOMAIN_SID}-${rid}`;
/** The principal AD creates in corp's domain when a group gets a member of another forest. */
const fsp = (sid: string) => `CN=${sid},CN=ForeignSecurityPrincipals,DC=contoso,DC=example`;

function account(cn: string, rid: number, ou = 'OU=People'): DirectoryEntry {
  const sam = cn.replace(/\s+/g, '.').toLowerCase();
  return entry(`CN=${cn},${ou},${FABRIKAM}`, {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    cn,
    sAMAccountName: sam,
    userPrincipalName: `${sam}@contoso.example`,
    displayName: cn,
    userAccountControl: '512',
    objectGUID: guid(`fabrikam:${cn}`),
    objectSid: sidToBytes(sidOf(rid))!,
  });
}

function accounts(entries: DirectoryEntry[], source = 'accounts'): SourceSnapshot {
  return { source, namingContexts: [{ dn: FABRIKAM, dnsName: 'fabrikam.example' }], entries };
}

/** corp (the resource forest) and accounts (the account forest), both LDIF exports. */
function twoForests(accountsScope: Partial<Spec['sources'][number]['scope']> = {}, more: string[] = []): Spec {
  const s = spec();
  for (const name of ['accounts', ...more])
    s.sources.push({
      name,
      ldif: { path: `${name}.ldif` },
      anchor: 'ms-ds-consistencyguid',
      scope: scope(accountsScope),
    });
  return s;
}

function desired(s: Spec, snapshots: SourceSnapshot[]) {
  return buildDesired(s, snapshots, compileFlows(s));
}

const named = (g: DesiredObject | undefined) => (g?.members ?? []).map((m) => `${m.source}:${m.label}`).sort();
const groupOf = (d: ReturnType<typeof desired>, cn: string) => d.objects.find((o) => o.label === cn);

describe('foreign security principals resolve across sources', () => {
  it('the principal names the SID its RDN holds; other DNs name none', () => {
    assert.equal(foreignPrincipalSid(normalizeDn(fsp(sidOf(1105)))), sidOf(1105));
    assert.equal(
      foreignPrincipalSid(normalizeDn(` cn = s-1-5-21-1111-2222-3333-1105 , CN=ForeignSecurityPrincipals,DC=x`)),
      sidOf(1105),
    );
    assert.equal(foreignPrincipalSid(normalizeDn(`CN=${sidOf(1105)},OU=Staff,DC=contoso,DC=example`)), undefined);
    assert.equal(foreignPrincipalSid(normalizeDn(`CN=Ann,CN=ForeignSecurityPrincipals,DC=x`)), undefined);
    assert.equal(
      foreignPrincipalSid(normalizeDn(`CN=${sidOf(5)},OU=a,CN=ForeignSecurityPrincipals,DC=x`)),
      undefined,
      'only a direct child of the container',
    );
    assert.equal(
      foreignPrincipalSid(normalizeDn('CN=S-1-5-11\\0ACNF:3f1b,CN=ForeignSecurityPrincipals,DC=x')),
      undefined,
    );
  });

  it("a group of the resource forest gets the account forest's user and group as members", () => {
    const s = twoForests();
    const team = group('Team', [fsp(sidOf(1105)), fsp(sidOf(1201))]);
    const nested = {
      ...group('Fabrikam Staff', [], { objectSid: sidToBytes(sidOf(1201))! }, 'OU=Groups'),
    };
    nested.dn = `CN=Fabrikam Staff,OU=Groups,${FABRIKAM}`;
    const d = desired(s, [snapshot([team]), accounts([account('Ann Lee', 1105), nested])]);
    const g = groupOf(d, 'Team');
    assert.deepEqual(named(g), ['accounts:Fabrikam Staff', 'accounts:ann.lee@contoso.example']);
    assert.equal(g?.skippedMembers, undefined);
  });

  it('the plan adds the foreign member by its anchor and reports nothing left out', () => {
    const s = twoForests();
    const p = assemblePlan({
      spec: s,
      specPath: 'adsync.yaml',
      flows: compileFlows(s),
      sources: [snapshot([group('Team', [fsp(sidOf(1105))])]), accounts([account('Ann Lee', 1105)])],
      target: emptyTarget(),
      toolVersion: 'test',
      now: new Date(0),
    }).plan;
    const add = p.changes.find((c) => c.action === 'add-members');
    assert.ok(add && add.action === 'add-members', JSON.stringify(p.changes));
    assert.deepEqual(
      add.members.map((m) => m.anchor),
      [Buffer.from(guid('fabrikam:Ann Lee')).toString('base64')],
    );
    assert.deepEqual(
      p.reports.filter((r) => r.code === 'members-skipped'),
      [],
    );
  });

  it('a SID no source holds stays left out, saying so; a well-known SID says it is one', () => {
    const s = twoForests();
    const d = desired(s, [
      snapshot([group('Team', [fsp(sidOf(1105)), fsp(sidOf(4242)), fsp('S-1-5-11')])]),
      accounts([account('Ann Lee', 1105)]),
    ]);
    const g = groupOf(d, 'Team');
    assert.deepEqual(named(g), ['accounts:ann.lee@contoso.example']);
    assert.deepEqual(g?.skippedMembers, {
      "a foreign security principal whose SID no source holds (an account of a forest that is not among the spec's sources)":
        [fsp(sidOf(4242))],
      'a foreign security principal for a well-known SID (a built-in identity, not an account of any forest)': [
        fsp('S-1-5-11'),
      ],
    });
  });

  it('an account out of scope in its own source is left out with its scope reason', () => {
    const s = twoForests({ ous: { include: [], exclude: [`OU=Service,${FABRIKAM}`] } });
    const d = desired(s, [
      snapshot([group('Team', [fsp(sidOf(1105)), fsp(sidOf(1300))])]),
      accounts([account('Ann Lee', 1105), account('svc backup', 1300, 'OU=Service')]),
    ]);
    const g = groupOf(d, 'Team');
    assert.deepEqual(named(g), ['accounts:ann.lee@contoso.example']);
    const reasons = Object.keys(g?.skippedMembers ?? {});
    assert.equal(reasons.length, 1, reasons.join('\n'));
    assert.match(
      reasons[0]!,
      /^a foreign security principal for an object of source accounts that is not synchronized: out of scope \(.*OU=Service,DC=fabrikam,DC=example/i,
    );
  });

  it("the group's own source never resolves its principal; two other sources holding the SID resolve none", () => {
    const own = twoForests();
    const mine = { ...account('Ann Lee', 1105) };
    mine.dn = 'CN=Ann Lee,OU=Staff,DC=contoso,DC=example';
    const d1 = desired(own, [snapshot([group('Team', [fsp(sidOf(1105))]), mine]), accounts([])]);
    assert.deepEqual(named(groupOf(d1, 'Team')), []);
    assert.match(Object.keys(groupOf(d1, 'Team')?.skippedMembers ?? {})[0] ?? '', /own source/);

    const s = twoForests({}, ['emea']);
    const other = { ...account('Ann Lee Twin', 1105) };
    other.dn = 'CN=Ann Lee Twin,OU=People,DC=emea,DC=example';
    const d2 = desired(s, [
      snapshot([group('Team', [fsp(sidOf(1105))])]),
      accounts([account('Ann Lee', 1105)]),
      accounts([other], 'emea'),
    ]);
    assert.deepEqual(named(groupOf(d2, 'Team')), []);
    assert.deepEqual(Object.keys(groupOf(d2, 'Team')?.skippedMembers ?? {}), [
      'a foreign security principal whose SID more than one object of the other sources holds (accounts, emea): it names none of them',
    ]);
  });

  it('a principal spelled differently from AD still resolves, and a DN member next to it is unchanged', () => {
    const s = twoForests();
    const d = desired(s, [
      snapshot([
        group('Team', [
          `cn=${sidOf(1105).toLowerCase()},cn=foreignsecurityprincipals,dc=CONTOSO,dc=example`,
          dnOf('Bob Jones'),
        ]),
        user('Bob Jones'),
      ]),
      accounts([account('Ann Lee', 1105)]),
    ]);
    assert.deepEqual(named(groupOf(d, 'Team')), ['accounts:ann.lee@contoso.example', 'corp:bob.jones@contoso.example']);
  });
});
