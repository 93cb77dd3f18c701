/**
 * Issue 10's emptied-group defect through the CLI, on the quickstart: delete every `member:` line of
 * CN=Contractors in corp.ldif, and plan → apply removes Isabel, Jonas and Kate from Contractors in the
 * (embedded) emulator; then the last member of a group removed, then a member user deleted.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Plan } from '../../src/model/plan.js';
import { runCli } from '../support/cli.js';

const QUICKSTART = fileURLToPath(new URL('../../../examples/quickstart/', import.meta.url));

interface State {
  objects: { id: string; kind: string; props: Record<string, unknown>; members?: string[] }[];
}

describe('an emptied group loses its members in Entra (quickstart, LDIF, through the CLI)', () => {
  let dir = '';
  const spec = (): string => join(dir, 'adsync.yaml');
  const ldif = (): string => join(dir, 'corp.ldif');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-emptied-'));
    await cp(join(QUICKSTART, 'adsync.yaml'), spec());
    await cp(join(QUICKSTART, 'corp.ldif'), ldif());
    await cp(join(QUICKSTART, 'tenant.yaml'), join(dir, 'tenant.yaml'));
    const r = await runCli(['apply', '-c', spec(), '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  /** Group display name → its members' UPNs or display names, as the emulator holds them. */
  async function membersInTenant(group: string): Promise<string[]> {
    const s = JSON.parse(await readFile(join(dir, '.adsync', 'tenant.json'), 'utf8')) as State;
    const g = s.objects.find((o) => o.kind === 'group' && o.props['displayName'] === group);
    assert.ok(g, `group ${group} in the tenant`);
    const byId = new Map(s.objects.map((o) => [o.id, o]));
    return (g.members ?? [])
      .map((id) => String(byId.get(id)?.props['userPrincipalName'] ?? byId.get(id)?.props['displayName']))
      .sort();
  }

  async function editLdif(edit: (text: string) => string): Promise<void> {
    const before = await readFile(ldif(), 'utf8');
    const changed = edit(before);
    assert.ok(changed !== before, 'the edit changed nothing');
    await writeFile(ldif(), changed);
  }

  async function planJson(): Promise<Plan> {
    const r = await runCli(['plan', '-c', spec(), '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Plan;
  }

  async function applyClean(): Promise<void> {
    const r = await runCli(['apply', '-c', spec(), '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /0 failed/);
    const again = await runCli(['plan', '-c', spec(), '--detailed-exitcode']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  }

  it('every member: line of Contractors deleted → the plan removes all three, apply empties the group', async () => {
    assert.deepEqual(await membersInTenant('Contractors'), [
      'icosta@contoso.example',
      'jberg@contoso.example',
      'knovak@contoso.example',
    ]);
    await editLdif((t) => t.replace(/(dn: CN=Contractors,OU=Groups,[^]*?)((?:member::? .*\n)+)/, '$1'));
    const text = await runCli(['plan', '-c', spec()]);
    assert.equal(text.code, 0, text.stderr);
    assert.doesNotMatch(text.stdout, /^No changes/m);
    assert.match(text.stdout, /remove 3 members from group Contractors/);
    const p = await planJson();
    assert.deepEqual(
      p.changes.map(
        (c) => `${c.action} ${c.label}${'members' in c ? ` ${c.members.map((m) => m.label).join(' ')}` : ''}`,
      ),
      ['remove-members Contractors icosta@contoso.example jberg@contoso.example knovak@contoso.example'],
    );
    await applyClean();
    assert.deepEqual(await membersInTenant('Contractors'), []);
  });

  it('the last member of a group removed (Engineering down to one, then none) → removed in the tenant', async () => {
    const engineering = /(dn: CN=Engineering,OU=Groups,[^]*?)((?:member::? .*\n)+)/;
    const before = await membersInTenant('Engineering');
    assert.ok(before.length >= 2, before.join(' '));
    // keep only the first member line
    await editLdif((t) =>
      t.replace(engineering, (_m, head: string, lines: string) => head + lines.split('\n')[0] + '\n'),
    );
    await applyClean();
    const one = await membersInTenant('Engineering');
    assert.equal(one.length, 1);
    await editLdif((t) => t.replace(engineering, '$1'));
    const p = await planJson();
    assert.deepEqual(
      p.changes.map((c) => `${c.action} ${c.label}`),
      ['remove-members Engineering'],
    );
    await applyClean();
    assert.deepEqual(await membersInTenant('Engineering'), []);
  });

  it('the last member of a group deleted from AD → the user is deleted and the group left empty', async () => {
    // Put Kate back in Contractors, alone; then delete her entry (AD drops her from member: too).
    await editLdif((t) =>
      t.replace(
        /(dn: CN=Contractors,OU=Groups,[^]*?groupType: -2147483646\n)/,
        '$1member: CN=Kate Novak,OU=Contractors,DC=contoso,DC=example\n',
      ),
    );
    await applyClean();
    assert.deepEqual(await membersInTenant('Contractors'), ['knovak@contoso.example']);
    await editLdif((t) =>
      t
        .replace(/dn: CN=Kate Novak,OU=Contractors,[^]*?\n\n/, '')
        .replace(/member: CN=Kate Novak,OU=Contractors,DC=contoso,DC=example\n/g, ''),
    );
    const p = await planJson();
    assert.deepEqual(
      p.changes.map((c) => `${c.action} ${c.kind} ${c.label}`),
      ['delete user knovak@contoso.example'],
    );
    await applyClean();
    assert.deepEqual(await membersInTenant('Contractors'), []);
  });
});
