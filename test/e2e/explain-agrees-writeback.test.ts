/**
 * Issue 11's acceptance, the writeback half (the quickstart's is test/e2e/explain-agrees.test.ts): through the
 * CLI, on Samba AD and the Graph emulator, with examples/group-writeback/adsync.yaml plus soft match (upn),
 * `deleteMode: disable-first` and an excluded OU, `adsync explain <object> -f json` lists exactly the changes
 * and report items `adsync plan -f json` has for that object — for every object of a plan that holds, at
 * once: an Entra create, update, disable (disable-first) and soft-match adoption; anchor writeback updates in
 * AD; a written-back group created with its members, one losing a member, one deleted from AD; and a
 * cloud-only member's report item. Each member those membership changes name is explained too, and a
 * written-back group is explained by its cloud id and by its AD DN alike.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Attribute, Change as LdapChange, type Client } from 'ldapts';
import type { RunningEmulator } from '../../src/emulator/index.js';
import { runCli, type CliResult } from '../support/cli.js';
import { assertExplainAgrees, type ExplainJson } from '../support/explain-agrees.js';
import { sambaSkipReason, type SambaDc } from '../support/samba.js';
import { closeSambaCli, emulatorGraph, openSamba, startCliEmulator } from '../support/samba-cli.js';
import { addOu, addUser, uniqueSuffix } from '../support/samba-seed.js';

const skip = await sambaSkipReason();
const EXAMPLE = fileURLToPath(new URL('../../../examples/group-writeback/adsync.yaml', import.meta.url));

describe('explain agrees with plan (group-writeback example, disable-first, soft match; Samba, CLI)', { skip }, () => {
  let dc: SambaDc;
  let admin: Client;
  let emu: RunningEmulator;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let spec: string;
  let people: string;
  let leavers: string;
  let cloudOu: string;
  const sfx = uniqueSuffix();
  const upn = (local: string): string => `${local}.${sfx}@contoso.test`;
  const dns: Record<string, string> = {};

  before(async () => {
    ({ dc, admin } = await openSamba());
    const root = await addOu(admin, `adsync-xwb-${sfx}`, dc.baseDn);
    people = await addOu(admin, 'People', root);
    leavers = await addOu(admin, 'Leavers', root);
    // Inside the inbound scope, as in writeback.test.ts: the Group_ marker keeps written-back groups out.
    cloudOu = await addOu(admin, 'Cloud Groups', root);
    for (const key of ['alice', 'bob', 'dan', 'frank'])
      dns[key] = await addUser(admin, people, {
        cn: `${key} ${sfx}`,
        sam: `${key}${sfx}`,
        upn: upn(key),
        enabled: false,
        attrs: { displayName: key, title: 'Engineer' },
      });
    dns['carol'] = await addUser(admin, people, {
      cn: `carol ${sfx}`,
      sam: `carol${sfx}`,
      upn: upn('carol'),
      enabled: false,
      attrs: { displayName: 'carol', 'mS-DS-ConsistencyGuid': randomBytes(16) },
    });
    ({ emu, dir, env } = await startCliEmulator(dc, {
      prefix: 'adsync-xwb-',
      baseDn: root,
      extra: { ADSYNC_WRITEBACK_OU: cloudOu },
    }));
    spec = join(dir, 'adsync.yaml');
    const text = (await readFile(EXAMPLE, 'utf8'))
      .replace('        include: []\n        exclude: []', `        include: []\n        exclude: ["${leavers}"]`)
      .replace(
        'safety:\n  # Stop apply',
        'matching:\n  softMatch: upn\n\nsafety:\n  deleteMode: disable-first\n  # Stop apply',
      );
    assert.match(text, /exclude: \["OU=Leavers/);
    assert.match(text, /softMatch: upn/);
    assert.match(text, /deleteMode: disable-first/);
    await writeFile(spec, text);
  });

  after(async () => closeSambaCli({ admin, emu, dc, dir }));

  const cli = (args: string[]): Promise<CliResult> => runCli([...args, '-c', spec], { env });
  async function apply(): Promise<void> {
    const r = await cli(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
    assert.match(r.stdout, /^Apply complete: \d+ change\(s\) applied, 0 failed/m);
  }
  let graphClient: ReturnType<typeof emulatorGraph> | undefined;
  async function graph(method: string, path: string, body?: unknown): Promise<any> {
    graphClient ??= emulatorGraph(emu);
    const r = await graphClient.call(method, path, body);
    assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  }
  async function idOf(collection: 'users' | 'groups', filter: string): Promise<string> {
    const r = await graph('GET', `/${collection}?$filter=${encodeURIComponent(filter)}&$select=id`);
    assert.equal(r.value.length, 1, `${collection} ${filter}`);
    return r.value[0].id as string;
  }

  it('for every object of the plan and every member it names, Entra side and AD side', async () => {
    // Round 1: the forest into Entra, with anchor writeback; two cloud groups written back.
    await apply();
    const id = async (k: string) => idOf('users', `userPrincipalName eq '${upn(k)}'`);
    emu.seed({
      users: [
        {
          userPrincipalName: upn('cloudonly'),
          displayName: 'Cloud Only',
          accountEnabled: true,
          mailNickname: `co${sfx}`,
        },
        // Erin is new in AD below; this cloud-only user already has her UPN: soft match (upn) adopts it.
        { userPrincipalName: upn('erin'), displayName: 'Erin (cloud)', accountEnabled: true, mailNickname: `er${sfx}` },
      ],
    });
    const group = (name: string, members: string[]) => ({
      displayName: `${name} ${sfx}`,
      mailEnabled: false,
      securityEnabled: true,
      mailNickname: `${name.toLowerCase().replace(/\W/g, '')}${sfx}`,
      members,
    });
    emu.seed({
      groups: [
        group('WB-Sales', [await id('alice'), await id('bob'), await id('cloudonly')]),
        group('WB-Old', [await id('alice')]),
      ],
    });
    await apply();

    // Round 2: changes on both sides.
    const sales = await idOf('groups', `displayName eq 'WB-Sales ${sfx}'`);
    const old = await idOf('groups', `displayName eq 'WB-Old ${sfx}'`);
    await graph('DELETE', `/groups/${sales}/members/${await id('bob')}/$ref`); // AD: remove-members
    await graph('PATCH', `/groups/${old}`, { displayName: `Old ${sfx}` }); // leaves the filter: AD delete
    emu.seed({ groups: [group('WB-New', [await id('frank'), await id('carol')])] }); // AD: create, add-members
    await admin.modifyDN(dns['dan']!, `CN=dan ${sfx},${leavers}`); // out of scope: disabled, not deleted
    await admin.modify(
      dns['frank']!,
      new LdapChange({ operation: 'replace', modification: new Attribute({ type: 'title', values: ['Lead'] }) }),
    );
    dns['erin'] = await addUser(admin, people, {
      cn: `erin ${sfx}`,
      sam: `erin${sfx}`,
      upn: upn('erin'),
      enabled: false,
      attrs: { displayName: 'erin' },
    });
    dns['gina'] = await addUser(admin, people, {
      cn: `gina ${sfx}`,
      sam: `gina${sfx}`,
      upn: upn('gina'),
      enabled: false,
      attrs: { displayName: 'gina' },
    });

    const { plan, explained } = await assertExplainAgrees(spec, { env, requireFound: true, members: true });
    const shown = plan.changes.map((c) => `${c.target} ${c.action} ${c.kind} ${c.label}`).sort();
    for (const expected of [
      `entra adopt user ${upn('erin')}`,
      `entra create user ${upn('gina')}`,
      `entra update user ${upn('dan')}`,
      `entra update user ${upn('frank')}`,
      `ad update user ${upn('erin')}`,
      `ad update user ${upn('gina')}`,
      `ad create group WB-New ${sfx}`,
      `ad add-members group WB-New ${sfx}`,
      `ad remove-members group WB-Sales ${sfx}`,
      `ad delete group WB-Old ${sfx}`, // labelled as in AD
    ])
      assert.ok(shown.includes(expected), `the plan has ${expected}:\n${shown.join('\n')}`);
    assert.ok(
      plan.reports.some((r) => r.code === 'writeback-cloud-only-members' && r.anchor === sales),
      JSON.stringify(plan.reports),
    );

    // Dan is disabled (disable-first), in plan and explain alike.
    const dan = plan.changes.find((c) => c.label === upn('dan'));
    assert.ok(dan?.action === 'update' && dan.disable !== undefined, JSON.stringify(dan));
    assert.ok(
      explained.get(dan.anchor)?.changes.some((c) => c.action === 'update' && c.disable !== undefined),
      'explain says disable',
    );
    // The written-back groups are explained as such, by cloud id and by AD DN alike.
    const bySales = explained.get(sales);
    assert.ok(bySales?.writeback?.id === sales && bySales.writeback.dn !== undefined, JSON.stringify(bySales));
    const r = await cli(['explain', bySales.writeback.dn, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const byDn = JSON.parse(r.stdout) as ExplainJson;
    assert.equal(byDn.writeback?.id, sales);
    assert.deepEqual(byDn.changes, bySales.changes, 'explain by AD DN = explain by cloud id');
    assert.deepEqual(byDn.reports, bySales.reports);
    const members = plan.changes.flatMap((c) => (c.action === 'add-members' ? c.members.map((m) => m.label) : []));
    assert.deepEqual(members.sort(), [upn('carol'), upn('frank')].sort(), 'WB-New gets frank and carol');
    for (const k of ['carol', 'frank'])
      assert.ok(
        [...explained.values()].some((e) => e.object?.dn === dns[k]),
        `member ${k} explained`,
      );

    // The text form says where a written-back group goes.
    const text = await cli(['explain', sales]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^Written back from the cloud group WB-Sales ${sfx} \\(${sales}\\)$`, 'm'));
    assert.ok(text.stdout.includes(`~ remove 1 member from group WB-Sales ${sfx} in AD`), text.stdout);
  });
});
