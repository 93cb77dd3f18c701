/**
 * The stored target snapshot keeps every field a full read sets. Regression: the fold dropped
 * `syncClientMastered` and `onPremisesSid`, so the run after a plan (read through delta) saw objects Entra Connect
 * masters as plain cloud objects and adopted them — Graph then refused every write.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { packTarget, unpackTarget } from '../../src/sync/state-snapshots.js';
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
