/**
 * Issue 19, inbound side, end to end through the CLI on Samba and the Graph emulator:
 *   - every member left out of a group is a report item with its reason: a computer, a foreign security
 *     principal, a user outside the included OUs (never read), a user under an excluded OU (out of scope);
 *   - a user moved out of `scope.ous.include` is deleted with the rule named (not "no longer in the source").
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Client } from 'ldapts';
import type { RunningEmulator } from '../../src/emulator/index.js';
import { planJson, runCli } from '../support/cli.js';
import type { SambaDc } from '../support/samba.js';
import { sambaSkipReason } from '../support/samba.js';
import { closeSambaCli, openSamba, startCliEmulator } from '../support/samba-cli.js';
import {
  addEntry,
  addGroup,
  addMembers,
  addOu,
  addUser,
  GROUP_GLOBAL_SECURITY,
  uniqueSuffix,
} from '../support/samba-seed.js';

const skip = await sambaSkipReason();
const EXAMPLE = fileURLToPath(new URL('../../../examples/ad-to-entra/adsync.yaml', import.meta.url));

describe(
  'members left out of a group, and deletes of objects that left ous.include, say why (Samba, CLI)',
  { skip },
  () => {
    let dc: SambaDc;
    let admin: Client;
    let emu: RunningEmulator;
    let dir: string;
    let spec: string;
    let env: NodeJS.ProcessEnv;
    const sfx = uniqueSuffix();
    const dns: Record<string, string> = {};
    let people: string;
    let elsewhere: string;
    let excluded: string;

    before(async () => {
      ({ dc, admin } = await openSamba());
      const root = await addOu(admin, `adsync-left-${sfx}`, dc.baseDn);
      people = await addOu(admin, 'People', root);
      excluded = await addOu(admin, 'Service Accounts', people);
      elsewhere = await addOu(admin, 'Elsewhere', root);
      const user = async (key: string, parent: string) => {
        dns[key] = await addUser(admin, parent, {
          cn: `${key} ${sfx}`,
          sam: `${key}${sfx}`,
          upn: `${key}.${sfx}@contoso.test`,
          enabled: false,
          attrs: { displayName: key },
        });
      };
      await user('alice', people);
      await user('mover', people);
      await user('outsider', elsewhere);
      await user('svc', excluded);
      dns['computer'] = await addEntry(admin, `CN=WS-${sfx},${people}`, {
        objectClass: ['top', 'person', 'organizationalPerson', 'user', 'computer'],
        cn: `WS-${sfx}`,
        sAMAccountName: `WS-${sfx}$`,
        userAccountControl: '4096',
      });
      const sid = `S-1-5-21-1000-2000-${parseInt(sfx.slice(0, 6), 16)}-1105`;
      dns['team'] = await addGroup(admin, people, `Team ${sfx}`, GROUP_GLOBAL_SECURITY, { displayName: `Team ${sfx}` });
      // A member of another forest: AD (and Samba) create its foreign security principal when a foreign SID is added.
      await addMembers(admin, dns['team'], [
        dns['alice']!,
        dns['mover']!,
        dns['outsider']!,
        dns['svc']!,
        dns['computer'],
        `<SID=${sid}>`,
      ]);
      dns['fsp'] = `CN=${sid},CN=ForeignSecurityPrincipals,${dc.baseDn}`;

      ({ emu, dir, env } = await startCliEmulator(dc, { prefix: 'adsync-left-', baseDn: root }));
      spec = join(dir, 'adsync.yaml');
      await writeFile(
        spec,
        (await readFile(EXAMPLE, 'utf8')).replace(
          '        include: []\n        exclude: []',
          `        include: ["${people}"]\n        exclude: ["${excluded}"]`,
        ),
      );
    });

    after(async () => {
      await closeSambaCli({ admin, emu, dc, dir });
    });

    const plan = () => planJson(spec, env);

    it('reports each member left out of the group with its reason', async () => {
      const p = await plan();
      assert.ok(
        p.changes.some(
          (c) =>
            c.action === 'add-members' &&
            c.label === `Team ${sfx}` &&
            c.members
              .map((m) => m.label)
              .sort()
              .join(' ') === `alice.${sfx}@contoso.test mover.${sfx}@contoso.test`,
        ),
        JSON.stringify(p.changes.map((c) => c.label)),
      );
      const left = p.reports
        .filter((r) => r.code === 'members-skipped' && r.label === `Team ${sfx}`)
        .map((r) => r.reason);
      const one = (pattern: RegExp, dn: string) => {
        const r = left.find((x) => pattern.test(x));
        assert.ok(r && r.includes(dn), `${pattern}: ${dn}\n${left.join('\n')}`);
      };
      one(/^1 member\(s\) left out: a computer /, dns['computer']!);
      one(/^1 member\(s\) left out: a foreign security principal /, dns['fsp']!);
      one(/^1 member\(s\) left out: out of scope \(under excluded OU /, dns['svc']!);
      one(/^1 member\(s\) left out: not read from any source /, dns['outsider']!);
      assert.equal(left.length, 4, left.join('\n'));
    });

    it('a user moved out of scope.ous.include is deleted, naming the rule', async () => {
      const applied = await runCli(['apply', '-c', spec, '--auto-approve'], { env });
      assert.equal(applied.code, 0, applied.stdout + applied.stderr);
      const moved = `CN=mover ${sfx},${elsewhere}`;
      await admin.modifyDN(dns['mover']!, moved);
      const p = await plan();
      const del = p.changes.find((c) => c.action === 'delete');
      assert.ok(del && del.action === 'delete' && del.label === `mover.${sfx}@contoso.test`, JSON.stringify(p.changes));
      assert.equal(del.rule, 'sources.corp.scope.ous.include');
      assert.match(
        del.reason,
        new RegExp(
          `^out of scope: not read from any source: not under any OU in sources\\.corp\\.scope\\.ous\\.include \\(${people.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`,
        ),
      );
    });
  },
);
