/**
 * The Entra connector end to end against the in-process Graph emulator: the real ClientSecretCredential gets
 * its token from the emulator's token endpoint, reads go through the Graph SDK, plans are applied through
 * $batch, and every result is checked by reading the tenant back.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ClientSecretCredential } from '@azure/identity';
import { startEmulator } from '../../../src/emulator/index.js';
import type { RunningEmulator } from '../../../src/emulator/index.js';
import { connectEmulator, connectEntra } from '../../../src/connectors/entra/index.js';
import type { EntraTarget } from '../../../src/connectors/entra/index.js';
import { Graph } from '../../../src/connectors/entra/graph.js';
import { TargetError } from '../../../src/errors.js';
import type { TargetObject } from '../../../src/model/target.js';
import type {
  Change,
  DeleteChange,
  RemoveMembersChange,
  RestoreChange,
  UpdateChange,
} from '../../../src/model/change.js';
import { addMembers, anchor, createGroup, createUser, makePlan, member, memberAnchors, owned } from './support.js';
import { applyPlan } from '../../../src/apply/loop.js';

let emu: RunningEmulator;
let target: EntraTarget;
let domain: string;
const read = (t: EntraTarget = target) =>
  t.read({
    userProperties: ['jobTitle', 'department', 'accountEnabled'],
    groupProperties: ['description'],
    readMembers: true,
  });

before(async () => {
  emu = await startEmulator({});
  target = await connectEmulator(emu, { backoffBaseMs: 50 });
  domain = target.tenant.initialDomain;
});
after(async () => {
  await target?.close();
  await emu?.close();
});

/** A raw Graph client for what adsync itself never does (creating cloud-only objects). */
function rawGraph(): Graph {
  const cred = new ClientSecretCredential(emu.tenantId, emu.clientId, emu.clientSecret, {
    authorityHost: emu.authorityHost,
    disableInstanceDiscovery: true,
  });
  return new Graph(cred, emu.url);
}

test('connects with the real ClientSecretCredential and reads the tenant', () => {
  assert.equal(target.tenant.tenantId, emu.tenantId);
  assert.equal(target.tenant.initialDomain, emu.initialDomain);
  assert.ok(target.tenant.verifiedDomains.includes(emu.initialDomain));
});

test('a wrong client secret is one clear TargetError, without the secret', async () => {
  const secret = 'not-the-secret-' + anchor();
  await assert.rejects(connectEmulator({ ...emu, clientSecret: secret }), (err: unknown) => {
    assert.ok(err instanceof TargetError);
    assert.equal(err.code, 'entra_auth_failed');
    assert.ok(!err.message.includes(secret));
    assert.ok(!err.message.includes('\n'));
    assert.ok(err.hint);
    return true;
  });
});

test('connectEntra with a client-secret spec reads the secret from the environment', async () => {
  process.env['ADSYNC_TEST_SECRET'] = emu.clientSecret;
  const t = await connectEntra(
    {
      tenantId: emu.tenantId,
      endpoint: emu.url,
      authorityHost: emu.authorityHost,
      credential: { kind: 'client-secret', clientId: emu.clientId, secret: { env: 'ADSYNC_TEST_SECRET' } },
    },
    process.cwd(),
    { writeBudget: null },
  );
  assert.equal(t.tenant.tenantId, emu.tenantId);
});

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('an unreachable endpoint is one clear TargetError', async () => {
  await assert.rejects(connectEmulator({ ...emu, url: `https://127.0.0.1:${await closedPort()}` }), (err: unknown) => {
    assert.ok(err instanceof TargetError);
    assert.equal(err.code, 'entra_unreachable');
    assert.match(err.message, /ECONNREFUSED/);
    return true;
  });
});

test('apply creates, then reads back exactly the planned state; owned vs unowned by anchor', async () => {
  const raw = rawGraph();
  const cloud = await raw.post<{ id: string }>('/users', {
    accountEnabled: true,
    displayName: 'Cloud Only',
    mailNickname: 'cloudonly',
    userPrincipalName: `cloudonly@${domain}`,
    passwordProfile: { password: 'Xy7!abcdefgh12', forceChangePasswordNextSignIn: true },
  });

  const [u1, u2, u3, gA, gB] = [anchor(), anchor(), anchor(), anchor(), anchor()];
  const plan = makePlan(
    [
      createUser(u1, `alice@${domain}`, { jobTitle: 'Engineer' }),
      createUser(u2, `bob@${domain}`),
      createUser(u3, `carol@${domain}`, { department: 'Sales' }),
      createGroup(gA, 'Team A'),
      createGroup(gB, 'Team B'),
      addMembers(gA, 'Team A', [member(u1, 'user', 'alice'), member(u2, 'user', 'bob')]),
      addMembers(gB, 'Team B', [
        member(u3, 'user', 'carol'),
        member(gA, 'group', 'Team A'),
        member('cloud', 'user', 'Cloud Only', cloud.id),
      ]),
    ],
    emu.tenantId,
  );
  const result = await applyPlan({ entra: target }, plan);
  assert.deepEqual(result.failed, []);
  assert.deepEqual(result.skipped, []);
  assert.equal(result.applied, 7);
  assert.ok(
    target.anchorProperty?.startsWith(`extension_${emu.clientId.replace(/-/g, '')}_`),
    'the anchor extension was registered',
  );
  assert.ok(result.requests < 10, `batched: ${result.requests} requests`);

  const snap = await read();
  const mine = owned(snap);
  assert.equal(mine.get(u1)?.attrs['userPrincipalName'], `alice@${domain}`);
  assert.equal(mine.get(u1)?.attrs['jobTitle'], 'Engineer');
  assert.equal(mine.get(u2)?.attrs['jobTitle'], null);
  assert.equal(mine.get(u3)?.attrs['department'], 'Sales');
  assert.equal(mine.get(gA)?.attrs['securityEnabled'], true);
  assert.deepEqual(memberAnchors(snap, mine.get(gA)!), [u1, u2].sort());
  assert.deepEqual(memberAnchors(snap, mine.get(gB)!), [u3, gA, cloud.id].sort());
  const unowned = snap.objects.find((o) => o.id === cloud.id);
  assert.ok(unowned, 'unowned users are read too');
  assert.equal(unowned.anchor, undefined);
  assert.equal(result.createdIds[u1], mine.get(u1)!.id);

  // Applying the same plan again: no errors, no duplicates, same state.
  const again = await applyPlan({ entra: target }, plan);
  assert.deepEqual(again.failed, []);
  const snap2 = await read();
  assert.equal(owned(snap2).size, mine.size);
  assert.equal(snap2.objects.length, snap.objects.length);
  assert.deepEqual(memberAnchors(snap2, owned(snap2).get(gB)!), [u3, gA, cloud.id].sort());

  // Updates, membership changes, delete; then restore.
  const ids = (a: string) => mine.get(a)!.id;
  const base = { target: 'entra' as const, rule: 'test' };
  const update: UpdateChange = {
    ...base,
    action: 'update',
    kind: 'user',
    anchor: u1,
    label: 'alice',
    id: ids(u1),
    attributes: [
      { name: 'jobTitle', before: 'Engineer', after: 'Lead', flow: 't' },
      { name: 'department', after: 'R&D', flow: 't' },
    ],
  };
  const clear: UpdateChange = {
    ...base,
    action: 'update',
    kind: 'user',
    anchor: u3,
    label: 'carol',
    id: ids(u3),
    attributes: [{ name: 'department', before: 'Sales', flow: 't' }],
  };
  const remove: RemoveMembersChange = {
    ...base,
    action: 'remove-members',
    kind: 'group',
    anchor: gA,
    label: 'Team A',
    id: ids(gA),
    members: [member(u2, 'user', 'bob', ids(u2))],
  };
  const del: DeleteChange = {
    ...base,
    action: 'delete',
    kind: 'user',
    anchor: u2,
    label: 'bob',
    id: ids(u2),
    reason: 'gone from the source',
  };
  const changes: Change[] = [
    update,
    clear,
    addMembers(gA, 'Team A', [member(u3, 'user', 'carol', ids(u3))], ids(gA)),
    remove,
    del,
  ];
  const r2 = await applyPlan({ entra: target }, makePlan(changes));
  assert.deepEqual(r2.failed, []);
  assert.equal(r2.applied, changes.length);
  const snap3 = await read();
  const mine3 = owned(snap3);
  assert.equal(mine3.get(u1)?.attrs['jobTitle'], 'Lead');
  assert.equal(mine3.get(u1)?.attrs['department'], 'R&D');
  assert.equal(mine3.get(u3)?.attrs['department'], null);
  await assert.rejects(rawGraph().get(`/users/${ids(u2)}`), (e: { status?: number }) => e.status === 404);
  assert.deepEqual(memberAnchors(snap3, mine3.get(gA)!), [u1, u3].sort());
  const gone = snap3.deleted.find((o) => o.anchor === u2);
  assert.ok(gone, 'the deleted user is in deletedItems, with its anchor');

  // Same membership/delete changes again are no-ops (already removed, already deleted).
  const r3 = await applyPlan({ entra: target }, makePlan([remove, del]));
  assert.deepEqual(r3.failed, []);

  const restore: RestoreChange = {
    ...base,
    action: 'restore',
    kind: 'user',
    anchor: u2,
    label: 'bob',
    id: gone.id,
    attributes: [{ name: 'jobTitle', after: 'Returned', flow: 't' }],
  };
  const r4 = await applyPlan({ entra: target }, makePlan([restore]));
  assert.deepEqual(r4.failed, []);
  const snap4 = await read();
  assert.equal(owned(snap4).get(u2)?.attrs['jobTitle'], 'Returned');
  assert.equal(
    snap4.deleted.some((o) => o.anchor === u2),
    false,
    'a restored user is no longer in deletedItems',
  );
  await assert.rejects(
    rawGraph().get(`/directory/deletedItems/${gone.id}`),
    (e: { status?: number }) => e.status === 404,
  );
});

test('a failed group create skips its membership change; independent changes carry on', async () => {
  const [u, g, g2] = [anchor(), anchor(), anchor()];
  const bad = createGroup(g, 'Bad Group');
  bad.attributes = bad.attributes.filter((a) => a.name !== 'mailNickname'); // required: Graph refuses
  const plan = makePlan([
    createUser(u, `dave@${domain}`),
    bad,
    createGroup(g2, 'Good Group'),
    addMembers(g, 'Bad Group', [member(u, 'user', 'dave')]),
    addMembers(g2, 'Good Group', [member(u, 'user', 'dave')]),
  ]);
  const r = await applyPlan({ entra: target }, plan);
  assert.equal(r.failed.length, 1);
  assert.equal(r.failed[0]!.change.label, 'Bad Group');
  assert.equal(r.failed[0]!.operation, 'create group');
  assert.match(r.failed[0]!.message, /^400 /);
  assert.equal(r.skipped.length, 1);
  assert.equal(r.skipped[0]!.reason, 'skipped: group create failed');
  assert.equal(r.applied, 3);
  const snap = await read();
  const mine = owned(snap);
  assert.deepEqual(memberAnchors(snap, mine.get(g2)!), [u]);
  assert.equal(mine.has(g), false);
});

test('memberships read per group through $batch agree with the delta pass', async () => {
  const viaBatch = await connectEmulator(emu, { membersVia: 'batch' });
  const a = await read();
  const b = await read(viaBatch);
  const norm = (s: typeof a) =>
    s.objects
      .filter((o) => o.kind === 'group')
      .map((g) => `${g.id}:${[...(g.members ?? [])].sort().join(',')}`)
      .sort();
  assert.ok(
    norm(a).filter((g) => !g.endsWith(':')).length >= 2,
    'groups with members to compare (from the tests above)',
  );
  assert.deepEqual(norm(b), norm(a));
  assert.equal(viaBatch.lastRead?.membersVia, 'batch');
  assert.equal(target.lastRead?.groupsReadSingly, 0);
});

test('every object of a read has attrs of its own (they start from one template)', async () => {
  const users = (await read()).objects.filter((o) => o.kind === 'user');
  assert.ok(users.length >= 2, 'users from the tests above');
  const [a, b] = users as [TargetObject, TargetObject];
  const before = { ...b.attrs };
  a.attrs['jobTitle'] = 'changed by the test';
  a.attrs['added'] = true;
  assert.deepEqual(b.attrs, before);
  const again = (await read()).objects.find((o) => o.id === a.id)!;
  assert.notEqual(again.attrs['jobTitle'], 'changed by the test');
  assert.equal('added' in again.attrs, false);
});

test('a deleted user is listed only in deletedItems, and a restored one only in /users, once', async () => {
  const u = anchor();
  const r = await applyPlan({ entra: target }, makePlan([createUser(u, `erin@${domain}`)]));
  const id = r.createdIds[u]!;
  const base = { target: 'entra' as const, rule: 'test' };
  await applyPlan(
    { entra: target },
    makePlan([{ ...base, action: 'delete', kind: 'user', anchor: u, label: 'erin', id, reason: 'test' }]),
  );
  const snap = await read();
  assert.equal(owned(snap).has(u), false);
  assert.ok(snap.deleted.some((o) => o.anchor === u));
  await applyPlan(
    { entra: target },
    makePlan([{ ...base, action: 'restore', kind: 'user', anchor: u, label: 'erin', id, attributes: [] }]),
  );
  const back = await read();
  assert.equal(
    back.deleted.some((o) => o.anchor === u),
    false,
  );
  assert.equal(back.objects.filter((o) => o.id === id).length, 1);
});
