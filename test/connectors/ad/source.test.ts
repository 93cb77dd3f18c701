/**
 * The AD source against a real Samba AD DC: seeded over LDAP here, read back through AdSource.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from 'ldapts';
import { escapeFilter } from 'ldapts';
import { AdSource, buildSearchFilter } from '../../../src/connectors/ad/index.js';
import { dnEquals, normalizeDn } from '../../../src/model/dn.js';
import type { AdSourceOptions } from '../../../src/connectors/ad/index.js';
import { SourceError } from '../../../src/errors.js';
import type { DirectoryEntry, SourceReadRequest, SourceSnapshot } from '../../../src/model/entry.js';
import type { SourceSpec } from '../../../src/spec/types.js';
import type { SambaDc } from '../../support/samba.js';
import { adminClient, sambaEnv, sambaSkipReason, sambaSourceSpec, startSamba } from '../../support/samba.js';
import {
  GROUP_GLOBAL_SECURITY,
  GROUP_UNIVERSAL_DISTRIBUTION,
  GROUP_UNIVERSAL_SECURITY,
  addContact,
  addEntry,
  addGroup,
  addMembers,
  addOu,
  addUser,
  parallelSeed,
  uniqueSuffix,
} from '../../support/samba-seed.js';

const skip = await sambaSkipReason();
const ATTRS = [
  'cn',
  'displayname',
  'givenname',
  'sn',
  'mail',
  'member',
  'useraccountcontrol',
  'grouptype',
  'samaccountname',
  'userprincipalname',
  'objectsid',
  'mailnickname',
  'extensionattribute1',
  'proxyaddresses',
  'department',
  'msexchrecipienttypedetails',
];
const BIG = 5000;

/** Names that break naive DN and filter handling. */
const TRICKY = [
  'Smith, John',
  'O"Brien "Quote"',
  '#hash Tag',
  ' Leading Space',
  'Zoë Ærøskøbing 山田',
  'Plus+Semi;Less<More>Eq=Back\\slash',
];

describe('AD source against Samba AD DC', { skip }, () => {
  let dc: SambaDc;
  let admin: Client;
  const sfx = uniqueSuffix();
  let root: string;
  let people: string;
  let groupsOu: string;
  let bulk: string;
  const dns: Record<string, string> = {};
  const bulkDns: string[] = [];
  const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  let seedMs = 0;

  const source = (patch: Parameters<typeof sambaSourceSpec>[1] = {}, opts: AdSourceOptions = {}) =>
    new AdSource(sambaSourceSpec(dc, patch), '/', { env: sambaEnv(dc), ...opts });

  async function readWith(src: AdSource, req: Partial<SourceReadRequest> = {}): Promise<SourceSnapshot> {
    try {
      return await src.read({ attributes: ATTRS, baseDns: [root], ...req });
    } finally {
      await src.close();
    }
  }

  const byDn = (snap: SourceSnapshot) => new Map(snap.entries.map((e) => [normalizeDn(e.dn), e]));
  const str = (e: DirectoryEntry | undefined, a: string) =>
    e?.attrs[a]?.map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString('hex')));

  before(async () => {
    dc = await startSamba();
    admin = await adminClient(dc);
    const t0 = Date.now();
    root = await addOu(admin, `adsync-src-${sfx}`, dc.baseDn);
    people = await addOu(admin, 'People', root);
    groupsOu = await addOu(admin, 'Sales, EMEA', root); // an OU with a comma
    const contacts = await addOu(admin, 'Contacts', root);
    bulk = await addOu(admin, 'Bulk', root);
    dns['alice'] = await addUser(admin, people, {
      cn: 'Alice Anders',
      sam: `alice${sfx}`,
      upn: `alice.${sfx}@contoso.test`,
      attrs: {
        givenName: 'Alice',
        sn: 'Anders',
        displayName: 'Alice Anders',
        mail: 'alice@contoso.test',
        mailNickname: 'alice',
        extensionAttribute1: 'keep',
        proxyAddresses: ['SMTP:alice@contoso.test', 'smtp:a.anders@contoso.test'],
        'mS-DS-ConsistencyGuid': guid,
        msExchRecipientTypeDetails: '1',
      },
    });
    dns['bob'] = await addUser(admin, people, {
      cn: 'Bob Disabled',
      sam: `bob${sfx}`,
      upn: `bob.${sfx}@contoso.test`,
      enabled: false,
    });
    dns['evil'] = await addUser(admin, people, {
      cn: 'Eve Literal',
      sam: `eve${sfx}`,
      attrs: { department: 'x*)(objectClass=*' },
    });
    for (const [i, name] of TRICKY.entries()) {
      dns[`tricky${i}`] = await addUser(admin, people, {
        cn: name,
        sam: `t${i}${sfx}`,
        upn: `t${i}.${sfx}@contoso.test`,
        attrs: { displayName: name },
      });
    }
    dns['computer'] = await addEntry(admin, `CN=WS-${sfx},${people}`, {
      objectClass: ['top', 'person', 'organizationalPerson', 'user', 'computer'],
      cn: `WS-${sfx}`,
      sAMAccountName: `WS-${sfx}$`,
      userAccountControl: '4096',
    });
    dns['contact'] = await addContact(admin, contacts, 'Partner, External', {
      mail: 'partner@fabrikam.example',
      displayName: 'Partner, External',
    });
    dns['sec'] = await addGroup(admin, groupsOu, 'Team Security', GROUP_GLOBAL_SECURITY);
    dns['dl'] = await addGroup(admin, groupsOu, 'All Staff DL', GROUP_UNIVERSAL_DISTRIBUTION, {
      mail: `allstaff.${sfx}@contoso.test`,
      mailNickname: 'allstaff',
    });
    dns['outer'] = await addGroup(admin, groupsOu, 'Outer #Nested', GROUP_UNIVERSAL_SECURITY);
    dns['tricky-group'] = await addGroup(admin, groupsOu, 'Tricky Members', GROUP_GLOBAL_SECURITY);
    await addMembers(admin, dns['sec'], [dns['alice'], dns['bob']]);
    await addMembers(admin, dns['dl'], [dns['alice'], dns['contact'], dns['sec']]);
    await addMembers(admin, dns['outer'], [dns['sec'], dns['contact']]);
    await addMembers(
      admin,
      dns['tricky-group'],
      TRICKY.map((_, i) => dns[`tricky${i}`]!),
    );
    // 5,000 members: contacts (cheapest object AD has), added to the group in modify batches.
    await parallelSeed(
      dc,
      Array.from({ length: BIG }, (_, i) => i),
      async (c, i) => {
        bulkDns[i] = await addContact(c, bulk, `Bulk Member ${String(i).padStart(4, '0')}`);
      },
      1,
      16,
    );
    dns['big'] = await addGroup(admin, groupsOu, 'Five Thousand', GROUP_UNIVERSAL_SECURITY);
    await addMembers(admin, dns['big'], bulkDns, 1000);
    seedMs = Date.now() - t0;
  });

  after(async () => {
    await admin?.unbind();
    await dc?.stop();
  });

  it('reads users, groups, contacts with lower-cased names, exact values, binary anchors as bytes', async (t) => {
    t.diagnostic(`DC provision ${dc.provisionMs} ms (0 = reused); seeding ${seedMs} ms`);
    const snap = await readWith(source());
    assert.equal(snap.source, 'corp');
    assert.deepEqual(snap.namingContexts, [{ dn: 'DC=contoso,DC=test', dnsName: 'contoso.test' }]);
    const m = byDn(snap);
    const alice = m.get(normalizeDn(dns['alice']!));
    assert.ok(alice, 'alice is read');
    for (const k of Object.keys(alice.attrs)) assert.equal(k, k.toLowerCase());
    assert.deepEqual(str(alice, 'givenname'), ['Alice']);
    assert.deepEqual(str(alice, 'mailnickname'), ['alice']);
    assert.deepEqual(str(alice, 'extensionattribute1'), ['keep']);
    assert.deepEqual(str(alice, 'msexchrecipienttypedetails'), ['1']);
    assert.deepEqual(
      new Set(str(alice, 'proxyaddresses')),
      new Set(['SMTP:alice@contoso.test', 'smtp:a.anders@contoso.test']),
    );
    assert.deepEqual(str(alice, 'useraccountcontrol'), ['512']);
    const og = alice.attrs['objectguid']?.[0];
    assert.ok(og instanceof Uint8Array && og.length === 16, 'objectGUID is 16 bytes');
    const sid = alice.attrs['objectsid']?.[0];
    assert.ok(sid instanceof Uint8Array && sid[0] === 1, 'objectSid is bytes (revision 1)');
    const cg = alice.attrs['ms-ds-consistencyguid']?.[0];
    assert.ok(cg instanceof Uint8Array);
    assert.deepEqual(Buffer.from(cg), guid);
    assert.deepEqual(str(m.get(normalizeDn(dns['bob']!)), 'useraccountcontrol'), ['514'], 'disabled user');
    const contact = m.get(normalizeDn(dns['contact']!));
    assert.ok(contact?.attrs['objectclass']?.includes('contact'));
    assert.deepEqual(str(contact, 'mail'), ['partner@fabrikam.example']);
    assert.deepEqual(str(m.get(normalizeDn(dns['sec']!)), 'grouptype'), [String(GROUP_GLOBAL_SECURITY)]);
    assert.deepEqual(str(m.get(normalizeDn(dns['dl']!)), 'grouptype'), [String(GROUP_UNIVERSAL_DISTRIBUTION)]);
    assert.ok(!m.has(normalizeDn(dns['computer']!)), 'computers are excluded');
    assert.ok(
      !snap.entries.some((e) => e.attrs['objectclass']?.includes('organizationalUnit')),
      'only users, groups, contacts',
    );
  });

  it('keeps tricky names intact and every member DN matches its member entry', async () => {
    const snap = await readWith(source());
    const m = byDn(snap);
    for (const [i, name] of TRICKY.entries()) {
      const e = m.get(normalizeDn(dns[`tricky${i}`]!));
      assert.ok(e, `${JSON.stringify(name)} is read`);
      assert.deepEqual(str(e, 'displayname'), [name]);
      assert.ok(dnEquals(e.dn, dns[`tricky${i}`]!), `${e.dn} matches ${dns[`tricky${i}`]}`);
    }
    const tricky = m.get(normalizeDn(dns['tricky-group']!));
    assert.equal(tricky?.attrs['member']?.length, TRICKY.length);
    // Every member value of every group names an entry of the snapshot (AD spells member DNs its own way).
    let checked = 0;
    for (const g of snap.entries.filter((e) => e.attrs['member'])) {
      for (const v of g.attrs['member']!) {
        assert.equal(typeof v, 'string');
        assert.ok(m.has(normalizeDn(v as string)), `member ${String(v)} of ${g.dn} is an entry`);
        checked++;
      }
    }
    assert.ok(checked >= BIG + TRICKY.length + 7);
    // Nested: the outer group holds the security group and a contact.
    const outer = m.get(normalizeDn(dns['outer']!));
    assert.deepEqual(
      new Set(outer?.attrs['member']?.map((v) => normalizeDn(v as string))),
      new Set([normalizeDn(dns['sec']!), normalizeDn(dns['contact']!)]),
    );
  });

  it('reads a group of 5,000 members whole, in one pass and with ranged retrieval', async (t) => {
    const expected = new Set(bulkDns.map(normalizeDn));
    for (const rangeSize of [undefined, 1500]) {
      const src = source({}, rangeSize === undefined ? {} : { rangeSize });
      const t0 = Date.now();
      const snap = await readWith(src, { baseDns: [groupsOu, bulk] });
      const ms = Date.now() - t0;
      const big = byDn(snap).get(normalizeDn(dns['big']!));
      const members = big?.attrs['member'] ?? [];
      assert.equal(members.length, BIG, `all ${BIG} members (rangeSize ${rangeSize ?? 'server'})`);
      assert.deepEqual(new Set(members.map((v) => normalizeDn(v as string))), expected);
      const stats = src.lastReadStats!;
      t.diagnostic(
        `rangeSize ${rangeSize ?? 'server'}: ${snap.entries.length} entries in ${ms} ms, ${stats.pages} pages, ${stats.rangeRequests} range requests`,
      );
      if (rangeSize)
        assert.equal(stats.rangeRequests, Math.ceil(BIG / rangeSize) - 1, 'member;range=1500-2999, 3000-4499, 4500-*');
      assert.equal(snap.entries.length, BIG + 5, '5 groups + 5,000 contacts');
    }
  });

  it('pages within the page size', async () => {
    const src = source({ ldap: { pageSize: 250 } });
    const snap = await readWith(src, { baseDns: [bulk], attributes: ['cn'] });
    assert.equal(snap.entries.length, BIG);
    assert.ok(src.lastReadStats!.pages >= BIG / 250, `${src.lastReadStats!.pages} pages`);
  });

  it('reads the naming contexts the scope domains name, and refuses a domain the DC does not host', async () => {
    const src = source({ scope: { domains: ['Contoso.Test'] } });
    const snap = await readWith(src, {
      baseDns: [],
      attributes: ['cn'],
      filter: escapeFilter`(sAMAccountName=${`alice${sfx}`})`,
    });
    assert.deepEqual(src.lastReadStats!.bases, ['DC=contoso,DC=test']);
    assert.deepEqual(
      snap.entries.map((e) => e.dn),
      [dns['alice']],
    );
    await assert.rejects(
      readWith(source({ scope: { domains: ['fabrikam.example'] } }), { baseDns: [] }),
      (e: SourceError) => e.code === 'ldap_domain_not_hosted' && /fabrikam\.example/.test(e.message),
    );
  });

  it('pushes the scope filter to the server, ANDed with the object-class filter', async () => {
    const snap = await readWith(source(), { filter: '(extensionAttribute1=keep)' });
    assert.deepEqual(
      snap.entries.map((e) => e.dn),
      [dns['alice']],
    );
    assert.equal(
      buildSearchFilter('(extensionAttribute1=keep)').toString(),
      '(&(&(|(objectClass=user)(objectClass=group)(objectClass=contact))(!(objectClass=computer)))(extensionAttribute1=keep))',
    );
  });

  it('a value containing *)( cannot widen the search', async () => {
    const evil = 'x*)(objectClass=*';
    const all = await readWith(source());
    // Escaped into the filter (escapeFilter / filter objects), the value stays a literal: exactly Eve matches.
    const filter = escapeFilter`(department=${evil})`;
    assert.equal(filter, '(department=x\\2a\\29\\28objectClass=\\2a)');
    const literal = await readWith(source(), { filter });
    assert.deepEqual(
      literal.entries.map((e) => e.dn),
      [dns['evil']],
    );
    assert.ok(all.entries.length > literal.entries.length);
    // Pasted raw into a filter string, it is refused, never run as a wider search.
    for (const pasted of [`(department=${evil})`, `(department=${evil}))(|(objectClass=*)`]) {
      await assert.rejects(
        readWith(source(), { filter: pasted }),
        (e: SourceError) => e.code === 'ldap_filter_invalid' && !e.message.includes('\n'),
      );
    }
    // The same through the spec's scope filter, and in an OU scope value: no growth.
    const viaOu = await readWith(source(), {
      baseDns: [`OU=${evil.replace(/[,=+<>#;\\"]/g, (c) => `\\${c}`)},${root}`],
    }).catch((e: SourceError) => e);
    assert.ok(
      viaOu instanceof SourceError && viaOu.code === 'ldap_no_such_object',
      'an OU name with *)( is just a (missing) name',
    );
  });

  it('works over StartTLS, and logs loudly when verification is turned off', async () => {
    const snap = await readWith(source({ ldap: { url: dc.startTlsUrl, startTls: true } }), {
      filter: '(extensionAttribute1=keep)',
    });
    assert.deepEqual(
      snap.entries.map((e) => e.dn),
      [dns['alice']],
    );
    const lines: string[] = [];
    const noCa: SourceSpec = sambaSourceSpec(dc, { ldap: { tlsInsecureSkipVerify: true } });
    delete noCa.ldap!.ca;
    const insecure = await readWith(new AdSource(noCa, '/', { env: sambaEnv(dc), warn: (l) => lines.push(l) }), {
      filter: '(extensionAttribute1=keep)',
    });
    assert.equal(insecure.entries.length, 1);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^WARNING: .*tlsInsecureSkipVerify.*NOT verified/);
  });
});
