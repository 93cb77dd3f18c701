/**
 * Read and apply throughput of the Entra connector against the in-process emulator (not a test: no timing
 * assertions). Run after `npm run build`:
 *   node dist/test/connectors/entra/bench.js [users=100000] [groups=10000] [membersPerGroup=100] [applyUsers=10000]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ClientSecretCredential } from '@azure/identity';
import { startEmulator } from '../../../src/emulator/index.js';
import { connectEmulator } from '../../../src/connectors/entra/index.js';
import { Graph } from '../../../src/connectors/entra/graph.js';
import type { Change } from '../../../src/model/change.js';
import { addMembers, anchor, createGroup, createUser, makePlan, member } from './support.js';
import { applyPlan } from '../../../src/apply/loop.js';

const [users = 100_000, groups = 10_000, perGroup = 100, applyUsers = 10_000] = process.argv.slice(2).map(Number);
const mb = (): number => Math.round(process.memoryUsage().rss / 2 ** 20);

const emu = await startEmulator({});
const cred = new ClientSecretCredential(emu.tenantId, emu.clientId, emu.clientSecret, {
  authorityHost: emu.authorityHost,
  disableInstanceDiscovery: true,
});
const setup = await connectEmulator(emu);
const raw = new Graph(cred, emu.url);
const ext = await raw.post<{ name: string }>(`/applications/${emu.applicationObjectId}/extensionProperties`, {
  name: 'adsyncAnchor',
  dataType: 'String',
  targetObjects: ['User', 'Group'],
});
const domain = setup.tenant.initialDomain;

let t0 = Date.now();
const userIds: string[] = [];
const seedUsers: object[] = [];
for (let i = 0; i < users; i++) {
  const id = randomUUID();
  userIds.push(id);
  seedUsers.push({
    id,
    userPrincipalName: `user${i}@${domain}`,
    displayName: `User ${i}`,
    mailNickname: `user${i}`,
    accountEnabled: true,
    jobTitle: 'Engineer',
    [ext.name]: randomBytes(16).toString('base64'),
  });
}
const seedGroups: object[] = [];
for (let g = 0; g < groups; g++) {
  const members: string[] = [];
  for (let k = 0; k < perGroup; k++) members.push(userIds[(g * 7919 + k * 104_729) % users]!);
  seedGroups.push({
    displayName: `Group ${g}`,
    mailNickname: `group${g}`,
    mailEnabled: false,
    securityEnabled: true,
    [ext.name]: randomBytes(16).toString('base64'),
    members: [...new Set(members)],
  });
}
emu.seed({ users: seedUsers, groups: seedGroups });
console.log(
  `seeded ${users} users, ${groups} groups, ~${groups * perGroup} memberships in ${Date.now() - t0} ms (rss ${mb()} MiB)`,
);

for (const via of ['delta', 'batch'] as const) {
  const target = await connectEmulator(emu, { membersVia: via });
  const before = target.stats.requests;
  t0 = Date.now();
  const snap = await target.read({
    userProperties: ['jobTitle', 'department', 'accountEnabled', 'givenName', 'surname'],
    groupProperties: ['description'],
    readMembers: true,
  });
  const ms = Date.now() - t0;
  const s = target.lastRead!;
  console.log(
    `read (members via ${via}): ${s.users} users, ${s.groups} groups, ${s.memberships} memberships, ${snap.deleted.length} deleted in ${(ms / 1000).toFixed(1)} s, ${target.stats.requests - before} HTTP requests (rss ${mb()} MiB)`,
  );
}

// Apply: creates + memberships on an unpaced emulator (the real service is bounded by its write budget).
const target = await connectEmulator(emu);
const uA = Array.from({ length: applyUsers }, () => anchor());
const gA = Array.from({ length: Math.max(1, Math.floor(applyUsers / 10)) }, () => anchor());
const changes: Change[] = [];
uA.forEach((a, i) => changes.push(createUser(a, `new${i}@${domain}`, { jobTitle: 'New' })));
gA.forEach((a, i) => changes.push(createGroup(a, `New Group ${i}`)));
gA.forEach((a, gi) =>
  changes.push(
    addMembers(
      a,
      `New Group ${gi}`,
      Array.from({ length: 100 }, (_, k) => member(uA[(gi * 31 + k * 97) % applyUsers]!, 'user', `u${k}`)).filter(
        (m, i, arr) => arr.findIndex((x) => x.anchor === m.anchor) === i,
      ),
    ),
  ),
);
let last = 0;
const r = await applyPlan({ entra: target }, makePlan(changes), {
  onProgress: (d, tot) => {
    if (Date.now() - last > 5000) {
      last = Date.now();
      console.log(`  ${d}/${tot}`);
    }
  },
});
const edges = changes.reduce((n, c) => n + (c.action === 'add-members' ? c.members.length : 0), 0);
console.log(
  `apply: ${uA.length} user creates, ${gA.length} group creates, ${edges} memberships: ${r.applied} applied, ${r.failed.length} failed, ${r.writes} writes in ${r.requests} HTTP requests, ${r.retries} retries, ${(r.durationMs / 1000).toFixed(1)} s (rss ${mb()} MiB)`,
);
if (r.failed.length > 0) console.log(r.failed.slice(0, 3));
await emu.close();
