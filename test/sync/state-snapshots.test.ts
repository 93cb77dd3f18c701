/**
 * The stored target snapshot keeps every field a full read sets. Regression: the fold dropped
 * `syncClientMastered` and `onPremisesSid`, so the run after a plan (read through delta) saw objects Entra Connect
 * masters as plain cloud objects and adopted them — Graph then refused every write. An AD source's state is
 * header-first: the stored plan's check reads the header without the snapshot.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  packSource,
  packTarget,
  readAdHeader,
  repackAdHeader,
  targetObjectsByAnchor,
  unpackSource,
  unpackTarget,
  type AdSourceState,
  type SourceState,
} from '../../src/sync/state-snapshots.js';
import type { TargetObject } from '../../src/model/target.js';

it('a stored target object comes back with every field (Required<TargetObject>: a new field must be listed here)', async () => {
  const everything: Required<TargetObject> = {
    id: 'u1',
    kind: 'user',
    anchor: 'AAAA',
    attrs: { userPrincipalName: 'ann@contoso.example', department: null },
    members: [],
    adminRoles: ['Global Administrator'],
    digest: 'd1',
    syncClientMastered: true,
    onPremisesSid: 'S-1-5-21-1-2-3-1105',
  };
  const group: TargetObject = {
    id: 'g1',
    kind: 'group',
    attrs: {},
    members: ['u1', 'outside'],
    onPremisesSid: 'S-1-5-21-1-2-3-2201',
  };
  const state = {
    scope: 's',
    links: { users: '/users/delta?$deltatoken=a', groups: '/groups/delta?$deltatoken=b' },
    snapshot: { system: 'entra' as const, objects: [everything, group], deleted: [{ ...everything, id: 'u2' }] },
  };
  const back = await unpackTarget(await packTarget(state));
  assert.deepEqual(back.snapshot.objects, [everything, group]);
  assert.deepEqual(back.snapshot.deleted, [{ ...everything, id: 'u2' }]);
});

it('objects picked by anchor from the stored target are the ones the whole decode gives (lines cut by inflate chunks too)', async () => {
  // Enough objects that the inflated text spans several 1 MiB chunks, so lines are cut between them.
  const users: TargetObject[] = Array.from({ length: 6000 }, (_, i) => ({
    id: `u${i}`,
    kind: 'user',
    anchor: Buffer.from(`anchor-${i}`).toString('base64'),
    attrs: { userPrincipalName: `user${i}@contoso.example`, jobTitle: 'x'.repeat(200 + (i % 97)) },
    ...(i % 5 === 0 ? { digest: `d${i}`, adminRoles: ['Helpdesk Administrator'] } : {}),
    ...(i % 7 === 0 ? { syncClientMastered: true, onPremisesSid: `S-1-5-21-1-2-3-${i}` } : {}),
  }));
  const noAnchor: TargetObject = { id: 'cloud', kind: 'user', attrs: { userPrincipalName: 'cloud@contoso.example' } };
  const state = {
    scope: 's',
    links: { users: '/users/delta?$deltatoken=a', groups: '/groups/delta?$deltatoken=b' },
    snapshot: {
      system: 'entra' as const,
      objects: [...users, noAnchor],
      // a soft-deleted user with a live user's anchor: never picked (only live objects are)
      deleted: [{ ...users[10]!, id: 'gone' }],
      adminRolesUnread: 'not read',
    },
  };
  const bytes = await packTarget(state);
  const whole = await unpackTarget(bytes);
  for (const wanted of [
    new Set([0, 10, 2999, 3000, 5999].map((i) => users[i]!.anchor!)),
    new Set(users.map((u) => u.anchor!)), // every one: some lines are cut between inflate chunks
  ]) {
    const picked = await targetObjectsByAnchor(bytes, wanted);
    assert.deepEqual(
      picked.objects,
      whole.snapshot.objects.filter((o) => o.anchor !== undefined && wanted.has(o.anchor)),
    );
    assert.equal(picked.objects.length, wanted.size);
  }
  const picked = await targetObjectsByAnchor(bytes, new Set([users[0]!.anchor!]));
  assert.equal(picked.adminRolesUnread, 'not read');
  assert.deepEqual((await targetObjectsByAnchor(bytes, new Set(['nobody']))).objects, []);
});

it("an AD source's state is header-first: the header reads alone (the snapshot stays compressed), the whole decodes as before", async () => {
  const ad: AdSourceState = {
    v: 2,
    watermark: { dc: 'CN=NTDS Settings,CN=DC1,DC=contoso,DC=example', invocationId: 'aW52', usn: '12345' },
    mode: 'dirsync',
    cookies: { 'dc=contoso,dc=example': 'Y29va2ll' },
    others: [['Z3VpZA==', 'CN=PC1,DC=contoso,DC=example', 'c']],
    at: '2026-12-02T10:00:00.000Z',
  };
  // Enough entries that the body spans many inflate chunks.
  const entries = Array.from({ length: 20_000 }, (_, i) => ({
    dn: `CN=User ${i},OU=Staff,DC=contoso,DC=example`,
    attrs: { cn: [`User ${i}`], objectguid: [new Uint8Array(16).fill(i % 251)] },
  }));
  const state: SourceState = {
    scope: 'scope-digest',
    ad,
    snapshot: {
      source: 'corp',
      namingContexts: [{ dn: 'DC=contoso,DC=example', dnsName: 'contoso.example' }],
      entries,
    },
  };
  const bytes = await packSource(state)();
  const { others: _o, ...head } = ad;
  assert.deepEqual(await readAdHeader(bytes), { scope: 'scope-digest', ad: head });
  assert.deepEqual(await unpackSource(bytes), state);
  // The header alone: a body that is not even JSON does not matter to it (it is never inflated that far).
  const header = gzipSync(`${JSON.stringify({ format: 'adsync-sync-ad/1', scope: 'scope-digest', ad: head })}\n`);
  const broken = Buffer.concat([header, gzipSync('not json')]);
  assert.deepEqual(await readAdHeader(broken), { scope: 'scope-digest', ad: head });
  await assert.rejects(unpackSource(broken));
  // A state written before the header (one JSON): decoded, marked to be rewritten; no header to read.
  const text = gunzipSync(bytes).toString('utf8');
  const old = gzipSync(text.slice(text.indexOf('\n') + 1));
  assert.deepEqual(await unpackSource(old), { ...state, headerless: true });
  await assert.rejects(readAdHeader(old), /no adsync-sync-ad\/1 header|format/);
  // Where the next read starts moved: the header alone is replaced, the rest's compressed bytes kept as they are.
  const moved = { ...head, watermark: { ...ad.watermark, usn: '12400' }, at: '2026-12-02T11:00:00.000Z' };
  const repacked = await repackAdHeader(bytes, { scope: 'scope-digest', ad: moved });
  assert.ok(repacked);
  assert.ok(repacked.subarray(repacked.length - 64).equals(bytes.subarray(bytes.length - 64)), 'the rest kept');
  assert.deepEqual(await readAdHeader(repacked), { scope: 'scope-digest', ad: moved });
  assert.deepEqual(await unpackSource(repacked), { ...state, ad: { ...moved, others: ad.others } });
  assert.equal(await repackAdHeader(old, { scope: 'scope-digest', ad: moved }), undefined, 'no header to replace');
  // An LDIF source's state has none either, and decodes as it did.
  const ldif: SourceState = { scope: 's', digest: 'd' };
  const ldifBytes = await packSource(ldif)();
  assert.deepEqual(await unpackSource(ldifBytes), ldif);
  await assert.rejects(readAdHeader(ldifBytes));
});

it("an earlier version's target state (one line of JSON, megabytes long) is refused as another format, not read through", async () => {
  const { gzipSync } = await import('node:zlib');
  const old = gzipSync(
    JSON.stringify({
      format: 'adsync-sync-state/1',
      objects: Array.from({ length: 100_000 }, (_, i) => [`u${i}`, 'user', { jobTitle: 'Engineer' }, {}]),
    }),
  );
  assert.ok(gunzipLength(old) > 1 << 20);
  await assert.rejects(unpackTarget(old), (err: Error) => err.message.includes('a first line over 1 MiB'));
  await assert.rejects(targetObjectsByAnchor(old, new Set(['x'])), (err: Error) =>
    err.message.includes('a first line over 1 MiB'),
  );
});

function gunzipLength(b: Buffer): number {
  // the gzip trailer's ISIZE: the uncompressed length mod 2^32
  return b.readUInt32LE(b.length - 4);
}
