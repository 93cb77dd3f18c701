/**
 * The AD source's incremental read against Samba AD (src/sync/ad-incremental.ts, src/connectors/ad/fold.ts):
 * changes are folded into the stored snapshot, through DirSync (Administrator: Replicating Directory Changes)
 * and through uSNChanged polling (a plain account: DirSync refused with LDAP 50, no tombstones visible). After
 * every change each read is incremental and equals a full read of the same moment, as data. Then every
 * full-read trigger falls back to a full read and says why.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Attribute, Change, type Client } from 'ldapts';
import { AdSource } from '../../src/connectors/ad/index.js';
import { SourceError } from '../../src/errors.js';
import type { SourceReadRequest } from '../../src/model/entry.js';
import type { SourceSpec, Spec } from '../../src/spec/types.js';
import { LocalState } from '../../src/state/local.js';
import type { PartRead } from '../../src/sync/incremental.js';
import { packSource, sourceStateName, unpackSource, type SourceState } from '../../src/sync/state-snapshots.js';
import { canonicalSource } from '../support/source-canonical.js';
import { sambaSkipReason, sambaSourceSpec, type SambaDc } from '../support/samba.js';
import {
  openIncrementalSamba,
  readThroughState,
  restoreTombstone,
  type IncrementalSamba,
} from '../support/samba-incremental.js';
import {
  addEntry,
  addGroup,
  addOu,
  addUser,
  deleteTree,
  GROUP_GLOBAL_SECURITY,
  uniqueSuffix,
} from '../support/samba-seed.js';

const skip = await sambaSkipReason();

const REQUEST = (base: string): SourceReadRequest => ({
  attributes: ['cn', 'member', 'manager', 'title', 'userprincipalname', 'samaccountname', 'objectclass', 'objectguid'],
  baseDns: [base],
});

describe('AD incremental read against Samba: changes folded by objectGUID', { skip }, () => {
  let rig: IncrementalSamba | undefined;
  let dc: SambaDc;
  let admin: Client;
  let root: string;
  let dir: string;
  let readerDn: string;

  before(async () => {
    rig = await openIncrementalSamba({ ou: 'adsync-incremental', readerSam: 'rd', tmp: 'dirsync-inc-samba-' });
    ({ dc, admin, root, dir, readerDn } = rig);
  });
  after(async () => {
    await rig?.close();
  });

  interface Reader {
    source: SourceSpec;
    state: LocalState;
    read(
      request: SourceReadRequest,
      opts?: { full?: boolean; now?: Date; compare?: boolean; label?: string },
    ): Promise<PartRead>;
    tamper(fn: (s: SourceState) => void): Promise<void>;
  }

  /** One state, read through `source`: each read is checked against a full read made right after it. */
  function reader(name: string, source: SourceSpec): Reader {
    const state = new LocalState(join(dir, `state-${name}`));
    const spec = { dir, sources: [source] } as unknown as Spec;
    return {
      source,
      state,
      async read(request, opts = {}) {
        const { snapshot, part } = await readThroughState(spec, source, request, {
          backend: state,
          ...(opts.full ? { full: true } : {}),
          ...(opts.now ? { now: () => opts.now! } : {}),
          rangeSize: 7,
        });
        if (opts.compare !== false) {
          const full = new AdSource(source, dir, { rangeSize: 7 });
          try {
            assert.deepEqual(
              canonicalSource(snapshot),
              canonicalSource(await full.read(request)),
              `${name}${opts.label ? ` after ${opts.label}` : ''}: the read (${JSON.stringify(part)}) equals a full read`,
            );
          } finally {
            await full.close();
          }
        }
        return part;
      },
      async tamper(fn) {
        const n = sourceStateName(source.name);
        const obj = await state.read(n);
        assert.ok(obj, 'a stored state');
        const s = await unpackSource(obj.bytes);
        fn(s);
        await state.write(n, await packSource(s)(), { ifMatch: obj.etag });
      },
    };
  }

  const modify = (dn: string, type: string, values: string[], operation?: 'add' | 'delete' | 'replace') =>
    admin.modify(
      dn,
      new Change({
        operation: operation ?? (values.length ? 'replace' : 'delete'),
        modification: new Attribute({ type, values }),
      }),
    );

  /** Reanimates a tombstone under `dn`, keeping its objectGUID. */
  const restore = (guid: Buffer, dn: string): Promise<void> => restoreTombstone(admin, guid, dn);
  const guidOf = async (dn: string): Promise<Buffer> =>
    (await admin.search(dn, { scope: 'base', attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] }))
      .searchEntries[0]!['objectGUID'] as Buffer;

  it(
    'folds edits, renames and moves (also of parents), deletes, restores and member changes',
    { timeout: 10 * 60_000 },
    async () => {
      const sfx = uniqueSuffix().slice(0, 5);
      const scopeOu = await addOu(admin, 'Scope', root);
      const team = await addOu(admin, 'Team', scopeOu);
      const elsewhere = await addOu(admin, 'Elsewhere', root);
      const user = (parent: string, cn: string) =>
        addUser(admin, parent, { cn, sam: `${cn.toLowerCase()}${sfx}`, upn: `${cn.toLowerCase()}${sfx}@contoso.test` });
      const ann = await user(team, 'Ann');
      const bob = await user(scopeOu, 'Bob');
      const cid = await user(scopeOu, 'Cid');
      const out = await user(elsewhere, 'Out');
      const group = await addGroup(admin, scopeOu, `Team ${sfx}`, GROUP_GLOBAL_SECURITY, { member: [ann, bob, out] });
      await modify(cid, 'manager', [bob]);
      const request = REQUEST(scopeOu);
      const dirsync = reader('dirsync', sambaSourceSpec(dc, { scope: { ous: { include: [scopeOu], exclude: [] } } }));
      const usn = reader(
        'usn',
        sambaSourceSpec(dc, {
          name: 'corp',
          ldap: { bindDn: readerDn, password: { env: 'ADSYNC_TEST_LDAP_READER_PASSWORD' } },
          scope: { ous: { include: [scopeOu], exclude: [] } },
        }),
      );
      const both = async (what: string): Promise<void> => {
        for (const [r, how] of [
          [dirsync, /^DirSync$/],
          [usn, /^uSNChanged since USN \d+, deletions by listing the bases \(no tombstones visible\)$/],
        ] as const) {
          const p = await r.read(request, { label: what });
          assert.equal(p.mode, 'incremental', `${what}: ${JSON.stringify(p)}`);
          assert.match(p.reason, how, what);
        }
      };

      for (const r of [dirsync, usn])
        assert.deepEqual(await r.read(request), { part: 'source corp', mode: 'full', reason: 'no state' });
      await both('no change');
      assert.equal((await dirsync.read(request)).changes, 0);

      await modify(bob, 'title', ['Lead']);
      await both('an edit');
      await modify(bob, 'title', []);
      await both('an attribute cleared');
      await modify(group, 'member', [cid], 'add');
      await modify(group, 'member', [ann], 'delete');
      await both('members added and removed');
      await modify(group, 'member', [ann], 'add');
      // A parent's rename: AD reports the OU, not Ann, whose DN (and the group's value naming her) changed.
      await admin.modifyDN(team, `OU=Team2,${scopeOu}`);
      await both('a parent OU renamed');
      // The parent moved out of the bases: Ann leaves, the group still names her (outside now).
      await admin.modifyDN(`OU=Team2,${scopeOu}`, `OU=Team2,${elsewhere}`);
      await both('a parent OU moved out of the bases');
      await admin.modifyDN(`CN=Ann,OU=Team2,${elsewhere}`, `CN=Ann2,OU=Team2,${elsewhere}`);
      await both('a named object outside the bases renamed');
      // An ancestor of named objects outside the bases renamed (neither it nor they are tracked as entries).
      await admin.modifyDN(elsewhere, `OU=Elsewhere2,${root}`);
      const elsewhere2 = `OU=Elsewhere2,${root}`;
      await both('an ancestor of named objects outside the bases renamed');
      // The parent moved back in: its subtree is read.
      await admin.modifyDN(`OU=Team2,${elsewhere2}`, `OU=Team3,${scopeOu}`);
      await both('a parent OU moved into the bases');
      await admin.modifyDN(cid, `CN=Cid,${elsewhere2}`);
      await both('a user moved out');
      await admin.modifyDN(`CN=Cid,${elsewhere2}`, `CN=Cid,OU=Team3,${scopeOu}`);
      await both('a user moved in');
      // A delete: AD drops the links to Bob (the group's member, Cid's manager) without changing the group or Cid.
      const bobGuid = await guidOf(bob);
      await admin.del(bob);
      await both('a delete');
      await restore(bobGuid, `CN=Bob,OU=Team3,${scopeOu}`);
      await both('a restore (reanimated tombstone)');
      // A large group (ranges of 7 values): member changes fold as DirSync's incremental values.
      const many = [];
      for (let i = 0; i < 24; i++) many.push(await user(scopeOu, `M${i}`));
      const big = await addGroup(admin, scopeOu, `Big ${sfx}`, GROUP_GLOBAL_SECURITY, { member: many.slice(0, 20) });
      await both('a large group created');
      await modify(big, 'member', many.slice(20), 'add');
      await modify(big, 'member', many.slice(0, 5), 'delete');
      await both('members of a large group changed');
      // A computer (listed for member reports), a new OU with objects, an object whose class the read leaves out.
      await addEntry(admin, `CN=PC${sfx},${scopeOu}`, {
        objectClass: ['top', 'person', 'organizationalPerson', 'user', 'computer'],
        cn: `PC${sfx}`,
        sAMAccountName: `PC${sfx}$`,
        userAccountControl: '4096',
      });
      await modify(big, 'member', [`CN=PC${sfx},${scopeOu}`], 'add');
      const fresh = await addOu(admin, 'Fresh', scopeOu);
      await user(fresh, 'Dee');
      await both('a computer, a new OU and a user in it');
      await admin.del(`CN=PC${sfx},${scopeOu}`);
      await deleteTree(admin, fresh);
      await both('a computer and an OU subtree deleted');
    },
  );

  it('each full-read trigger falls back to a full read and says why', { timeout: 10 * 60_000 }, async () => {
    const sfx = uniqueSuffix().slice(0, 5);
    const scopeOu = await addOu(admin, 'Triggers', root);
    const bob = await addUser(admin, scopeOu, { cn: 'Bob', sam: `tb${sfx}`, upn: `tb${sfx}@contoso.test` });
    const request = REQUEST(scopeOu);
    const source = sambaSourceSpec(dc, { scope: { ous: { include: [scopeOu], exclude: [] } } });
    const r = reader('triggers', source);
    const fullBecause = async (what: string, why: RegExp, opts: Parameters<Reader['read']>[1] = {}, req = request) => {
      const p = await r.read(req, opts);
      assert.equal(p.mode, 'full', `${what}: ${JSON.stringify(p)}`);
      assert.match(p.reason, why, what);
      // …and the read after it is incremental again (from the state that full read stored).
      const next = await r.read(req, opts.now ? { now: opts.now } : {});
      assert.equal(next.mode, 'incremental', `${what}: the next read: ${JSON.stringify(next)}`);
    };

    assert.deepEqual(await r.read(request), { part: 'source corp', mode: 'full', reason: 'no state' });
    assert.equal((await r.read(request)).mode, 'incremental');
    await fullBecause('--full', /^--full$/, { full: true });
    await fullBecause('another search base', /^the read scope changed/, {}, { ...request, baseDns: [root] });
    await r.read(request);
    await r.tamper((s) => (s.ad!.watermark.invocationId = Buffer.alloc(16, 7).toString('base64')));
    await fullBecause('the DC restored', /^the domain controller's invocationId changed \(restored from a backup\)$/);
    await r.tamper((s) => (s.ad!.watermark.dc = `CN=NTDS Settings,CN=DC9,${dc.baseDn}`));
    await fullBecause('another DC', /^another domain controller \(CN=NTDS Settings,/);
    await r.tamper((s) => {
      for (const k of Object.keys(s.ad!.cookies!)) s.ad!.cookies![k] = Buffer.from('not a cookie').toString('base64');
    });
    await fullBecause(
      'a refused cookie',
      /^the domain controller refused the DirSync cookie \(LDAP 12 UnavailableCriticalExtension: .*ldapControlDirSyncCookie/,
    );
    // Samba's tombstone lifetime is 180 days: a state 180 days old may have missed deletions.
    await fullBecause(
      'the tombstone lifetime',
      /^the last read is 180 days old: deletions older than the tombstone lifetime \(180 days, less a day\) may be gone$/,
      { now: new Date(Date.now() + 180 * 24 * 3600 * 1000) },
    );
    await r.tamper((s) => {
      const { v: _v, ...rest } = s.ad!;
      s.ad = rest as NonNullable<typeof s.ad>;
    });
    await fullBecause('an older state', /^the stored AD state predates change tracking/);

    // DirSync withdrawn: the same state read by an account without the right.
    const plain = reader('triggers', {
      ...source,
      ldap: { ...source.ldap!, bindDn: readerDn, password: { env: 'ADSYNC_TEST_LDAP_READER_PASSWORD' } },
    });
    const p = await plain.read(request);
    assert.equal(p.mode, 'full');
    assert.match(p.reason, /^DirSync is no longer granted to CN=Reader,.* \(LDAP 50 insufficientAccessRights/);
    assert.match((await plain.read(request)).reason, /^uSNChanged since USN \d+/, 'then uSNChanged polling');
    await r.read(request, { full: true });

    // A back link in the read: memberOf changes without its object changing.
    const withBackLink = { ...request, attributes: [...request.attributes, 'memberof'] };
    await r.read(withBackLink);
    const b = await r.read(withBackLink);
    assert.equal(b.mode, 'full');
    assert.match(b.reason, /^the read asks for memberof, a back link/);

    // A value naming an object the read can't follow (in another naming context).
    const withSeeAlso = { ...request, attributes: [...request.attributes, 'seealso'] };
    await r.read(withSeeAlso);
    await modify(bob, 'seeAlso', [`CN=Partitions,CN=Configuration,${dc.baseDn}`]);
    assert.equal((await r.read(withSeeAlso)).mode, 'incremental', 'the change itself is folded');
    const s = await r.read(withSeeAlso);
    assert.equal(s.mode, 'full');
    assert.match(
      s.reason,
      /^an entry names CN=Partitions,CN=Configuration,.*, which the incremental read can't follow$/,
    );

    // The search base itself renamed: not folded; the read is a full one, which fails as a full read does.
    await r.read(request);
    await admin.modifyDN(scopeOu, `OU=Triggers2,${root}`);
    await assert.rejects(r.read(request, { compare: false }), (err: unknown) => {
      assert.ok(err instanceof SourceError && err.code === 'ldap_no_such_object', String(err));
      return true;
    });
  });
});
