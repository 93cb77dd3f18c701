/**
 * Parity over time (issue 18): a tenant Entra Connect built moves to adsync with zero attribute churn.
 *
 * An independent model of Entra Connect's rules (entra-connect-model.ts, importing nothing from src/) builds the
 * tenant Entra Connect would have left from an AD — the quickstart export, and the same objects in Samba AD —
 * including users created long ago whose mail (or alias) changed since, usage locations set in the cloud, a
 * fallback `…onmicrosoft.com` UPN, and security groups that carry their AD objectSid. It is loaded into the
 * emulator as a converted tenant (Entra Connect turned off: onPremisesSyncEnabled false), adsync is pointed at the
 * same AD through the CLI, and:
 *   - the first plan only stamps adsync's anchor: every user adopted by onPremisesImmutableId and every group by
 *     onPremisesSecurityIdentifier with its object id kept, no attribute written, nothing created, no member moved;
 *   - after apply the next plan has no changes;
 *   - then, changed in AD at once: a mail (the alias stays), an alias (the fallback UPN stays), an
 *     mS-DS-ConsistencyGuid (an error for that object, no delete, no create), and a duplicate mail on a leaver
 *     who is also disabled (the mail is quarantined, the disable flows); and last the on-premises UPN moves to a
 *     verified domain (the fallback name follows it).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Attribute, Change as LdapChange, type Client } from 'ldapts';
import type { Change } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { runCli } from '../support/cli.js';
import { adminClient, sambaEnv, sambaSkipReason, startSamba, type SambaDc } from '../support/samba.js';
import {
  addOu,
  deleteTree,
  ensureSchemaAttributes,
  EXCHANGE_EXTRA_ATTRIBUTES,
  uniqueSuffix,
  unicodePwd,
} from '../support/samba-seed.js';
import {
  entraConnectTenant,
  parseLdifEntries,
  type AdEntry,
  type History,
  type ModelObject,
  type Value,
} from './entra-connect-model.js';

const QUICKSTART = fileURLToPath(new URL('../../../examples/quickstart/corp.ldif', import.meta.url));
const LDIF_BASE = 'DC=contoso,DC=example';
const INITIAL = 'contoso.onmicrosoft.com';
const VERIFIED = ['contoso.example'];

const HISTORY: History = {
  mailAtCreation: { 'Ann Lee': 'ann.old@contoso.example', 'Bob Ortiz': 'bob.old@contoso.example' },
  nicknameAtCreation: { 'Kai Moera': 'kaim' },
  cloudUsageLocation: { 'Ann Lee': 'NO', 'Chen, Wei': 'SE' },
};

/** A user whose UPN suffix is not a verified domain: Entra gave it the fallback name, from its alias then. */
function kai(base: string): AdEntry {
  const sid = Buffer.alloc(28);
  sid[0] = 1;
  sid[1] = 5;
  sid[7] = 5;
  [21, 3623811015, 3361044348, 30300820, 1150].forEach((v, i) => sid.writeUInt32LE(v, 8 + 4 * i));
  const a = new Map<string, Value[]>(
    Object.entries({
      objectclass: ['top', 'person', 'organizationalPerson', 'user'],
      cn: ['Kai Moera'],
      sn: ['Moera'],
      givenname: ['Kai'],
      displayname: ['Kai Moera'],
      samaccountname: ['kmoera'],
      userprincipalname: ['kai@legacy.example'],
      mailnickname: ['kai.m2'],
      useraccountcontrol: ['512'],
      objectguid: [createHash('md5').update('kai').digest()],
      objectsid: [sid],
    }),
  );
  return { dn: `CN=Kai Moera,OU=Staff,${base}`, attrs: a };
}

/** What a directory offers the scenario: the entries as they are now (read independently), and edits. */
interface World {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** The `sources:` block of the spec. */
  sourceYaml: string;
  include: string;
  exclude: string[];
  forestDomain: string;
  entries(): Promise<AdEntry[]>;
  modify(dn: string, changes: Record<string, Value | undefined>): Promise<void>;
}

function specYaml(w: World): string {
  return `version: 1
${w.sourceYaml}
target:
  emulator:
    state: ./.adsync/tenant.json
    tenant: ${INITIAL}
    domains: [${VERIFIED.join(', ')}]
    fixture: ./entra-connect-tenant.yaml
`;
}

function byAnchor(plan: Plan, anchor: string): Change[] {
  return plan.changes.filter((c) => c.anchor === anchor);
}

/** The scenario every world runs (one `describe` per world). */
function scenario(
  name: string,
  skip: string | false,
  setup: () => Promise<World>,
  teardown: () => Promise<void>,
): void {
  describe(name, { skip }, () => {
    let w: World;
    let users: ModelObject[];
    let groups: ModelObject[];
    const cli = (args: string[]) => runCli([...args, '-c', join(w.dir, 'adsync.yaml')], { env: w.env });
    async function plan(): Promise<Plan> {
      const r = await cli(['plan', '--format', 'json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Plan;
    }
    const user = (cn: string) => users.find((u) => u.cn === cn)!;

    before(async () => {
      w = await setup();
      const model = entraConnectTenant(await w.entries(), {
        include: w.include,
        exclude: w.exclude,
        forestDomain: w.forestDomain,
        verifiedDomains: VERIFIED,
        initialDomain: INITIAL,
        history: HISTORY,
      });
      users = model.users;
      groups = model.groups;
      // object ids Entra gave the groups, to check they are kept
      for (const g of groups) {
        const h = createHash('sha256').update(g.dn).digest('hex');
        g.fixture['id'] =
          `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
      }
      await writeFile(join(w.dir, 'entra-connect-tenant.yaml'), JSON.stringify(model.fixture, null, 2));
      await writeFile(join(w.dir, 'adsync.yaml'), specYaml(w));
      await mkdir(join(w.dir, '.adsync'), { recursive: true });
    });
    after(teardown);

    it('the model covers what the issue names: aliases from an old mail, cloud usage locations, a fallback UPN, groups with SIDs', () => {
      assert.ok(users.length >= 12 && groups.length >= 3, `${users.length} users, ${groups.length} groups`);
      assert.equal(user('Ann Lee').fixture['mailNickname'], 'ann.old');
      assert.equal(user('Ann Lee').fixture['usageLocation'], 'NO');
      assert.match(String(user('Kai Moera').fixture['userPrincipalName']), /^kaim@contoso\.onmicrosoft\.com$/);
      for (const g of groups) assert.match(String(g.fixture['onPremisesSecurityIdentifier']), /^S-1-5-21-/);
    });

    it('first plan: every user and group is adopted with its object id, no attribute written, nothing created or moved', async () => {
      const p = await plan();
      const other = p.changes.filter((c) => c.action !== 'adopt');
      assert.deepEqual(
        other.map((c) => `${c.action} ${c.label}`),
        [],
        'no create, update, delete or membership change',
      );
      for (const u of users) {
        const cs = byAnchor(p, u.anchor);
        assert.equal(cs.length, 1, `${u.cn}: ${JSON.stringify(cs)}`);
        const c = cs[0]!;
        assert.ok(c.action === 'adopt' && c.match === 'immutable-id', `${u.cn}: ${JSON.stringify(c)}`);
        assert.deepEqual(c.attributes, [], `${u.cn}: no attribute churn`);
      }
      for (const g of groups) {
        const c = byAnchor(p, g.anchor)[0];
        assert.ok(c && c.action === 'adopt' && c.match === 'sid', `${g.cn}: ${JSON.stringify(c)}`);
        assert.equal(c.id, g.fixture['id'], `${g.cn} keeps its object id`);
        assert.equal(c.matchedOn, `onPremisesSecurityIdentifier ${String(g.fixture['onPremisesSecurityIdentifier'])}`);
        assert.deepEqual(c.attributes, [], `${g.cn}: no attribute churn`);
      }
      assert.equal(p.summary.adopt, users.length + groups.length);
      assert.equal(p.summary.create + p.summary.update + p.summary.delete, 0);
      assert.equal(p.summary.membersAdded + p.summary.membersRemoved, 0);
    });

    it('after apply the next plan has no changes, and the cloud usage location is still there', async () => {
      const r = await cli(['apply', '--auto-approve']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const again = await cli(['plan', '--detailed-exitcode']);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      const state = JSON.parse(await readFile(join(w.dir, '.adsync', 'tenant.json'), 'utf8')) as {
        objects: { props: Record<string, unknown> }[];
      };
      const ann = state.objects.find((o) => o.props['onPremisesImmutableId'] === user('Ann Lee').anchor);
      assert.equal(ann?.props['usageLocation'], 'NO');
    });

    it('AD changes: a mail keeps the alias, an alias keeps the fallback UPN, a changed anchor is an error, a duplicate mail is quarantined while the disable flows', async () => {
      const bob = user('Bob Ortiz');
      const newMail = 'b.ortiz@contoso.example';
      await w.modify(bob.dn, { mail: newMail });
      const k = user('Kai Moera');
      await w.modify(k.dn, { mailNickname: 'kai.m3' });
      const ann = user('Ann Lee');
      await w.modify(ann.dn, { 'mS-DS-ConsistencyGuid': randomBytes(16) });
      const farid = user('Farid Haddad');
      const emma = user('Emma Brown');
      await w.modify(farid.dn, { mail: String(emma.fixture['mail']), userAccountControl: '514' });
      const p = await plan();

      const b = byAnchor(p, bob.anchor);
      assert.equal(b.length, 1);
      assert.ok(b[0]!.action === 'update');
      assert.deepEqual(
        b[0].attributes.map((a) => [a.name, a.after]),
        [['mail', newMail]],
        'a mail change does not change mailNickname',
      );

      assert.deepEqual(
        byAnchor(p, k.anchor),
        [],
        'a mailNickname change renames neither the alias nor the fallback UPN',
      );

      assert.ok(!p.changes.some((c) => c.action === 'delete'), JSON.stringify(p.changes));
      assert.ok(!p.changes.some((c) => c.action === 'create'), JSON.stringify(p.changes));
      assert.deepEqual(byAnchor(p, ann.anchor), [], 'the object with the old anchor is left alone');
      const err = p.reports.find((r) => r.code === 'source-anchor-changed');
      assert.ok(err, JSON.stringify(p.reports));
      assert.equal(err.sourceDn?.toLowerCase(), ann.dn.toLowerCase());
      assert.match(err.reason, new RegExp(`changed from ${ann.anchor.replace(/[+/=]/g, '\\$&')}`));
      assert.match(err.reason, /Resolve: set mS-DS-ConsistencyGuid back to/);

      const f = byAnchor(p, farid.anchor);
      assert.equal(f.length, 1);
      assert.ok(f[0]!.action === 'update');
      assert.deepEqual(
        f[0].attributes.map((a) => [a.name, a.after]),
        [['accountEnabled', false]],
        "the leaver's disable flows; the duplicate mail does not",
      );
      const q = p.reports.find((r) => r.anchor === farid.anchor);
      assert.equal(q?.code, 'duplicate-value-quarantined');
      assert.equal(q.other?.label, emma.fixture['userPrincipalName']);
      assert.match(q.reason, new RegExp(`mail ${String(emma.fixture['mail']).replace(/\./g, '\\.')}`));
    });

    it('the fallback UPN follows the on-premises UPN: moved to a verified domain, it is recalculated', async () => {
      const k = user('Kai Moera');
      const entry = (await w.entries()).find((e) => e.dn.toLowerCase() === k.dn.toLowerCase())!;
      const upn = String(entry.attrs.get('userprincipalname')![0]).replace('@legacy.example', '@contoso.example');
      await w.modify(k.dn, { userPrincipalName: upn });
      const p = await plan();
      const c = byAnchor(p, k.anchor);
      assert.ok(c.length === 1 && c[0]!.action === 'update', JSON.stringify(c));
      assert.deepEqual(
        c[0].attributes.map((a) => [a.name, a.before, a.after]),
        [['userPrincipalName', k.fixture['userPrincipalName'], upn]],
      );
    });
  });
}

// ---- LDIF: the quickstart export (plus Kai), rewritten on each edit --------------------------------------------

function ldifLine(name: string, v: Value): string {
  if (typeof v !== 'string' || !/^[\x20-\x7e]*$/.test(v) || /^[ :<]/.test(v) || / $/.test(v))
    return `${name}:: ${Buffer.from(v).toString('base64')}`;
  return `${name}: ${v}`;
}

function toLdif(entries: AdEntry[]): string {
  const blocks = entries.map((e) =>
    [ldifLine('dn', e.dn), 'changetype: add', ...[...e.attrs].flatMap(([n, vs]) => vs.map((v) => ldifLine(n, v)))].join(
      '\n',
    ),
  );
  return `version: 1\n\n${blocks.join('\n\n')}\n`;
}

let ldifDir: string | undefined;
scenario(
  'zero churn through LDIF: the quickstart export, a tenant Entra Connect built, then adsync',
  false,
  async () => {
    ldifDir = await mkdtemp(join(tmpdir(), 'adsync-zero-churn-'));
    const entries = [...parseLdifEntries(await readFile(QUICKSTART, 'utf8')), kai(LDIF_BASE)];
    const write = () => writeFile(join(ldifDir!, 'corp.ldif'), toLdif(entries));
    await write();
    return {
      dir: ldifDir,
      env: {},
      sourceYaml: `sources:
  - name: contoso
    ldif: { path: ./corp.ldif }
    scope:
      domains: [contoso.example]
      ous:
        include: ["${LDIF_BASE}"]
        exclude: ["OU=Service Accounts,${LDIF_BASE}"]`,
      include: LDIF_BASE,
      exclude: [`OU=Service Accounts,${LDIF_BASE}`],
      forestDomain: 'contoso.example',
      entries: async () => entries,
      modify: async (dn, changes) => {
        const e = entries.find((x) => x.dn.toLowerCase() === dn.toLowerCase())!;
        for (const [n, v] of Object.entries(changes)) {
          if (v === undefined) e.attrs.delete(n.toLowerCase());
          else e.attrs.set(n.toLowerCase(), [v]);
        }
        await write();
      },
    };
  },
  async () => {
    if (ldifDir) await rm(ldifDir, { recursive: true, force: true });
  },
);

// ---- Samba AD: the same objects added over LDAP under this run's own OU -----------------------------------------

const sambaSkip = await sambaSkipReason();
let dc: SambaDc | undefined;
let admin: Client | undefined;
let sambaRoot: string | undefined;
let sambaDir: string | undefined;
const SEED_SKIP = new Set(['objectguid', 'objectsid', 'distinguishedname', 'name', 'objectclass', 'cn', 'ou', 'dc']);
const PASSWORD = 'ZeroChurn-Pa55!';

scenario(
  'zero churn through Samba AD: the quickstart objects in a real DC (real objectSids), a tenant Entra Connect built, then adsync',
  sambaSkip,
  async () => {
    dc = await startSamba();
    admin = await adminClient(dc);
    await ensureSchemaAttributes(admin, dc.baseDn, EXCHANGE_EXTRA_ATTRIBUTES);
    const sfx = uniqueSuffix().slice(0, 6);
    sambaRoot = await addOu(admin, `adsync-zero-churn-${sfx}`, dc.baseDn);
    const root = sambaRoot;
    const rebase = (dn: string): string => dn.replace(/,?DC=contoso,DC=example$/i, '') + `,${root}`;
    const source = [...parseLdifEntries(await readFile(QUICKSTART, 'utf8')), kai(LDIF_BASE)].filter(
      (e) => e.dn.toLowerCase() !== LDIF_BASE.toLowerCase(),
    );
    // OUs first, then users and contacts, then groups (AD checks that members exist)
    const rank = (e: AdEntry): number => {
      const c = (e.attrs.get('objectclass') ?? []).map(String);
      return c.includes('organizationalUnit') ? 0 : c.includes('group') ? 2 : 1;
    };
    for (const e of [...source].sort((a, b) => rank(a) - rank(b))) {
      const attrs: Attribute[] = [];
      const classes = (e.attrs.get('objectclass') ?? []).map(String);
      attrs.push(new Attribute({ type: 'objectClass', values: classes }));
      if (rank(e) === 0) attrs.push(new Attribute({ type: 'ou', values: [String(e.attrs.get('ou')![0])] }));
      for (const [n, vs] of e.attrs) {
        if (SEED_SKIP.has(n)) continue;
        let values: Value[] = vs;
        // unique per domain: this run's suffix on sAMAccountName and the UPN's user part
        if (n === 'samaccountname') values = vs.map((v) => `${String(v).slice(0, 12)}${sfx}`);
        if (n === 'userprincipalname') values = vs.map((v) => String(v).replace('@', `-${sfx}@`));
        if (n === 'member') values = vs.map((v) => rebase(String(v)));
        if (n === 'useraccountcontrol' && (Number(String(vs[0])) & 2) === 0)
          attrs.push(new Attribute({ type: 'unicodePwd', values: [unicodePwd(PASSWORD)] }));
        attrs.push(
          new Attribute({
            type: n,
            values: values.every((v) => typeof v === 'string') ? values : values.map((v) => Buffer.from(v)),
          }),
        );
      }
      await admin.add(rebase(e.dn), attrs);
    }
    sambaDir = await mkdtemp(join(tmpdir(), 'adsync-zero-churn-samba-'));
    const d = dc;
    return {
      dir: sambaDir,
      env: sambaEnv(d),
      sourceYaml: `sources:
  - name: corp
    ldap:
      url: ${d.url}
      bindDn: "${d.adminDn}"
      password: { env: ADSYNC_TEST_LDAP_PASSWORD }
      ca: ${d.caPath}
      baseDn: "${root}"
    scope:
      domains: [${d.dnsDomain}]
      ous:
        include: ["${root}"]
        exclude: ["OU=Service Accounts,${root}"]`,
      include: root,
      exclude: [`OU=Service Accounts,${root}`],
      forestDomain: d.dnsDomain,
      // read independently of the connector under test
      entries: async () => {
        const { searchEntries } = await admin!.search(root, {
          scope: 'sub',
          filter: '(|(objectClass=user)(objectClass=group)(objectClass=contact))',
          attributes: ['*'],
          explicitBufferAttributes: ['objectGUID', 'objectSid', 'mS-DS-ConsistencyGuid'],
          paged: { pageSize: 500 },
        });
        return searchEntries.map((s) => {
          const attrs = new Map<string, Value[]>();
          for (const [k, v] of Object.entries(s)) {
            if (k === 'dn') continue;
            attrs.set(k.toLowerCase(), Array.isArray(v) ? v : [v]);
          }
          return { dn: s.dn, attrs };
        });
      },
      // (the model's DNs are the DC's)
      modify: async (dn, changes) => {
        for (const [n, v] of Object.entries(changes))
          await admin!.modify(
            dn,
            new LdapChange({
              operation: v === undefined ? 'delete' : 'replace',
              modification: new Attribute({
                type: n,
                values: v === undefined ? [] : typeof v === 'string' ? [v] : [Buffer.from(v)],
              }),
            }),
          );
      },
    };
  },
  async () => {
    try {
      if (admin && sambaRoot) await deleteTree(admin, sambaRoot);
    } finally {
      await admin?.unbind().catch(() => {});
      await dc?.stop();
      if (sambaDir) await rm(sambaDir, { recursive: true, force: true });
    }
  },
);
