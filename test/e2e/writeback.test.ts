/**
 * Issue 7's acceptance, end to end through the real CLI: Samba AD and the Graph emulator, with
 * `examples/group-writeback/adsync.yaml` itself as the spec (connection settings from the environment).
 *
 *   - anchor writeback fills ms-DS-ConsistencyGuid where it was empty, leaves a set one alone, and the cloud
 *     users keep their ids;
 *   - a cloud security group with synced and cloud-only members is written back into the chosen OU with the
 *     synced members (cloud-only ones are report items); a member removed in the cloud is removed in AD by
 *     the next apply (of a saved plan); a second plan shows no changes;
 *   - a group that leaves the rule's scope is deleted from AD under the guard rails;
 *   - attribute writeback copies a cloud-mastered mobilePhone to mobile;
 *   - a flow loop is rejected by `adsync validate`, naming both rules' positions;
 *   - `adsync doctor` names the missing write rights with a dsacls line.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Client, Entry } from 'ldapts';
import { dnEquals, normalizeDn } from '../../src/model/dn.js';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { Change } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { runCli, type CliResult } from '../support/cli.js';
import type { SambaDc } from '../support/samba.js';
import { sambaSkipReason } from '../support/samba.js';
import { closeSambaCli, emulatorGraph, openSamba, startCliEmulator } from '../support/samba-cli.js';
import { addGroup, addOu, addUser, TEST_USER_PASSWORD, uniqueSuffix } from '../support/samba-seed.js';

const skip = await sambaSkipReason();
const EXAMPLE = fileURLToPath(new URL('../../../examples/group-writeback/adsync.yaml', import.meta.url));
const AD_TO_ENTRA = fileURLToPath(new URL('../../../examples/ad-to-entra/adsync.yaml', import.meta.url));

describe('writeback (Entra → AD): Samba AD and the Graph emulator, through the CLI', { skip }, () => {
  let dc: SambaDc;
  let admin: Client;
  let emu: RunningEmulator;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const sfx = uniqueSuffix();
  const upn = (local: string) => `${local}.${sfx}@contoso.test`;
  let root: string;
  let cloudOu: string;
  const dns: Record<string, string> = {};
  /** ms-DS-ConsistencyGuid carol already had (as after a migration from another forest). */
  const carolGuid = randomBytes(16);
  const ids: Record<string, string> = {};

  before(async () => {
    ({ dc, admin } = await openSamba());
    root = await addOu(admin, `adsync-wb-${sfx}`, dc.baseDn);
    const people = await addOu(admin, 'People', root);
    // The writeback OU lies inside the inbound scope on purpose: the Group_ marker keeps its groups out.
    cloudOu = await addOu(admin, 'Cloud Groups', root);
    for (const key of ['alice', 'bob'])
      dns[key] = await addUser(admin, people, {
        cn: `${key} ${sfx}`,
        sam: `${key}${sfx}`,
        upn: upn(key),
        enabled: false,
        attrs: { displayName: key },
      });
    dns['carol'] = await addUser(admin, people, {
      cn: `carol ${sfx}`,
      sam: `carol${sfx}`,
      upn: upn('carol'),
      enabled: false,
      attrs: { displayName: 'carol', 'mS-DS-ConsistencyGuid': carolGuid },
    });
    dns['svc'] = await addUser(admin, people, {
      cn: `svc ${sfx}`,
      sam: `svc${sfx}`,
      upn: upn('svc'),
      enabled: true,
      attrs: { displayName: 'svc' },
    });

    ({ emu, dir, env } = await startCliEmulator(dc, {
      prefix: 'adsync-wb-',
      baseDn: root,
      extra: { ADSYNC_WRITEBACK_OU: cloudOu },
    }));
  });

  after(async () => {
    await closeSambaCli({ admin, emu, dc, dir });
  });

  const cli = (args: string[], spec = EXAMPLE, extra: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
    runCli([...args, '-c', spec], { env: { ...env, ...extra } });

  async function plan(spec = EXAMPLE, extra: NodeJS.ProcessEnv = {}): Promise<Plan> {
    const r = await cli(['plan', '--format', 'json', '--detailed-exitcode'], spec, extra);
    assert.ok(r.code === 0 || r.code === 2, `plan exit ${r.code}: ${r.stderr}`);
    const p = JSON.parse(r.stdout) as Plan;
    assert.equal(r.code, p.changes.length > 0 ? 2 : 0, '--detailed-exitcode agrees with the plan');
    return p;
  }

  async function apply(spec = EXAMPLE, extra: string[] = []): Promise<string> {
    const r = await cli(['apply', '--auto-approve', ...extra], spec);
    assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
    const done = /^Apply complete: (\d+) change\(s\) applied, 0 failed/m.exec(r.stdout);
    assert.ok(done, r.stdout.slice(-3000));
    return r.stdout;
  }

  async function expectNoChanges(spec = EXAMPLE): Promise<void> {
    const r = await cli(['plan', '--detailed-exitcode'], spec);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^No changes\./m);
  }

  let emulator: ReturnType<typeof emulatorGraph> | undefined;
  async function graph(method: string, path: string, body?: unknown): Promise<any> {
    emulator ??= emulatorGraph(emu);
    const r = await emulator.call(method, path, body);
    assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  }
  async function userIds(): Promise<Map<string, string>> {
    const r = await graph('GET', '/users?$select=id,userPrincipalName&$top=999');
    return new Map(
      (r.value as { id: string; userPrincipalName: string }[]).map((u) => [u.userPrincipalName.toLowerCase(), u.id]),
    );
  }

  async function adEntry(dn: string, attributes: string[]): Promise<Entry | undefined> {
    const { searchEntries } = await admin.search(dn, {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes,
      explicitBufferAttributes: ['objectGUID', 'mS-DS-ConsistencyGuid'],
    });
    return searchEntries[0];
  }
  async function writtenBack(): Promise<Entry[]> {
    const { searchEntries } = await admin.search(cloudOu, {
      scope: 'one',
      filter: '(objectClass=group)',
      attributes: ['cn', 'sAMAccountName', 'displayName', 'description', 'groupType', 'adminDescription', 'member'],
    });
    return searchEntries;
  }
  const list = (v: Entry[string] | undefined): string[] =>
    v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String);
  const ad = (p: Plan): Change[] => p.changes.filter((c) => c.target === 'ad');

  it('validates the example spec', async () => {
    const r = await runCli(['validate', '-c', EXAMPLE]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /valid \(1 source, target entra \$AZURE_TENANT_ID\)/);
  });

  it('anchor writeback: fills ms-DS-ConsistencyGuid where empty, leaves a set one alone; the cloud users keep their ids', async () => {
    // The forest is synchronized first without writeback (examples/ad-to-entra: same source, same target).
    await apply(AD_TO_ENTRA);
    const before = await userIds();
    for (const k of ['alice', 'bob', 'carol']) ids[k] = before.get(upn(k))!;
    const p = await plan();
    assert.deepEqual(
      p.changes.filter((c) => c.target !== 'ad'),
      [],
      'nothing changes in Entra',
    );
    const byDn = new Map(ad(p).map((c) => [normalizeDn(c.sourceDn ?? ''), c]));
    assert.deepEqual(
      [...byDn.keys()].sort(),
      ['alice', 'bob', 'svc'].map((k) => normalizeDn(dns[k]!)).sort(),
      'one ad change per user without the guid, none for carol',
    );
    for (const key of ['alice', 'bob']) {
      const c = byDn.get(normalizeDn(dns[key]!))!;
      const guid = (await adEntry(dns[key]!, ['objectGUID']))!['objectGUID'] as Buffer;
      assert.ok(
        c.action === 'update' &&
          c.attributes.length === 1 &&
          c.attributes[0]!.name === 'mS-DS-ConsistencyGuid' &&
          c.attributes[0]!.after === guid.toString('base64'),
        JSON.stringify(c),
      );
      assert.equal(c.anchor, guid.toString('base64'), 'the anchor is objectGUID before and after');
    }
    await apply();
    for (const key of ['alice', 'bob']) {
      const e = (await adEntry(dns[key]!, ['objectGUID', 'mS-DS-ConsistencyGuid']))!;
      assert.deepEqual(e['mS-DS-ConsistencyGuid'], e['objectGUID'], `${key}: ms-DS-ConsistencyGuid = objectGUID`);
    }
    assert.deepEqual(
      (await adEntry(dns['carol']!, ['mS-DS-ConsistencyGuid']))!['mS-DS-ConsistencyGuid'],
      carolGuid,
      'carol untouched',
    );
    // The anchor read from ms-DS-ConsistencyGuid now is the one Entra holds: nothing re-created, no id changes.
    await expectNoChanges();
    const mine = (m: Map<string, string>) => [...m].filter(([u]) => u.endsWith(`.${sfx}@contoso.test`)).sort();
    assert.deepEqual(mine(await userIds()), mine(before), 'same users, same ids');
  });

  let groupId: string;
  it('group writeback: a cloud group with synced and cloud-only members lands in the OU with the synced members; the next plan is clean', async () => {
    emu.seed({
      users: [
        {
          userPrincipalName: `cloudonly.${sfx}@contoso.test`,
          displayName: 'Cloud Only',
          accountEnabled: true,
          mailNickname: `cloudonly${sfx}`,
        },
      ],
    });
    const cloudOnly = (await userIds()).get(`cloudonly.${sfx}@contoso.test`)!;
    emu.seed({
      groups: [
        {
          displayName: `WB-Sales ${sfx}`,
          description: 'Sales, from the cloud',
          mailEnabled: false,
          securityEnabled: true,
          mailNickname: `wbsales${sfx}`,
          members: [ids['alice']!, ids['bob']!, cloudOnly],
        },
        {
          displayName: `Other ${sfx}`,
          mailEnabled: false,
          securityEnabled: true,
          mailNickname: `other${sfx}`,
          members: [ids['alice']!],
        },
      ],
    });
    const found = await graph(
      'GET',
      `/groups?$filter=${encodeURIComponent(`displayName eq 'WB-Sales ${sfx}'`)}&$select=id`,
    );
    groupId = found.value[0].id as string;
    const p = await plan();
    const changes = ad(p).map(
      (c) =>
        `${c.action} ${c.kind} ${c.label}${
          c.action === 'add-members'
            ? ` ${c.members
                .map((m) => m.label)
                .sort()
                .join(' ')}`
            : ''
        }`,
    );
    assert.deepEqual(
      changes.sort(),
      [`add-members group WB-Sales ${sfx} ${upn('alice')} ${upn('bob')}`, `create group WB-Sales ${sfx}`].sort(),
    );
    const create = ad(p).find((c) => c.action === 'create');
    const attrs = Object.fromEntries(
      create?.action === 'create' ? create.attributes.map((a) => [a.name, a.after]) : [],
    );
    assert.ok(
      dnEquals(String(attrs['distinguishedName']), `CN=Group_${groupId},${cloudOu}`),
      String(attrs['distinguishedName']),
    );
    assert.equal(attrs['adminDescription'], `Group_${groupId}`);
    assert.equal(attrs['groupType'], '-2147483640', 'universal security');
    assert.match(String(attrs['sAMAccountName']), new RegExp(`^WB-Sales ${sfx}_[0-9a-f]{12}$`));
    const report = p.reports.find((r) => r.code === 'writeback-cloud-only-members');
    assert.ok(
      report &&
        report.target === 'ad' &&
        report.reason.includes(`cloudonly.${sfx}@contoso.test`) &&
        !report.reason.includes('alice'),
      JSON.stringify(p.reports),
    );
    await apply();
    const groups = await writtenBack();
    assert.equal(groups.length, 1, 'exactly the WB- group');
    const g = groups[0]!;
    assert.equal(list(g['adminDescription'])[0], `Group_${groupId}`);
    assert.equal(list(g['displayName'])[0], `WB-Sales ${sfx}`);
    assert.equal(list(g['description'])[0], 'Sales, from the cloud');
    assert.equal(list(g['groupType'])[0], '-2147483640');
    assert.deepEqual(list(g['member']).map(normalizeDn).sort(), [dns['alice']!, dns['bob']!].map(normalizeDn).sort());
    // The written-back group is inside the inbound scope: the Group_ marker keeps it out of Entra (no loop).
    await expectNoChanges();
  });

  it('a member removed in the cloud is removed in AD by the next apply (of a saved plan), and the plan after is clean', async () => {
    await graph('DELETE', `/groups/${groupId}/members/${ids['bob']}/$ref`);
    const saved = join(dir, 'remove.json');
    const r = await cli(['plan', '--out', saved]);
    assert.equal(r.code, 0, r.stderr);
    const p = JSON.parse(await readFile(saved, 'utf8')) as Plan;
    assert.deepEqual(
      p.changes.map(
        (c) =>
          `${c.target} ${c.action} ${c.label} ${c.action === 'remove-members' ? c.members.map((m) => m.label).join(' ') : ''}`,
      ),
      [`ad remove-members WB-Sales ${sfx} ${upn('bob')}`],
    );
    const applied = await cli(['apply', saved]);
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    assert.deepEqual(list((await writtenBack())[0]!['member']).map(normalizeDn), [normalizeDn(dns['alice']!)]);
    await expectNoChanges();
  });

  it("a group that leaves the rule's scope is deleted from AD, under the guard rails", async () => {
    const strict = join(dir, 'strict.yaml');
    await writeFile(strict, (await readFile(EXAMPLE, 'utf8')).replace('maxDeletes: 500', 'maxDeletes: 0'));
    await graph('PATCH', `/groups/${groupId}`, { displayName: `Sales ${sfx}` });
    const p = await plan(strict);
    assert.deepEqual(
      p.changes.map((c) => `${c.target} ${c.action} ${c.kind}`),
      ['ad delete group'],
    );
    const stopped = await cli(['apply', '--auto-approve'], strict);
    assert.equal(stopped.code, 1, stopped.stdout + stopped.stderr);
    assert.match(
      stopped.stderr,
      /apply stopped before any write: the plan deletes 1 objects, over safety\.maxDeletes \(0\)/,
    );
    assert.equal((await writtenBack()).length, 1, 'nothing deleted');
    await apply(strict, ['--force']);
    assert.equal((await writtenBack()).length, 0, 'the group is gone from AD');
    await expectNoChanges();
  });

  it("attribute writeback: a cloud-mastered mobilePhone is written to AD's mobile", async () => {
    const spec = join(dir, 'attributes.yaml');
    const text = (await readFile(EXAMPLE, 'utf8')).replace(
      'writeback:\n',
      'objects:\n  user:\n    flows:\n      mobilePhone: null\n\nwriteback:\n  - attributes:\n      source: corp\n      flows:\n        mobile: source.mobilePhone\n',
    );
    await writeFile(spec, text);
    await graph('PATCH', `/users/${ids['alice']}`, { mobilePhone: '+1 555 0100' });
    const p = await plan(spec);
    assert.deepEqual(
      p.changes.map(
        (c) =>
          `${c.target} ${c.action} ${c.label} ${c.action === 'update' ? c.attributes.map((a) => `${a.name}=${String(a.after)} (${a.flow})`).join(' ') : ''}`,
      ),
      [`ad update ${upn('alice')} mobile=+1 555 0100 (writeback[0].attributes.flows.mobile)`],
    );
    await apply(spec);
    assert.deepEqual(list((await adEntry(dns['alice']!, ['mobile']))!['mobile']), ['+1 555 0100']);
    await expectNoChanges(spec);
  });

  // Issue 19: a refused create is never counted as done; names collide as AD compares them; ownership is proven.
  it('sAMAccountName collisions: WB-Team and WB-TEAM plan one create and a report naming both; a name taken elsewhere in the domain fails the create, naming the holder', async () => {
    const spec = join(dir, 'names.yaml');
    await writeFile(
      spec,
      (await readFile(EXAMPLE, 'utf8')).replace(
        '      groupType: universal-security\n',
        '      groupType: universal-security\n      flows:\n        sAMAccountName: source.displayName\n',
      ),
    );
    const byHand = await addGroup(admin, root, `By hand ${sfx}`, -2147483646, { sAMAccountName: `WB-Clash ${sfx}` });
    emu.seed({
      groups: [
        {
          displayName: `WB-Team ${sfx}`,
          mailEnabled: false,
          securityEnabled: true,
          mailNickname: `wbteam${sfx}`,
          members: [],
        },
        {
          displayName: `WB-TEAM ${sfx.toUpperCase()}`,
          mailEnabled: false,
          securityEnabled: true,
          mailNickname: `wbteam2${sfx}`,
          members: [],
        },
        {
          displayName: `WB-Clash ${sfx}`,
          mailEnabled: false,
          securityEnabled: true,
          mailNickname: `wbclash${sfx}`,
          members: [],
        },
      ],
    });
    const p = await plan(spec);
    const creates = ad(p)
      .filter((c) => c.action === 'create')
      .map((c) => c.label)
      .sort();
    assert.equal(creates.length, 2, creates.join('\n'));
    assert.ok(creates.includes(`WB-Clash ${sfx}`));
    const collision = p.reports.filter((r) => r.code === 'writeback-name-collision');
    assert.equal(collision.length, 1, JSON.stringify(p.reports));
    const [a, b] = [`WB-Team ${sfx}`, `WB-TEAM ${sfx.toUpperCase()}`];
    const loser = collision[0]!;
    const winner = loser.label === a ? b : a;
    assert.ok(creates.includes(winner) && !creates.includes(loser.label));
    assert.match(
      loser.reason,
      new RegExp(
        `its sAMAccountName ${escape(loser.label)} is taken by CN=Group_[0-9a-f-]+,${escape(cloudOu)} \\(AD compares sAMAccountName case-insensitively\\)`,
      ),
    );
    // Apply: the one that is really taken (outside the OU, found only by AD) fails loudly, naming the holder.
    const r = await cli(['apply', '--auto-approve'], spec);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const out = r.stdout + r.stderr;
    assert.match(out, /1 failed/);
    assert.ok(
      out.includes(`sAMAccountName WB-Clash ${sfx} is already taken by ${byHand}`) ||
        out.includes(`sAMAccountName WB-Clash ${sfx} is already taken by ${normalizeDn(byHand)}`),
      out.slice(-3000),
    );
    assert.doesNotMatch(out, /search base/);
    const names = (await writtenBack()).map((g) => list(g['sAMAccountName'])[0]).sort();
    assert.deepEqual(names, [winner], 'one group per name; nothing taken over');
    await admin.del(byHand);
    await apply(spec);
    await expectNoChanges(spec);
  });

  it('a written-back group an admin moves out of the OU is kept there, not re-created; a Group_-marked group adsync did not write is never deleted', async () => {
    const spec = join(dir, 'names.yaml');
    const [g] = (await writtenBack()).filter((e) => list(e['displayName'])[0] === `WB-Clash ${sfx}`);
    assert.ok(g, 'written back by the previous test');
    const moved = `CN=${String(g['cn'])},${root}`;
    await admin.modifyDN(g.dn, moved);
    const stranger = await addGroup(admin, cloudOu, `Group_not-adsyncs-${sfx}`, -2147483646, {
      adminDescription: `Group_00000000-0000-0000-0000-${sfx.padStart(12, '0')}`,
    });
    const p = await plan(spec);
    assert.deepEqual(
      ad(p).map((c) => `${c.action} ${c.label}`),
      [],
      'no re-create of the moved group, no delete of the stranger',
    );
    assert.ok(
      p.reports.some(
        (r) => r.code === 'writeback-group-moved' && r.label === `WB-Clash ${sfx}` && r.reason.includes(moved),
      ),
      JSON.stringify(p.reports),
    );
    assert.ok(
      p.reports.some((r) => r.code === 'writeback-not-owned' && r.reason.startsWith(stranger)),
      JSON.stringify(p.reports),
    );
    await admin.del(stranger);
    await admin.del(moved);
  });

  it("a flow loop is rejected by validate, naming both rules' positions", async () => {
    const spec = join(dir, 'loop.yaml');
    const text = (await readFile(EXAMPLE, 'utf8')).replace(
      'writeback:\n',
      'objects:\n  user:\n    flows:\n      mobilePhone: trim(source.mobile)\n\nwriteback:\n  - attributes:\n      source: corp\n      flows:\n        mobile: source.mobilePhone\n',
    );
    await writeFile(spec, text);
    const lines = text.split('\n');
    const flowLine = lines.findIndex((l) => l === '      mobilePhone: trim(source.mobile)') + 1;
    const wbLine = lines.findIndex((l) => l === '        mobile: source.mobilePhone') + 1;
    const r = await runCli(['validate', '-c', spec]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const at = (line: number, col: number) => `${spec}:${line}:${col}`;
    assert.match(
      r.stderr,
      new RegExp(
        `^${escape(at(flowLine, 7))} flow loop: objects\\.user\\.flows\\.mobilePhone .*\\(${escape(at(wbLine, 9))}\\)`,
        'm',
      ),
    );
    assert.match(
      r.stderr,
      new RegExp(
        `^${escape(at(wbLine, 9))} flow loop: writeback\\[0\\]\\.attributes\\.flows\\.mobile .*\\(${escape(at(flowLine, 7))}\\)`,
        'm',
      ),
    );
  });

  it('doctor: the write rights each rule needs, with the missing delegation as a dsacls line', async () => {
    const ok = await cli(['doctor', '--json']);
    const okReport = JSON.parse(ok.stdout) as {
      findings: { check: string; status: string; message: string; fix?: string }[];
    };
    const wb = (r: typeof okReport) => r.findings.filter((f) => f.check.startsWith('writeback['));
    assert.ok(
      wb(okReport).some((f) => f.check === 'writeback[1].group:create-group' && f.status === 'ok'),
      JSON.stringify(wb(okReport)),
    );
    assert.ok(
      wb(okReport).some((f) => f.check.startsWith('writeback[0].anchor:write:') && f.status === 'ok'),
      JSON.stringify(wb(okReport)),
    );
    const weak = await cli(['doctor', '--json'], EXAMPLE, {
      ADSYNC_LDAP_BIND_DN: dns['svc']!,
      ADSYNC_LDAP_PASSWORD: TEST_USER_PASSWORD,
    });
    assert.equal(weak.code, 1, weak.stdout + weak.stderr);
    const report = JSON.parse(weak.stdout) as typeof okReport;
    const create = report.findings.find((f) => f.check === 'writeback[1].group:create-group');
    assert.equal(create?.status, 'error', JSON.stringify(wb(report)));
    assert.match(
      create.fix ?? '',
      new RegExp(
        `^delegate Create/Delete group objects on the OU: dsacls "${escape(cloudOu)}" /G "svc${sfx}@contoso\\.test:CCDC;group"$`,
      ),
    );
    const anchor = report.findings.find((f) => f.check.startsWith('writeback[0].anchor:write:'));
    assert.equal(anchor?.status, 'error', JSON.stringify(wb(report)));
    assert.match(anchor.fix ?? '', /dsacls ".+" \/I:S \/G "svc\w+@contoso\.test:WP;mS-DS-ConsistencyGuid;user"/);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
