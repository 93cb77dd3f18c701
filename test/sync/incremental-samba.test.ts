/**
 * The AD source's incremental read against Samba AD (uSNChanged polling, src/connectors/ad/usn.ts): with no
 * relevant change the stored snapshot is reused and equals a fresh full read; each kind of relevant change
 * (an edit, a member change, a parent OU's rename, a move out of scope, a delete, a rename of an object outside
 * the bases that a group refers to) reads in full and says so; a change elsewhere in the domain does not.
 * Every reuse is checked against a full read of the same moment, as data.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Attribute, Change, type Client } from 'ldapts';
import { AdSource } from '../../src/connectors/ad/index.js';
import type { SourceReadRequest, SourceSnapshot } from '../../src/model/entry.js';
import type { Spec } from '../../src/spec/types.js';
import { LocalState } from '../../src/state/local.js';
import { IncrementalReads, type PartRead } from '../../src/sync/incremental.js';
import { adminClient, sambaEnv, sambaSkipReason, sambaSourceSpec, startSamba, type SambaDc } from '../support/samba.js';
import { addGroup, addOu, addUser, deleteTree, GROUP_GLOBAL_SECURITY, uniqueSuffix } from '../support/samba-seed.js';

const skip = await sambaSkipReason();

/** A snapshot as data, order-free, bytes as base64. */
function canonical(s: SourceSnapshot): string[] {
  return s.entries
    .map((e) =>
      JSON.stringify([
        e.dn,
        Object.entries(e.attrs)
          .map(([k, vs]) => [k, vs.map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString('base64'))).sort()])
          .sort(),
      ]),
    )
    .sort();
}

describe('AD incremental read (uSNChanged) against Samba', { skip }, () => {
  let dc: SambaDc;
  let admin: Client;
  let root: string;
  let dir: string;
  const saved = process.env.ADSYNC_TEST_LDAP_PASSWORD;

  before(async () => {
    dc = await startSamba();
    admin = await adminClient(dc);
    process.env.ADSYNC_TEST_LDAP_PASSWORD = sambaEnv(dc)['ADSYNC_TEST_LDAP_PASSWORD'];
    root = await addOu(admin, `adsync-incremental-${uniqueSuffix()}`, dc.baseDn);
    dir = await mkdtemp(join(tmpdir(), 'adsync-inc-samba-'));
  });
  after(async () => {
    if (root) await deleteTree(admin, root).catch(() => undefined);
    await admin?.unbind().catch(() => undefined);
    await dc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.ADSYNC_TEST_LDAP_PASSWORD;
    else process.env.ADSYNC_TEST_LDAP_PASSWORD = saved;
  });

  it('reuses the snapshot only while nothing it depends on changed', { timeout: 10 * 60_000 }, async () => {
    const sfx = uniqueSuffix().slice(0, 5);
    const scopeOu = await addOu(admin, 'Scope', root);
    const team = await addOu(admin, 'Team', scopeOu);
    const elsewhere = await addOu(admin, 'Elsewhere', root);
    const ann = await addUser(admin, team, { cn: 'Ann', sam: `ann${sfx}`, upn: `ann${sfx}@contoso.test` });
    const bob = await addUser(admin, scopeOu, { cn: 'Bob', sam: `bob${sfx}`, upn: `bob${sfx}@contoso.test` });
    const cid = await addUser(admin, scopeOu, { cn: 'Cid', sam: `cid${sfx}`, upn: `cid${sfx}@contoso.test` });
    const out = await addUser(admin, elsewhere, { cn: 'Out', sam: `out${sfx}`, upn: `out${sfx}@contoso.test` });
    const group = await addGroup(admin, scopeOu, `Team ${sfx}`, GROUP_GLOBAL_SECURITY, { member: [ann, bob] });

    const source = sambaSourceSpec(dc, { scope: { ous: { include: [scopeOu], exclude: [] } } });
    const request: SourceReadRequest = {
      attributes: ['cn', 'member', 'title', 'userprincipalname', 'samaccountname', 'objectclass', 'objectguid'],
      baseDns: [scopeOu],
    };
    const state = new LocalState(join(dir, 'state'));
    const spec = { dir, sources: [source] } as unknown as Spec;

    /** One incremental read, checked against a full read made right after it. */
    const read = async (): Promise<PartRead> => {
      const inc = IncrementalReads.open(spec, { backend: state });
      const ad = new AdSource(source, dir);
      let snapshot: SourceSnapshot;
      try {
        snapshot = await inc.readSource(source, ad, request);
        await inc.save();
      } finally {
        await ad.close();
      }
      const full = new AdSource(source, dir);
      try {
        assert.deepEqual(canonical(snapshot), canonical(await full.read(request)), 'the read equals a full read');
      } finally {
        await full.close();
      }
      return inc.info().parts[0]!;
    };
    const modify = (dn: string, type: string, values: string[]) =>
      admin.modify(dn, [
        new Change({ operation: values.length ? 'replace' : 'delete', modification: new Attribute({ type, values }) }),
      ]);

    assert.deepEqual(await read(), { part: 'source corp', mode: 'full', reason: 'no state' });
    const again = await read();
    assert.equal(again.mode, 'incremental', JSON.stringify(again));
    assert.match(again.reason, /^no change in scope since USN \d+ \(uSNChanged\)$/);

    // A change outside the bases, to an object the snapshot does not refer to: still incremental.
    await modify(out, 'title', ['Elsewhere']);
    assert.equal((await read()).mode, 'incremental');

    const fullAfter = async (what: string, change: () => Promise<unknown>, why: RegExp) => {
      await change();
      const p = await read();
      assert.equal(p.mode, 'full', `${what}: ${JSON.stringify(p)}`);
      assert.match(p.reason, why, what);
      assert.equal((await read()).mode, 'incremental', `${what}: the next read is incremental again`);
    };
    await fullAfter('an edit', () => modify(bob, 'title', ['Lead']), /^AD changed since USN \d+: CN=Bob,/);
    await fullAfter('a member removed', () => modify(group, 'member', [ann]), /^AD changed since USN \d+: CN=Team /);
    // The parent's rename changes Ann's DN without touching Ann: the parent is what AD reports.
    await fullAfter(
      'a parent OU renamed',
      () => admin.modifyDN(team, `OU=Team2,${scopeOu}`),
      /^AD changed since USN \d+: OU=Team2,/,
    );
    await fullAfter(
      'a move out of the bases',
      () => admin.modifyDN(cid, `CN=Cid,${elsewhere}`),
      /an object read last time changed \(CN=Cid,OU=Elsewhere,/,
    );
    await fullAfter('a delete', () => admin.del(bob), /an object read last time changed/);
    // A group in scope that names a member outside the bases: renaming that member changes the group's value.
    await modify(group, 'member', [out]);
    await read();
    assert.equal((await read()).mode, 'incremental');
    await fullAfter(
      'a referred-to object outside the bases renamed',
      () => admin.modifyDN(out, `CN=Out2,${elsewhere}`),
      /changed outside the search bases, and the last read refers to objects there/,
    );
  });
});
