/**
 * The stored target snapshot keeps every field a full read sets. Regression: the fold dropped
 * `syncClientMastered` and `onPremisesSid`, so the run after a plan (read through delta) saw objects Entra Connect
 * masters as plain cloud objects and adopted them — Graph then refused every write.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { packTarget, targetObjectsByAnchor, unpackTarget } from '../../src/sync/state-snapshots.js';
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
