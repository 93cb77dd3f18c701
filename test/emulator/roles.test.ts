/**
 * Conformance: directory roles (learn.microsoft.com/graph/api/directoryrole-list, -get, -list-members,
 * -post-members, -delete-member; graph-facts §4 "directoryRoles don't support paging"), and the application
 * permissions of app-only tokens: the `roles` claim, and Graph's 403 Authorization_RequestDenied
 * "Insufficient privileges to complete the operation." (graph-facts §9) for a request the roles don't grant.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClientSecretCredential } from '@azure/identity';
import { createPublicKey, verify } from 'node:crypto';
import { DEFAULT_ROLES } from '../../src/emulator/index.js';
import { errorOf, getToken, harness, NOT_FOUND, type Harness } from './helpers.js';

const GA = '62e90394-69f5-4237-9190-012177145e10';
const USER_ADMIN = 'fe930be7-5e62-47db-91af-98c3a49a38b1';
const ref = (id: string): { '@odata.id': string } => ({
  '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${id}`,
});

function claims(token: string): Record<string, unknown> {
  const parts = token.split('.');
  assert.equal(parts.length, 3, 'a JWT has three parts');
  return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('emulator: directory roles', () => {
  let h: Harness;
  let admin: string;
  let helpdesk: string;
  let plain: string;
  before(async () => {
    // Role writes need RoleManagement.ReadWrite.Directory (directoryrole-post-members), beyond the default grant.
    h = await harness({ roles: [...DEFAULT_ROLES, 'RoleManagement.ReadWrite.Directory'] });
    admin = await h.newUser('admin');
    helpdesk = await h.newUser('helpdesk');
    plain = await h.newUser('plain');
    h.emu.seed({
      directoryRoles: [
        { displayName: 'Global Administrator', roleTemplateId: GA, members: [admin] },
        { displayName: 'User Administrator', roleTemplateId: USER_ADMIN, members: [helpdesk, admin] },
      ],
    });
  });
  after(async () => {
    await h.emu.close();
  });

  it('GET /directoryRoles lists the activated roles with id, displayName, description, roleTemplateId', async () => {
    const r = await h.get('/directoryRoles');
    assert.equal(r.status, 200);
    assert.match(r.body['@odata.context'], /\/v1\.0\/\$metadata#directoryRoles$/);
    const byTemplate = new Map<string, Record<string, unknown>>(
      r.body.value.map((x: Record<string, unknown>) => [x['roleTemplateId'], x]),
    );
    assert.equal(byTemplate.size, 2);
    const ga = byTemplate.get(GA)!;
    assert.equal(ga['displayName'], 'Global Administrator');
    assert.equal(typeof ga['id'], 'string');
    assert.notEqual(ga['id'], GA, 'the object id is not the template id');
    assert.equal(typeof ga['description'], 'string');
    assert.equal('members' in ga, false, 'members only with $expand');
  });

  it('is not paged: $top does not split the list, and there is no nextLink', async () => {
    const r = await h.get('/directoryRoles?$top=1');
    assert.equal(r.status, 200);
    assert.equal(r.body.value.length, 2);
    assert.equal(r.body['@odata.nextLink'], undefined);
  });

  it('$expand=members($select=id) returns each role with its members inline, typed', async () => {
    const r = await h.get('/directoryRoles?$select=id,displayName&$expand=members($select=id)');
    assert.equal(r.status, 200);
    const ga = r.body.value.find((x: { displayName: string }) => x.displayName === 'Global Administrator');
    assert.deepEqual(Object.keys(ga).sort(), ['displayName', 'id', 'members']);
    assert.deepEqual(ga.members, [{ '@odata.type': '#microsoft.graph.user', id: admin }]);
    const ua = r.body.value.find((x: { displayName: string }) => x.displayName === 'User Administrator');
    assert.deepEqual(ua.members.map((m: { id: string }) => m.id).sort(), [admin, helpdesk].sort());
    assert.equal(
      ua.members.some((m: { id: string }) => m.id === plain),
      false,
    );
  });

  it("$expand=members without $select returns the members' default properties", async () => {
    const r = await h.get('/directoryRoles?$expand=members');
    const ga = r.body.value.find((x: { roleTemplateId: string }) => x.roleTemplateId === GA);
    assert.equal(ga.members[0].id, admin);
    assert.match(ga.members[0].userPrincipalName, /^admin\d+@/);
  });

  it('$expand of anything else → 400', async () => {
    const r = await h.get('/directoryRoles?$expand=owners');
    assert.equal(r.status, 400);
    errorOf(r);
  });

  it('GET /directoryRoles/{id} and by roleTemplateId; an unknown id → 404 Request_ResourceNotFound', async () => {
    const list = await h.get('/directoryRoles');
    const id = list.body.value.find((x: { roleTemplateId: string }) => x.roleTemplateId === GA).id as string;
    const byId = await h.get(`/directoryRoles/${id}`);
    assert.equal(byId.status, 200);
    assert.equal(byId.body.displayName, 'Global Administrator');
    const byTemplate = await h.get(`/directoryRoles/${GA}`);
    assert.equal(byTemplate.status, 200);
    assert.equal(byTemplate.body.id, id);
    const missing = '00000000-0000-0000-0000-0000000000ff';
    const r = await h.get(`/directoryRoles/${missing}`);
    assert.equal(r.status, 404);
    assert.equal(errorOf(r).code, 'Request_ResourceNotFound');
    assert.equal(errorOf(r).message, NOT_FOUND(missing));
  });

  it('GET /directoryRoles/{id}/members lists directoryObjects with @odata.type', async () => {
    const r = await h.get(`/directoryRoles/${USER_ADMIN}/members?$select=id`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.value.map((m: { id: string }) => m.id).sort(), [admin, helpdesk].sort());
    for (const m of r.body.value) assert.equal(m['@odata.type'], '#microsoft.graph.user');
  });

  it('POST members/$ref → 204; again → 400; DELETE members/{id}/$ref → 204; again → 404', async () => {
    const add = await h.call('POST', `/directoryRoles/${GA}/members/$ref`, ref(plain));
    assert.equal(add.status, 204);
    const again = await h.call('POST', `/directoryRoles/${GA}/members/$ref`, ref(plain));
    assert.equal(again.status, 400);
    assert.equal(
      errorOf(again).message,
      "One or more added object references already exist for the following modified properties: 'members'.",
    );
    const missing = '00000000-0000-0000-0000-0000000000fe';
    const nobody = await h.call('POST', `/directoryRoles/${GA}/members/$ref`, ref(missing));
    assert.equal(nobody.status, 404);
    assert.equal((await h.call('DELETE', `/directoryRoles/${GA}/members/${plain}/$ref`)).status, 204);
    assert.equal((await h.call('DELETE', `/directoryRoles/${GA}/members/${plain}/$ref`)).status, 404);
    const members = await h.get(`/directoryRoles/${GA}/members`);
    assert.deepEqual(
      members.body.value.map((m: { id: string }) => m.id),
      [admin],
    );
  });

  it('a deleted user no longer holds its roles', async () => {
    const temp = await h.newUser('temp');
    assert.equal((await h.call('POST', `/directoryRoles/${GA}/members/$ref`, ref(temp))).status, 204);
    assert.equal((await h.call('DELETE', `/users/${temp}`)).status, 204);
    const members = await h.get(`/directoryRoles/${GA}/members`);
    assert.equal(
      members.body.value.some((m: { id: string }) => m.id === temp),
      false,
    );
  });

  it('only a role-assignable group (isAssignableToRole) can hold a role; its members come with @odata.type', async () => {
    const plainGroup = await h.newGroup('not-assignable');
    const refused = await h.call('POST', `/directoryRoles/${GA}/members/$ref`, ref(plainGroup));
    assert.equal(refused.status, 400);
    assert.equal(
      errorOf(refused).message,
      'Only groups with isAssignableToRole set to true can be assigned to a directory role.',
    );
    assert.throws(
      () => h.emu.seed({ directoryRoles: [{ roleTemplateId: GA, members: [plainGroup] }] }),
      /only groups created with isAssignableToRole: true/,
    );
    const admins = await h.newGroup('admins', { isAssignableToRole: true });
    assert.equal((await h.call('POST', `/directoryRoles/${GA}/members/$ref`, ref(admins))).status, 204);
    const r = await h.get('/directoryRoles?$select=id,displayName&$expand=members($select=id,displayName)');
    const ga = r.body.value.find((x: { displayName: string }) => x.displayName === 'Global Administrator');
    assert.deepEqual(
      ga.members.find((m: { id: string }) => m.id === admins),
      { '@odata.type': '#microsoft.graph.group', id: admins, displayName: 'admins' },
    );
    assert.equal((await h.call('DELETE', `/directoryRoles/${GA}/members/${admins}/$ref`)).status, 204);
  });

  it('roles survive a restart from the state file', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'adsync-roles-'));
    const statePath = join(dir, 'tenant.json');
    const first = await harness({ statePath });
    const u = await first.newUser('keeper');
    first.emu.seed({ directoryRoles: [{ roleTemplateId: GA, members: [u] }] });
    await first.emu.close();
    const second = await harness({ statePath });
    const r = await second.get('/directoryRoles?$expand=members($select=id)');
    assert.deepEqual(
      r.body.value.map((x: { displayName: string; members: { id: string }[] }) => [
        x.displayName,
        x.members.map((m) => m.id),
      ]),
      [['Global Administrator', [u]]],
    );
    await second.emu.close();
    await rm(dir, { recursive: true, force: true });
  });
});

describe('emulator: application permissions (token roles)', () => {
  it('issues a JWT whose roles are the granted application permissions (default: what adsync needs)', async () => {
    const h = await harness();
    try {
      const c = claims(h.token);
      assert.equal(c['appid'], h.emu.clientId);
      assert.equal(c['tid'], h.emu.tenantId);
      assert.equal(c['idtyp'], 'app');
      const roles = c['roles'] as string[];
      for (const r of [
        'User.ReadWrite.All',
        'Group.ReadWrite.All',
        'Application.ReadWrite.OwnedBy',
        'Organization.Read.All',
        'RoleManagement.Read.Directory',
      ])
        assert.ok(roles.includes(r), r);
      assert.ok((c['exp'] as number) > Date.now() / 1000);
    } finally {
      await h.emu.close();
    }
  });

  it('signs tokens RS256 with a key published at jwks_uri', async () => {
    const h = await harness();
    try {
      const meta = (await (
        await fetch(`${h.emu.authorityHost}/${h.emu.tenantId}/v2.0/.well-known/openid-configuration`)
      ).json()) as { jwks_uri: string };
      const keys = (await (await fetch(meta.jwks_uri)).json()) as { keys: { kid: string }[] };
      const [head, body, sig] = h.token.split('.') as [string, string, string];
      const header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg: string; kid: string };
      assert.equal(header.alg, 'RS256');
      const jwk = keys.keys.find((k) => k.kid === header.kid);
      assert.ok(jwk, 'the signing key is published');
      const key = createPublicKey({ key: jwk as unknown as import('node:crypto').JsonWebKey, format: 'jwk' });
      assert.equal(verify('sha256', Buffer.from(`${head}.${body}`), key, Buffer.from(sig, 'base64url')), true);
    } finally {
      await h.emu.close();
    }
  });

  it('a client without Group.ReadWrite.All: group writes → 403 Authorization_RequestDenied, user writes and group reads pass', async () => {
    const h = await harness({ roles: ['User.ReadWrite.All', 'GroupMember.Read.All', 'Organization.Read.All'] });
    try {
      assert.deepEqual(claims(h.token)['roles'], [
        'User.ReadWrite.All',
        'GroupMember.Read.All',
        'Organization.Read.All',
      ]);
      const u = await h.newUser('ok');
      assert.ok(u);
      const g = await h.call('POST', '/groups', {
        displayName: 'G',
        mailEnabled: false,
        securityEnabled: true,
        mailNickname: 'g',
      });
      assert.equal(g.status, 403);
      assert.deepEqual(
        [errorOf(g).code, errorOf(g).message],
        ['Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'],
      );
      assert.equal((await h.get('/groups')).status, 200);
      assert.equal((await h.get('/organization')).status, 200);
      const apps = await h.get('/applications');
      assert.equal(apps.status, 403);
      const roles = await h.get('/directoryRoles');
      assert.equal(roles.status, 403);
    } finally {
      await h.emu.close();
    }
  });

  it('GroupMember.ReadWrite.All may add members ($ref and members@odata.bind) but not change the group', async () => {
    const full = await harness();
    const g = await full.newGroup('team');
    const u = await full.newUser('member');
    const u2 = await full.newUser('member');
    await full.emu.setRoles(['User.Read.All', 'GroupMember.ReadWrite.All']);
    try {
      const token = await getToken(full.emu);
      const call = async (method: string, path: string, body?: unknown): Promise<number> =>
        (
          await fetch(`${full.emu.url}/v1.0${path}`, {
            method,
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
            ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          })
        ).status;
      assert.equal(await call('POST', `/groups/${g}/members/$ref`, ref(u)), 204);
      assert.equal(
        await call('PATCH', `/groups/${g}`, {
          'members@odata.bind': [`https://graph.microsoft.com/v1.0/directoryObjects/${u2}`],
        }),
        204,
      );
      assert.equal(await call('DELETE', `/groups/${g}/members/${u}/$ref`), 204);
      assert.equal(await call('PATCH', `/groups/${g}`, { displayName: 'renamed' }), 403);
      assert.equal(await call('DELETE', `/groups/${g}`), 403);
      // The earlier token (default grant) keeps its roles until it expires.
      assert.equal((await full.call('PATCH', `/groups/${g}`, { displayName: 'renamed' })).status, 204);
    } finally {
      await full.emu.close();
    }
  });

  it('the default grant reads directory roles but may not change them', async () => {
    const h = await harness();
    try {
      const u = await h.newUser('x');
      h.emu.seed({ directoryRoles: [{ roleTemplateId: GA }] });
      assert.equal((await h.get('/directoryRoles')).status, 200);
      const r = await h.call('POST', `/directoryRoles/${GA}/members/$ref`, ref(u));
      assert.equal(r.status, 403);
      assert.equal(errorOf(r).code, 'Authorization_RequestDenied');
    } finally {
      await h.emu.close();
    }
  });

  it('is enforced inside $batch, per request', async () => {
    const h = await harness({ roles: ['User.ReadWrite.All'] });
    try {
      const r = await h.call('POST', '/$batch', {
        requests: [
          { id: '1', method: 'GET', url: '/users' },
          { id: '2', method: 'GET', url: '/groups' },
        ],
      });
      assert.equal(r.status, 200);
      const byId = new Map(r.body.responses.map((x: { id: string; status: number }) => [x.id, x.status]));
      assert.equal(byId.get('1'), 200);
      assert.equal(byId.get('2'), 403);
    } finally {
      await h.emu.close();
    }
  });

  it('no roles at all: the token has no roles claim, and every Graph read is denied', async () => {
    const h = await harness({ roles: [] });
    try {
      assert.equal('roles' in claims(h.token), false);
      const r = await h.get('/users');
      assert.equal(r.status, 403);
      assert.equal(errorOf(r).code, 'Authorization_RequestDenied');
    } finally {
      await h.emu.close();
    }
  });

  it('the real ClientSecretCredential gets the JWT with roles', async () => {
    const h = await harness({ roles: ['User.ReadWrite.All', 'Group.ReadWrite.All'] });
    try {
      const cred = new ClientSecretCredential(h.emu.tenantId, h.emu.clientId, h.emu.clientSecret, {
        authorityHost: h.emu.authorityHost,
        disableInstanceDiscovery: true,
      });
      const t = await cred.getToken('https://graph.microsoft.com/.default');
      assert.deepEqual(claims(t.token)['roles'], ['User.ReadWrite.All', 'Group.ReadWrite.All']);
      assert.equal(claims(t.token)['aud'], 'https://graph.microsoft.com');
    } finally {
      await h.emu.close();
    }
  });
});
