/**
 * Issue 10's emptied-group defect on a real Samba AD DC, through the CLI into the Graph emulator: a group
 * whose last members are removed in AD (AD then drops the `member` attribute altogether), a group whose only
 * member user is deleted, and a group whose only (nested) member group is removed all end with those members
 * gone in Entra. And the AD source marks a member list that changed during a ranged read as unread
 * (`entry.unread.member`), never as the whole list — while a list read whole in ranges carries no mark.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Attribute, Change as LdapChange } from 'ldapts';
import type { Client, SearchOptions } from 'ldapts';
import { AdSource } from '../../src/connectors/ad/index.js';
import type { RunningEmulator } from '../../src/emulator/index.js';
import { normalizeDn } from '../../src/model/dn.js';
import type { Plan } from '../../src/model/plan.js';
import { runCli, type CliResult } from '../support/cli.js';
import type { SambaDc } from '../support/samba.js';
import { sambaEnv, sambaSkipReason, sambaSourceSpec } from '../support/samba.js';
import { closeSambaCli, openSamba, startCliEmulator } from '../support/samba-cli.js';
import {
  GROUP_GLOBAL_SECURITY,
  GROUP_UNIVERSAL_SECURITY,
  addGroup,
  addMembers,
  addOu,
  addUser,
  uniqueSuffix,
} from '../support/samba-seed.js';

const skip = await sambaSkipReason();
const EXAMPLE = fileURLToPath(new URL('../../../examples/ad-to-entra/adsync.yaml', import.meta.url));

interface State {
  objects: { id: string; kind: string; props: Record<string, unknown>; members?: string[] }[];
}

describe('emptied groups on Samba AD → Entra (Graph emulator), through the CLI', { skip }, () => {
  let dc: SambaDc;
  let admin: Client;
  let emu: RunningEmulator;
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  const sfx = uniqueSuffix();
  const upn = (local: string): string => `${local}.${sfx}@contoso.test`;
  let root = '';
  const dns: Record<string, string> = {};

  before(async () => {
    ({ dc, admin } = await openSamba());
    root = await addOu(admin, `adsync-emptied-${sfx}`, dc.baseDn);
    const people = await addOu(admin, 'People', root);
    const groups = await addOu(admin, 'Groups', root);
    for (const key of ['ann', 'ben', 'cat', 'dov'])
      dns[key] = await addUser(admin, people, {
        cn: `${key} ${sfx}`,
        sam: `${key}${sfx}`,
        upn: upn(key),
        attrs: { displayName: key },
      });
    dns['contractors'] = await addGroup(admin, groups, 'Contractors', GROUP_GLOBAL_SECURITY, {
      displayName: `Contractors ${sfx}`,
    });
    dns['solo'] = await addGroup(admin, groups, 'Solo', GROUP_UNIVERSAL_SECURITY, { displayName: `Solo ${sfx}` });
    dns['outer'] = await addGroup(admin, groups, 'Outer', GROUP_UNIVERSAL_SECURITY, { displayName: `Outer ${sfx}` });
    await addMembers(admin, dns['contractors'], [dns['ann']!, dns['ben']!]);
    await addMembers(admin, dns['solo'], [dns['cat']!]);
    await addMembers(admin, dns['outer'], [dns['solo']]);

    ({ emu, dir, env } = await startCliEmulator(dc, { prefix: 'adsync-emptied-ad-', baseDn: root }));
  });

  after(async () => {
    await closeSambaCli({ admin, emu, dc, dir });
  });

  const cli = (args: string[]): Promise<CliResult> => runCli([...args, '-c', EXAMPLE], { env });

  async function plan(): Promise<Plan> {
    const r = await cli(['plan', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Plan;
  }

  async function applyClean(): Promise<void> {
    // --force: emptying the groups of this four-membership tenant is most of its memberships (the rail's job).
    const r = await cli(['apply', '--auto-approve', '--force']);
    assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
    assert.match(r.stdout, /0 failed/);
    const again = await cli(['plan', '--detailed-exitcode']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  }

  /** The tenant's members of a group (by display name), as the emulator holds them: UPNs or display names. */
  async function members(group: string): Promise<string[]> {
    await emu.save();
    const s = JSON.parse(await readFile(join(dir, 'tenant.json'), 'utf8')) as State;
    const g = s.objects.find((o) => o.kind === 'group' && o.props['displayName'] === `${group} ${sfx}`);
    assert.ok(g, `group ${group} in the tenant`);
    const byId = new Map(s.objects.map((o) => [o.id, o]));
    return (g.members ?? [])
      .map((id) => String(byId.get(id)?.props['userPrincipalName'] ?? byId.get(id)?.props['displayName']))
      .sort();
  }

  const removeMembers = (group: string, memberDns: string[]): Promise<void> =>
    admin.modify(
      group,
      new LdapChange({ operation: 'delete', modification: new Attribute({ type: 'member', values: memberDns }) }),
    );

  it('applies the groups with their members', async () => {
    await applyClean();
    assert.deepEqual(await members('Contractors'), [upn('ann'), upn('ben')]);
    assert.deepEqual(await members('Solo'), [upn('cat')]);
    assert.deepEqual(await members('Outer'), [`Solo ${sfx}`]);
  });

  it('the last members removed in AD, the only member deleted, the only nested group removed → all gone in Entra', async () => {
    await removeMembers(dns['contractors']!, [dns['ann']!, dns['ben']!]);
    await admin.del(dns['cat']!);
    await removeMembers(dns['outer']!, [dns['solo']!]);
    // AD keeps no empty attribute: the groups now have no `member` at all.
    for (const g of ['contractors', 'solo', 'outer']) {
      const { searchEntries } = await admin.search(dns[g]!, { scope: 'base', attributes: ['member'] });
      assert.deepEqual([searchEntries[0]!['member'] ?? []].flat(), [], `${g} has no member value`);
    }
    const p = await plan();
    assert.deepEqual(
      p.changes.map(
        (c) =>
          `${c.action} ${c.kind} ${c.label}${'members' in c ? ` [${c.members.map((m) => m.label).join(', ')}]` : ''}`,
      ),
      [
        `delete user ${upn('cat')}`,
        `remove-members group Contractors ${sfx} [${upn('ann')}, ${upn('ben')}]`,
        `remove-members group Outer ${sfx} [Solo ${sfx}]`,
      ],
    );
    await applyClean();
    assert.deepEqual(await members('Contractors'), []);
    assert.deepEqual(await members('Solo'), []);
    assert.deepEqual(await members('Outer'), []);
  });

  it('the AD source: a member list read whole in ranges carries no unread mark; one that shrinks mid-read does', async () => {
    const groups = await addOu(admin, 'Ranged', root);
    const four = await addGroup(admin, groups, 'Four', GROUP_GLOBAL_SECURITY);
    const six = await addGroup(admin, groups, 'Six', GROUP_GLOBAL_SECURITY);
    const people = [dns['ann']!, dns['ben']!, dns['dov']!, dns['contractors']!, dns['solo']!, dns['outer']!];
    await addMembers(admin, four, people.slice(0, 4));
    await addMembers(admin, six, people);
    const read = async (onRange?: () => Promise<void>) => {
      const src = new AdSource(sambaSourceSpec(dc), '/', { env: sambaEnv(dc), rangeSize: 2 });
      try {
        const conn = await src.connect();
        const search = conn.client.search.bind(conn.client);
        let fired = false;
        // The DC changes between the paged search and the follow-up range request, as a busy DC may.
        conn.client.search = async (base: string, options?: SearchOptions) => {
          if (
            !fired &&
            onRange &&
            options?.scope === 'base' &&
            normalizeDn(base) === normalizeDn(six) &&
            options.attributes?.some((a) => /^member;range=2-/i.test(a))
          ) {
            fired = true;
            await onRange();
          }
          return search(base, options);
        };
        const snap = await src.read({
          attributes: ['member', 'objectclass', 'objectguid', 'grouptype'],
          baseDns: [groups],
        });
        return new Map(snap.entries.map((e) => [normalizeDn(e.dn), e]));
      } finally {
        await src.close();
      }
    };
    const whole = await read();
    assert.equal(whole.get(normalizeDn(four))!.attrs['member']!.length, 4);
    assert.equal(
      whole.get(normalizeDn(four))!.unread,
      undefined,
      'a list that ends exactly on a range boundary is whole',
    );
    assert.equal(whole.get(normalizeDn(six))!.attrs['member']!.length, 6);
    assert.equal(whole.get(normalizeDn(six))!.unread, undefined);
    const shrunk = await read(() => removeMembers(six, people.slice(0, 4)));
    const e = shrunk.get(normalizeDn(six))!;
    assert.match(e.unread?.['member'] ?? '', /member changed while its values were read in ranges/);
  });
});
