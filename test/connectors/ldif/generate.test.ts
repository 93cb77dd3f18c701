import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateForest, writeForest } from '../../../bench/lib/forest.js';
import { parseLdif } from '../../../src/connectors/ldif/parser.js';
import { isUnderDn } from '../../../src/model/dn.js';

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
const has = (vals: unknown[] | undefined, v: string): boolean =>
  (vals ?? []).some((x) => typeof x === 'string' && x.toLowerCase() === v);

test('generator: the same seed gives the same bytes (in memory and streamed); another seed differs', async () => {
  const opts = { users: 500, groups: 40, memberships: 3000, seed: 7 };
  const a = generateForest(opts).ldif;
  const b = generateForest(opts).ldif;
  assert.equal(sha(a), sha(b));
  assert.notEqual(sha(generateForest({ ...opts, seed: 8 }).ldif), sha(a));
  const dir = await mkdtemp(join(tmpdir(), 'adsync-gen-'));
  try {
    const path = join(dir, 'f.ldif');
    await writeForest(opts, path);
    assert.equal(sha(await readFile(path)), sha(Buffer.from(a, 'utf8')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('generator: counts come out exact, members point at real in-scope objects, lines are folded at 76', () => {
  const opts = { users: 1000, groups: 60, memberships: 7777, seed: 3 };
  const { ldif, summary } = generateForest(opts);
  for (const line of ldif.split('\n')) assert.ok(line.length <= 76, `line too long: ${line}`);
  const recs = parseLdif(ldif);
  const byClass = (c: string) => recs.filter((r) => has(r.attrs['objectclass'], c));
  const users = byClass('user');
  const groups = byClass('group');
  assert.equal(users.length, 1000);
  assert.equal(groups.length, 60);
  assert.equal(byClass('contact').length, summary.contacts);
  assert.ok(summary.contacts >= 2);
  assert.equal(byClass('domaindns').length, 1);
  assert.equal(byClass('organizationalunit').length, summary.ous);
  const members = groups.flatMap((g) => (g.attrs['member'] ?? []) as string[]);
  assert.equal(members.length, 7777);
  assert.equal(summary.memberships, 7777);
  const dns = new Map(recs.map((r) => [r.dn, r]));
  let nested = 0;
  for (const m of members) {
    const target = dns.get(m);
    assert.ok(target, `member ${m} exists`);
    if (has(target.attrs['objectclass'], 'group')) nested++;
    else assert.ok(!isUnderDn(m, summary.serviceAccountsOu), 'service accounts are never members');
  }
  assert.equal(nested, summary.nestedMemberships);
  assert.ok(nested > 0, 'some groups are nested');
  for (const g of groups) {
    const vals = (g.attrs['member'] ?? []) as string[];
    assert.equal(new Set(vals).size, vals.length, 'no duplicate member values');
  }
  // The mix the engine must handle.
  assert.equal(users.filter((u) => u.attrs['useraccountcontrol']?.[0] === '514').length, summary.disabledUsers);
  assert.ok(summary.disabledUsers > 0);
  assert.ok(users.every((u) => (u.attrs['objectguid']?.[0] as Uint8Array).length === 16));
  assert.equal(users.filter((u) => u.attrs['ms-ds-consistencyguid']).length, summary.usersWithConsistencyGuid);
  assert.ok(
    users.some((u) => /[^\x00-\x7f]/.test(u.dn)),
    'non-ASCII names (dn::)',
  );
  assert.ok(
    users.some((u) => u.dn.includes('\\,')),
    'escaped commas in DNs',
  );
  assert.equal(users.filter((u) => isUnderDn(u.dn, summary.serviceAccountsOu)).length, summary.serviceAccounts);
  assert.ok(
    groups.some((g) => g.attrs['grouptype']?.[0] === '8' && g.attrs['mail']),
    'mail-enabled distribution lists',
  );
  assert.ok(users.every((u) => String(u.attrs['userprincipalname']?.[0]).endsWith('@corp.example')));
  assert.equal(new Set(users.map((u) => u.attrs['userprincipalname']?.[0])).size, 1000, 'unique UPNs');
});

test('generator: impossible membership counts are refused', () => {
  assert.throws(() => generateForest({ users: 3, groups: 2, memberships: 100 }), /cannot place 100 memberships/);
  assert.equal(generateForest({ users: 0, groups: 0, memberships: 0 }).summary.users, 0);
});
