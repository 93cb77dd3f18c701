/**
 * Issue 3's acceptance, end to end through the real CLI: a real Samba AD DC (seeded over LDAP) planned and
 * applied into the Graph emulator, with `examples/ad-to-entra/adsync.yaml` itself as the spec — its LDAP
 * connection and its Entra target (the emulator's URL, authority and client credentials) all come from the
 * environment, as in a real deployment, and ADSYNC_LDAP_BASE_DN scopes it to this file's own OU.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Attribute, Change as LdapChange } from 'ldapts';
import type { Client } from 'ldapts';
import { dnEquals, normalizeDn } from '../../src/model/dn.js';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { Change, CreateChange } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { runCli, type CliResult } from '../support/cli.js';
import type { SambaDc } from '../support/samba.js';
import { sambaSkipReason } from '../support/samba.js';
import { closeSambaCli, emulatorGraph, openSamba, startCliEmulator, startEmulatorIn } from '../support/samba-cli.js';
import {
  ACCOUNTDISABLE,
  GROUP_GLOBAL_SECURITY,
  GROUP_UNIVERSAL_DISTRIBUTION,
  GROUP_UNIVERSAL_SECURITY,
  NORMAL_ACCOUNT,
  addContact,
  addGroup,
  addMembers,
  addOu,
  addUser,
  parallelSeed,
  uniqueSuffix,
} from '../support/samba-seed.js';

const skip = await sambaSkipReason();
const EXAMPLE = fileURLToPath(new URL('../../../examples/ad-to-entra/adsync.yaml', import.meta.url));
const BIG = 5000;

/** Names that break naive DN, filter and rendering code: in CN and displayName alike. */
const TRICKY = ['Smith, John', 'O"Brien "Quote"', '#hash Tag', ' Leading Space', 'Zoë Ærøskøbing 山田'];
/** A scope filter parameter that, pasted into a filter string, would widen `(department=VALUE)`. */
const EVIL = 'x*)(objectClass=*';

describe('AD (Samba) → Entra (Graph emulator), end to end through the CLI', { skip }, () => {
  let dc: SambaDc;
  let admin: Client;
  let emu: RunningEmulator;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const sfx = uniqueSuffix();
  const upn = (local: string) => `${local}.${sfx}@contoso.test`;
  let root: string;
  let outside: string;
  let bulkB: string;
  const dns: Record<string, string> = {};
  const bulkDns: string[] = [];
  let seedMs = 0;

  before(async () => {
    ({ dc, admin } = await openSamba());
    const t0 = Date.now();
    root = await addOu(admin, `adsync-e2e-${sfx}`, dc.baseDn);
    outside = await addOu(admin, `adsync-e2e-out-${sfx}`, dc.baseDn);
    const people = await addOu(admin, 'People', root);
    const groups = await addOu(admin, 'Groups, #1', root); // an OU whose name needs escaping
    const contacts = await addOu(admin, 'Contacts', root);
    const bulkA = await addOu(admin, 'Bulk A', root);
    bulkB = await addOu(admin, 'Bulk B', root);
    const user = async (key: string, cn: string, attrs: Record<string, string> = {}, enabled = true) => {
      dns[key] = await addUser(admin, people, {
        cn,
        sam: `${key.slice(0, 10)}${sfx}`,
        upn: upn(key),
        enabled,
        attrs: { displayName: cn, ...attrs },
      });
    };
    await user('alice', 'Alice Anders', { givenName: 'Alice', sn: 'Anders' });
    await user('bob', 'Bob Disabled', {}, false);
    await user('mia', 'Mia Mover');
    await user('eve', 'Eve Literal', { department: EVIL });
    await user('xavier', 'Xavier Ray', { department: 'xray' });
    for (const [i, name] of TRICKY.entries()) await user(`tricky${i}`, name);
    dns['contact'] = await addContact(admin, contacts, 'Partner, External', {
      mail: `partner.${sfx}@fabrikam.example`,
      displayName: 'Partner, External',
    });
    dns['sec'] = await addGroup(admin, groups, 'Team Security', GROUP_GLOBAL_SECURITY);
    dns['outer'] = await addGroup(admin, groups, 'Outer #Nested, «Ünïcode»', GROUP_UNIVERSAL_SECURITY, {
      displayName: 'Outer #Nested, «Ünïcode»',
    });
    dns['dl'] = await addGroup(admin, groups, 'All Staff DL', GROUP_UNIVERSAL_DISTRIBUTION, {
      mail: `allstaff.${sfx}@contoso.test`,
      mailNickname: `allstaff${sfx}`,
    });
    await addMembers(admin, dns['sec'], [dns['alice']!, dns['bob']!, ...TRICKY.map((_, i) => dns[`tricky${i}`]!)]);
    await addMembers(admin, dns['outer'], [dns['sec'], dns['mia']!]);
    await addMembers(admin, dns['dl'], [dns['alice']!]);
    // 5,000 member users: disabled, so no password to hash (AD wants one in the add of an enabled user). One
    // connection with 16 adds in flight is Samba's sweet spot (its writes serialize anyway): ~6 ms a user.
    // Two OUs of 2,500, for the two-stage rollout below.
    await parallelSeed(
      dc,
      Array.from({ length: BIG }, (_, i) => i),
      async (c, i) => {
        const dn = `CN=Bulk ${String(i).padStart(4, '0')},${i < BIG / 2 ? bulkA : bulkB}`;
        await c.add(dn, [
          new Attribute({ type: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'] }),
          new Attribute({ type: 'sAMAccountName', values: [`b${i}${sfx}`] }),
          new Attribute({ type: 'userPrincipalName', values: [upn(`bulk${i}`)] }),
          new Attribute({ type: 'userAccountControl', values: [String(NORMAL_ACCOUNT | ACCOUNTDISABLE)] }),
        ]);
        bulkDns[i] = dn;
      },
      1,
      16,
    );
    dns['big'] = await addGroup(admin, groups, 'Five Thousand', GROUP_UNIVERSAL_SECURITY);
    await addMembers(admin, dns['big'], bulkDns, 1000);
    seedMs = Date.now() - t0;

    ({ emu, dir, env } = await startCliEmulator(dc, { prefix: 'adsync-e2e-ad-', baseDn: root }));
  });

  after(async () => {
    // The seeded OUs stay: the DC is a throwaway (the keeper deletes it once idle), and deleting 5,000 users
    // one by one would double this file's runtime. Every run seeds under its own suffix.
    await closeSambaCli({ admin, emu, dc, dir });
  });

  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}, spec = EXAMPLE): Promise<CliResult> =>
    runCli([...args, '-c', spec], { env: { ...env, ...extra } });

  /** `plan --format json --detailed-exitcode`: exit 2 exactly when the plan has changes. */
  async function plan(extra: NodeJS.ProcessEnv = {}, spec = EXAMPLE): Promise<Plan> {
    const r = await cli(['plan', '--format', 'json', '--detailed-exitcode'], extra, spec);
    assert.ok(r.code === 0 || r.code === 2, `plan exit ${r.code}: ${r.stderr}`);
    const p = JSON.parse(r.stdout) as Plan;
    assert.equal(r.code, p.changes.length > 0 ? 2 : 0, '--detailed-exitcode agrees with the plan');
    return p;
  }

  async function applyAndExpectClean(extra: NodeJS.ProcessEnv = {}): Promise<string> {
    const applied = await cli(['apply', '--auto-approve'], extra);
    assert.equal(applied.code, 0, applied.stdout.slice(-3000) + applied.stderr);
    const done = /^Apply complete: \d+ change\(s\) applied, 0 failed.*$/m.exec(applied.stdout);
    assert.ok(done, applied.stdout.slice(-3000));
    const again = await cli(['plan', '--detailed-exitcode'], extra);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /^No changes\./m);
    return done[0];
  }

  /** A copy of the example spec with its scope block replaced. */
  async function derivedSpec(name: string, scope: string): Promise<string> {
    const text = await readFile(EXAMPLE, 'utf8');
    const block = /^ {4}scope:\n(?: {6}.*\n| *#.*\n)*/m;
    assert.match(text, block, 'the example has a scope block');
    const path = join(dir, `${name}.yaml`);
    await writeFile(path, text.replace(block, `    scope:\n${scope.replace(/^/gm, '      ')}\n`));
    return path;
  }

  /** The users Entra holds, read over the emulator's Graph API with a token of its own (independent of adsync). */
  let graph: ReturnType<typeof emulatorGraph> | undefined;
  async function graphUsers(): Promise<Map<string, { displayName: string; accountEnabled: boolean }>> {
    graph ??= emulatorGraph(emu);
    const out = new Map<string, { displayName: string; accountEnabled: boolean }>();
    let next: string | undefined = '/users?$select=userPrincipalName,displayName,accountEnabled&$top=999';
    while (next) {
      const r: { status: number; json: any } = await graph.call('GET', next);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      for (const u of r.json.value as { userPrincipalName: string; displayName: string; accountEnabled: boolean }[])
        out.set(u.userPrincipalName.toLowerCase(), u);
      next = r.json['@odata.nextLink'] as string | undefined;
    }
    return out;
  }

  const attr = (c: Change | undefined, name: string): unknown =>
    c && 'attributes' in c ? c.attributes.find((a) => a.name === name)?.after : undefined;
  const describeChange = (c: Change) =>
    c.action === 'update' || c.action === 'restore'
      ? `${c.action} ${c.label} ${c.attributes.map((a) => `${a.name}=${JSON.stringify(a.after ?? null)}`).join(' ')}`
      : c.action === 'add-members' || c.action === 'remove-members'
        ? `${c.action} ${c.label} ${c.members.length > 12 ? `${c.members.length} members` : c.members.map((m) => m.label).join(' ')}`
        : `${c.action} ${c.kind} ${c.label}`;

  it('validates the example spec', async () => {
    const r = await runCli(['validate', '-c', EXAMPLE]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /valid \(1 source, target entra \$AZURE_TENANT_ID\)/);
  });

  it('plans every seeded object with the right values; contact and distribution group are report items', async (t) => {
    t.diagnostic(`DC provision ${dc.provisionMs} ms (0 = reused); seeding ${seedMs} ms`);
    const t0 = Date.now();
    const p = await plan();
    t.diagnostic(`plan of ${p.changes.length} changes in ${Date.now() - t0} ms`);
    const creates = p.changes.filter((c): c is CreateChange => c.action === 'create');
    const users = new Map(
      creates.filter((c) => c.kind === 'user').map((c) => [String(attr(c, 'userPrincipalName')).toLowerCase(), c]),
    );
    const expectedUsers = [
      'alice',
      'bob',
      'mia',
      'eve',
      'xavier',
      ...TRICKY.map((_, i) => `tricky${i}`),
      ...bulkDns.map((_, i) => `bulk${i}`),
    ].map(upn);
    assert.deepEqual([...users.keys()].sort(), expectedUsers.sort(), 'exactly the seeded users, each once');
    assert.equal(attr(users.get(upn('alice')), 'displayName'), 'Alice Anders');
    assert.equal(attr(users.get(upn('alice')), 'givenName'), 'Alice');
    assert.equal(attr(users.get(upn('alice')), 'surname'), 'Anders');
    assert.equal(attr(users.get(upn('alice')), 'accountEnabled'), true);
    assert.equal(attr(users.get(upn('bob')), 'accountEnabled'), false, 'the disabled user');
    assert.equal(attr(users.get(upn('bulk42')), 'accountEnabled'), false);
    for (const [i, name] of TRICKY.entries()) {
      const c = users.get(upn(`tricky${i}`));
      // Not trimmed: Entra Connect flows displayName as AD holds it (issue 18).
      assert.equal(attr(c, 'displayName'), name, `displayName ${JSON.stringify(name)} intact`);
      assert.ok(
        c?.sourceDn && dnEquals(c.sourceDn, dns[`tricky${i}`]!),
        `DN of ${JSON.stringify(name)} intact: ${c?.sourceDn}`,
      );
    }
    const groups = new Map(creates.filter((c) => c.kind === 'group').map((c) => [c.label, c]));
    assert.deepEqual([...groups.keys()].sort(), ['Five Thousand', 'Outer #Nested, «Ünïcode»', 'Team Security']);
    assert.equal(attr(groups.get('Team Security'), 'securityEnabled'), true);
    assert.equal(attr(groups.get('Team Security'), 'mailEnabled'), false);
    const outerDn = groups.get('Outer #Nested, «Ünïcode»')?.sourceDn;
    assert.ok(outerDn && dnEquals(outerDn, dns['outer']!), `DN intact: ${outerDn}`);
    assert.equal(creates.length, users.size + groups.size, 'no contact or distribution group is created');

    const adds = new Map(
      p.changes
        .filter((c) => c.action === 'add-members')
        .map((c) => [c.label, c.action === 'add-members' ? c.members : []]),
    );
    const labels = (g: string) => (adds.get(g) ?? []).map((m) => `${m.kind}:${m.label}`).sort();
    assert.deepEqual(
      labels('Team Security'),
      ['alice', 'bob', ...TRICKY.map((_, i) => `tricky${i}`)].map((k) => `user:${upn(k)}`).sort(),
    );
    assert.deepEqual(
      labels('Outer #Nested, «Ünïcode»'),
      ['group:Team Security', `user:${upn('mia')}`],
      'the nested group is a member',
    );
    const big = adds.get('Five Thousand') ?? [];
    assert.equal(big.length, BIG, `add-members of Five Thousand has ${BIG} members`);
    assert.deepEqual(new Set(big.map((m) => m.label)), new Set(bulkDns.map((_, i) => upn(`bulk${i}`))));
    assert.equal(p.summary.membersAdded, BIG + 2 + TRICKY.length + 2);

    const reports = p.reports.map((r) => `${r.code} ${normalizeDn(r.sourceDn ?? '')}`).sort();
    assert.deepEqual(
      reports,
      [
        `graph-readonly-contact ${normalizeDn(dns['contact']!)}`,
        `graph-readonly-distribution-list ${normalizeDn(dns['dl']!)}`,
      ].sort(),
    );
    assert.ok(
      !p.changes.some((c) => c.sourceDn && (dnEquals(c.sourceDn, dns['contact']!) || dnEquals(c.sourceDn, dns['dl']!))),
      'contact and DL are not changes',
    );
  });

  it('applies (a pilot OU, then the whole OU), and the next plan has no changes', async (t) => {
    // Against target.entra adsync paces writes to Graph's budget (3,000 per 150 s), so one initial load of
    // 5,000+ users would spend two minutes waiting. Rolled out as real deployments do — a pilot OU first, then
    // the whole scope — each stage fits one budget window (each apply process starts with a full bucket).
    let t0 = Date.now();
    const pilot = await cli(['apply', '--auto-approve'], { ADSYNC_LDAP_BASE_DN: `OU=Bulk A,${root}` });
    assert.equal(pilot.code, 0, pilot.stdout.slice(-3000) + pilot.stderr);
    assert.match(
      pilot.stdout,
      new RegExp(`^Apply complete: ${BIG / 2} change\\(s\\) applied, 0 failed`, 'm'),
      pilot.stdout
        .split('\n')
        .filter((l) => /^(Plan|Apply complete|Read)|^\s*[~+-] (update|create|delete|adopt)|group/.test(l))
        .slice(-40)
        .join('\n'),
    );
    t.diagnostic(`pilot apply: ${Date.now() - t0} ms`);
    t0 = Date.now();
    const all = await applyAndExpectClean();
    // 2,500 + 10 users, 3 groups, and add-members for each of the 3 groups.
    assert.match(all, new RegExp(`^Apply complete: ${BIG / 2 + 10 + 3 + 3} change\\(s\\) applied`));
    t.diagnostic(`${all} (with its clean plan: ${Date.now() - t0} ms)`);
    const inEntra = await graphUsers();
    assert.equal(inEntra.get(upn('tricky4'))?.displayName, TRICKY[4]);
    assert.equal(inEntra.get(upn('tricky0'))?.displayName, TRICKY[0]);
    assert.equal(inEntra.get(upn('bob'))?.accountEnabled, false);
    assert.equal(inEntra.get(upn('alice'))?.accountEnabled, true);
    assert.equal([...inEntra.keys()].filter((k) => k.endsWith(`.${sfx}@contoso.test`)).length, 10 + BIG);
  });

  const pendingChanges = () => [
    `delete user ${upn('mia')}`,
    `remove-members Team Security ${upn('tricky0')}`,
    `update ${upn('alice')} displayName="Alice Anders-Smith"`,
  ];

  it('a rename, a member removal and a move out of the scoped OU show as exactly those changes', async () => {
    await admin.modify(
      dns['alice']!,
      new LdapChange({
        operation: 'replace',
        modification: new Attribute({ type: 'displayName', values: ['Alice Anders-Smith'] }),
      }),
    );
    await admin.modify(
      dns['sec']!,
      new LdapChange({
        operation: 'delete',
        modification: new Attribute({ type: 'member', values: [dns['tricky0']!] }),
      }),
    );
    await admin.modifyDN(dns['mia']!, `CN=Mia Mover,${outside}`);
    const p = await plan();
    assert.deepEqual(p.changes.map(describeChange).sort(), pendingChanges());
    const del = p.changes.find((c) => c.action === 'delete');
    assert.match(
      del?.action === 'delete' ? del.reason : '',
      /^no longer in the source/,
      'out of the base DN: not read at all',
    );
  });

  it('connection errors: one clear line and a hint, exit 1, nothing applied', async (t) => {
    // The three changes above are pending: an apply that got through would show in the tenant.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const missingOuSpec = await derivedSpec(
      'missing-ou',
      `ous:\n  include: ["OU=Nowhere ${sfx},${root}"]\n  exclude: []`,
    );
    const cases: [string, NodeJS.ProcessEnv, RegExp, string?][] = [
      ['wrong password', { ADSYNC_LDAP_PASSWORD: 'not-the-password' }, /invalid credentials \(LDAP 49/],
      [
        'unreachable host',
        { ADSYNC_LDAP_URL: `ldaps://127.0.0.1:${closedPort}` },
        new RegExp(`cannot reach ldaps://127\\.0\\.0\\.1:${closedPort} \\(ECONNREFUSED\\)`),
      ],
      ['untrusted certificate', { ADSYNC_LDAP_CA: dc.untrustedCaPath }, /certificate is not trusted/],
      [
        'base DN that does not exist',
        { ADSYNC_LDAP_BASE_DN: `OU=Nowhere ${sfx},${dc.baseDn}` },
        /search base OU=Nowhere \w+,DC=contoso,DC=test does not exist .*\(LDAP 32 noSuchObject\)/,
      ],
      // (the DN comes back normalized, lower-cased, when it comes from scope.ous)
      [
        'scoped OU that does not exist',
        {},
        /search base OU=Nowhere \w+,OU=adsync-e2e-\w+,DC=contoso,DC=test does not exist .*\(LDAP 32 noSuchObject\)/i,
        missingOuSpec,
      ],
    ];
    for (const [what, extra, pattern, spec] of cases) {
      const t0 = Date.now();
      const r = await cli(['apply', '--auto-approve'], extra, spec);
      t.diagnostic(`${what}: ${Date.now() - t0} ms`);
      assert.equal(r.code, 1, `${what}: exit 1\n${r.stdout}${r.stderr}`);
      const lines = r.stderr
        .split('\n')
        .filter((l) => l.trim() !== '' && !/^\(node:\d+\) Warning|^\(Use `node --trace-warnings/.test(l));
      assert.equal(lines.length, 2, `${what}: one error line and a hint, got:\n${r.stderr}`);
      assert.match(lines[0]!, /^Error: /, what);
      assert.match(lines[0]!, pattern, what);
      assert.match(lines[1]!, /^Hint: \S/, what);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
      assert.ok(!(r.stdout + r.stderr).includes(dc.adminPassword), `${what}: no secret printed`);
      assert.doesNotMatch(r.stdout, /Apply complete|applied/, `${what}: nothing applied`);
    }
    const inEntra = await graphUsers();
    assert.equal(inEntra.get(upn('alice'))?.displayName, 'Alice Anders', 'the pending rename was not applied');
    assert.ok(inEntra.has(upn('mia')), 'the pending delete was not applied');
    assert.equal(
      [...inEntra.keys()].filter((k) => k.endsWith(`.${sfx}@contoso.test`)).length,
      10 + BIG,
      'no user created or deleted',
    );
    assert.deepEqual(
      (await plan()).changes.map(describeChange).sort(),
      pendingChanges(),
      'exactly the pending changes remain (memberships too)',
    );
  });

  it('the pending changes apply, and the next plan is clean', async () => {
    await applyAndExpectClean();
    const inEntra = await graphUsers();
    assert.equal(inEntra.get(upn('alice'))?.displayName, 'Alice Anders-Smith');
    assert.ok(!inEntra.has(upn('mia')), 'the moved user is gone');
  });

  it('a scope filter parameter containing *)( cannot widen the search', async () => {
    // A fresh tenant: the plan then shows exactly what the filter lets through.
    const { emu: fresh, env: freshEnv } = await startEmulatorIn(dir, 'filter-tenant');
    try {
      // Escaped as RFC 4515 says, the parameter is a literal: exactly Eve (not Xavier, whose department is x…).
      const escaped = EVIL.replace(/[\\*()\0]/g, (ch) => `\\${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
      assert.equal(escaped, 'x\\2a\\29\\28objectClass=\\2a');
      const literal = await derivedSpec('filter-literal', `filter: ${JSON.stringify(`(department=${escaped})`)}`);
      const p = await plan(freshEnv, literal);
      assert.deepEqual(p.changes.map(describeChange), [`create user ${upn('eve')}`]);
      assert.deepEqual(p.reports, []);
      // Pasted raw into the filter string it would read (department=x*) OR more; it is refused, never run.
      for (const pasted of [`(department=${EVIL})`, `(department=${EVIL}))(|(objectClass=*)`]) {
        const spec = await derivedSpec('filter-pasted', `filter: ${JSON.stringify(pasted)}`);
        const r = await runCli(['plan', '-c', spec], { env: { ...env, ...freshEnv } });
        assert.equal(r.code, 1, `${pasted}: refused\n${r.stdout}`);
        assert.match(r.stderr, /scope\.filter|not (one )?(a )?valid LDAP filter/, pasted);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
        assert.equal(r.stdout, '', 'no plan is printed');
      }
      const r = await runCli([
        'validate',
        '-c',
        await derivedSpec('filter-pasted', `filter: ${JSON.stringify(`(department=${EVIL})`)}`),
      ]);
      assert.equal(r.code, 1, 'validate refuses it too');
    } finally {
      await fresh.close();
    }
  });
});
