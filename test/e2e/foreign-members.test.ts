/**
 * Account forest / resource forest through the CLI, with two LDIF exports: corp.ldif (the resource forest) has
 * a group whose members include accounts of fabrikam by their foreign security principals; accounts.ldif (the
 * account forest) has those accounts. plan adds the fabrikam user to the corp group, apply makes it so in the
 * (embedded) emulator, a second plan has nothing to do, and removing the principal from the group removes the
 * member. A principal whose SID no source holds is reported as left out, saying so.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sidToBytes } from '../../src/model/sid.js';
import { planJson, runCli } from '../support/cli.js';

const FABRIKAM_SID = 'S-1-5-21-3623811015-3361044348-30300820';
const ANN = `${FABRIKAM_SID}-1105`;
const GONE = `${FABRIKAM_SID}-1999`;
const fsp = (sid: string) => `CN=${sid},CN=ForeignSecurityPrincipals,DC=contoso,DC=example`;
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const guid = (n: number) => b64(Uint8Array.from({ length: 16 }, (_, i) => (n * 31 + i * 7) % 256));

/** An enabled user's record, as ldifde exports it. */
const userRecord = (dn: string, cn: string, sam: string, upn: string, guidN: number, sid: string) => `dn: ${dn}
changetype: add
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: ${cn}
sAMAccountName: ${sam}
userPrincipalName: ${upn}
displayName: ${cn}
userAccountControl: 512
objectGUID:: ${guid(guidN)}
objectSid:: ${b64(sidToBytes(sid)!)}
`;

const CORP = `version: 1

${userRecord('CN=Bob Jones,OU=Staff,DC=contoso,DC=example', 'Bob Jones', 'bjones', 'bjones@contoso.example', 1, 'S-1-5-21-1-2-3-1104')}
dn: CN=Project X,OU=Groups,DC=contoso,DC=example
changetype: add
objectClass: top
objectClass: group
cn: Project X
sAMAccountName: ProjectX
displayName: Project X
groupType: -2147483644
objectGUID:: ${guid(2)}
member: CN=Bob Jones,OU=Staff,DC=contoso,DC=example
member: ${fsp(ANN)}
member: ${fsp(GONE)}
`;

const ACCOUNTS = `version: 1

${userRecord('CN=Ann Lee,OU=People,DC=fabrikam,DC=example', 'Ann Lee', 'alee', 'alee@fabrikam.example', 3, ANN)}`;

const SPEC = `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
    scope: { domains: [contoso.example] }
  - name: fabrikam
    ldif: { path: ./accounts.ldif }
    scope: { domains: [fabrikam.example] }
target:
  emulator:
    state: ./.adsync/tenant.json
    tenant: contoso.onmicrosoft.com
    domains: [contoso.example, fabrikam.example]
`;

interface State {
  objects: { id: string; kind: string; props: Record<string, unknown>; members?: string[] }[];
}

describe('members of another forest through their foreign security principals (two LDIF exports, CLI)', () => {
  let dir = '';
  const spec = () => join(dir, 'adsync.yaml');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-fsp-'));
    await writeFile(spec(), SPEC);
    await writeFile(join(dir, 'corp.ldif'), CORP);
    await writeFile(join(dir, 'accounts.ldif'), ACCOUNTS);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const plan = () => planJson(spec());

  async function membersInTenant(group: string): Promise<string[]> {
    const s = JSON.parse(await readFile(join(dir, '.adsync', 'tenant.json'), 'utf8')) as State;
    const g = s.objects.find((o) => o.kind === 'group' && o.props['displayName'] === group);
    assert.ok(g, `group ${group} in the tenant`);
    const byId = new Map(s.objects.map((o) => [o.id, o]));
    return (g.members ?? []).map((id) => String(byId.get(id)?.props['userPrincipalName'])).sort();
  }

  it('plan adds the account of the other forest to the group, and says why the unknown SID is left out', async () => {
    const p = await plan();
    const add = p.changes.find((c) => c.action === 'add-members' && c.label === 'Project X');
    assert.ok(add && add.action === 'add-members', JSON.stringify(p.changes));
    assert.deepEqual(add.members.map((m) => m.label).sort(), ['alee@fabrikam.example', 'bjones@contoso.example']);
    const left = p.reports.filter((r) => r.code === 'members-skipped').map((r) => r.reason);
    assert.deepEqual(left, [
      `1 member(s) left out: a foreign security principal whose SID no source holds (an account of a forest that is not among the spec's sources): ${fsp(GONE)}`,
    ]);
    const text = await runCli(['plan', '-c', spec()]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /add 2 members to group Project X/);
  });

  it('apply makes the member so, and the next plan has nothing to do', async () => {
    const r = await runCli(['apply', '-c', spec(), '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await membersInTenant('Project X'), ['alee@fabrikam.example', 'bjones@contoso.example']);
    const again = await runCli(['plan', '-c', spec(), '--detailed-exitcode']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  it('the principal removed from the group removes the member', async () => {
    const ldif = join(dir, 'corp.ldif');
    await writeFile(ldif, (await readFile(ldif, 'utf8')).replace(`member: ${fsp(ANN)}\n`, ''));
    const p = await plan();
    const remove = p.changes.find((c) => c.action === 'remove-members');
    assert.ok(remove && remove.action === 'remove-members', JSON.stringify(p.changes));
    assert.deepEqual(
      remove.members.map((m) => m.label),
      ['alee@fabrikam.example'],
    );
    assert.equal(p.changes.length, 1, JSON.stringify(p.changes));
  });
});
