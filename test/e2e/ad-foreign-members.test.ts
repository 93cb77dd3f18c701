/**
 * Account forest / resource forest on a real DC: Samba is the resource forest (corp, read over LDAPS), an LDIF
 * export is the account forest (fabrikam). A domain-local group of corp gets two members of another forest by
 * SID (`member: <SID=S-1-5-21-…>`): Samba creates their foreign security principals under
 * CN=ForeignSecurityPrincipals, as AD does. plan resolves the one fabrikam holds to fabrikam's user and reports
 * the other as left out (no source holds its SID); apply makes it so in the Graph emulator; the next plan has
 * nothing to do; the principal taken out of the group takes the member out.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Attribute, Change, type Client } from 'ldapts';
import type { RunningEmulator } from '../../src/emulator/index.js';
import { sidToBytes } from '../../src/model/sid.js';
import { planJson, runCli } from '../support/cli.js';
import type { SambaDc } from '../support/samba.js';
import { sambaSkipReason } from '../support/samba.js';
import { closeSambaCli, emulatorGraph, openSamba, startCliEmulator } from '../support/samba-cli.js';
import { addGroup, addOu, addUser, addMembers, uniqueSuffix } from '../support/samba-seed.js';

const skip = await sambaSkipReason();

/** groupType of a domain-local security group: the scope AD lets hold members of other forests. */
const GROUP_DOMAIN_LOCAL_SECURITY = -2147483644;

describe('a member of another forest through its foreign security principal (Samba, LDIF, CLI)', { skip }, () => {
  let dc: SambaDc;
  let admin: Client;
  let emu: RunningEmulator;
  let dir: string;
  let spec: string;
  let env: NodeJS.ProcessEnv;
  let team: string;
  const sfx = uniqueSuffix();
  // A forest Samba does not know: its SIDs can only become foreign security principals here.
  const foreignDomain = `S-1-5-21-${parseInt(sfx.slice(0, 7), 16)}-2000-3000`;
  const ann = `${foreignDomain}-1105`;
  const gone = `${foreignDomain}-1999`;
  const fspDn = (sid: string) => `CN=${sid},CN=ForeignSecurityPrincipals,${dc.baseDn}`;

  before(async () => {
    ({ dc, admin } = await openSamba());
    const root = await addOu(admin, `adsync-fsp-${sfx}`, dc.baseDn);
    const bob = await addUser(admin, root, {
      cn: `bob ${sfx}`,
      sam: `bob${sfx}`,
      upn: `bob.${sfx}@contoso.test`,
      enabled: false,
      attrs: { displayName: 'bob' },
    });
    team = await addGroup(admin, root, `Resources ${sfx}`, GROUP_DOMAIN_LOCAL_SECURITY, {
      displayName: `Resources ${sfx}`,
    });
    await addMembers(admin, team, [bob, `<SID=${ann}>`, `<SID=${gone}>`]);

    ({ emu, dir, env } = await startCliEmulator(dc, { prefix: 'adsync-fsp-', baseDn: root }));
    const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
    await writeFile(
      join(dir, 'fabrikam.ldif'),
      [
        'version: 1',
        '',
        `dn: CN=Ann Lee,OU=People,DC=fabrikam,DC=example`,
        'changetype: add',
        'objectClass: top',
        'objectClass: person',
        'objectClass: organizationalPerson',
        'objectClass: user',
        'cn: Ann Lee',
        `sAMAccountName: alee${sfx}`,
        `userPrincipalName: alee.${sfx}@contoso.test`,
        'displayName: Ann Lee',
        'userAccountControl: 512',
        `objectGUID:: ${b64(randomBytes(16))}`,
        `objectSid:: ${b64(sidToBytes(ann)!)}`,
        '',
      ].join('\n'),
    );
    spec = join(dir, 'adsync.yaml');
    await writeFile(
      spec,
      `version: 1
sources:
  - name: corp
    ldap:
      url: { env: ADSYNC_LDAP_URL }
      bindDn: { env: ADSYNC_LDAP_BIND_DN }
      password: { env: ADSYNC_LDAP_PASSWORD }
      ca: { env: ADSYNC_LDAP_CA }
      baseDn: { env: ADSYNC_LDAP_BASE_DN }
  - name: fabrikam
    ldif: { path: ./fabrikam.ldif }
    scope: { domains: [fabrikam.example] }
target:
  entra:
    tenantId: { env: AZURE_TENANT_ID }
    endpoint: { env: ADSYNC_GRAPH_URL }
    credential: { kind: environment }
`,
    );
  });

  after(async () => {
    await closeSambaCli({ admin, emu, dc, dir });
  });

  const plan = () => planJson(spec, env);

  it('Samba made the foreign security principals the group names', async () => {
    const { searchEntries } = await admin.search(team, { scope: 'base', attributes: ['member'] });
    const members = [searchEntries[0]?.['member'] ?? []].flat().map(String);
    for (const sid of [ann, gone])
      assert.ok(
        members.some((m) => m.toLowerCase() === fspDn(sid).toLowerCase()),
        `${fspDn(sid)} in ${members.join('; ')}`,
      );
    const fsp = await admin.search(fspDn(ann), { scope: 'base', attributes: ['objectClass'] });
    assert.ok([fsp.searchEntries[0]?.['objectClass'] ?? []].flat().map(String).includes('foreignSecurityPrincipal'));
  });

  it("plan adds the account forest's user to the group and says why the other SID is left out", async () => {
    const p = await plan();
    const add = p.changes.find((c) => c.action === 'add-members' && c.label === `Resources ${sfx}`);
    assert.ok(add && add.action === 'add-members', JSON.stringify(p.changes));
    assert.deepEqual(add.members.map((m) => m.label).sort(), [`alee.${sfx}@contoso.test`, `bob.${sfx}@contoso.test`]);
    const left = p.reports
      .filter((r) => r.code === 'members-skipped' && r.label === `Resources ${sfx}`)
      .map((r) => r.reason);
    assert.equal(left.length, 1, left.join('\n'));
    assert.match(left[0]!, /^1 member\(s\) left out: a foreign security principal whose SID no source holds /);
    assert.ok(left[0]!.toLowerCase().includes(fspDn(gone).toLowerCase()), left[0]);
  });

  it('apply makes it so in Entra, and the next plan has nothing to do', async () => {
    const r = await runCli(['apply', '-c', spec, '--auto-approve'], { env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const graph = emulatorGraph(emu);
    const groups = await graph.call('GET', `/groups?$filter=displayName eq 'Resources ${sfx}'`);
    const id = groups.json.value[0]?.id as string;
    assert.ok(id, JSON.stringify(groups.json));
    const members = await graph.call('GET', `/groups/${id}/members?$select=userPrincipalName`);
    assert.deepEqual((members.json.value as { userPrincipalName: string }[]).map((m) => m.userPrincipalName).sort(), [
      `alee.${sfx}@contoso.test`,
      `bob.${sfx}@contoso.test`,
    ]);
    const again = await runCli(['plan', '-c', spec, '--detailed-exitcode'], { env });
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  it('the principal taken out of the group takes the member out', async () => {
    await admin.modify(
      team,
      new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [fspDn(ann)] }) }),
    );
    const p = await plan();
    const remove = p.changes.find((c) => c.action === 'remove-members');
    assert.ok(remove && remove.action === 'remove-members', JSON.stringify(p.changes));
    assert.deepEqual(
      remove.members.map((m) => m.label),
      [`alee.${sfx}@contoso.test`],
    );
  });
});
