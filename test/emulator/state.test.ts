/** Persistence: a restarted emulator keeps its tenant, certificate, credentials and objects (DESIGN §6). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness } from './helpers.js';

describe('emulator: state file', () => {
  it('round-trips tenant, certificate, credentials, objects, memberships and extensions; delta links outlive a restart, links in an older state file get 410 + Location', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adsync-emu-'));
    const statePath = join(dir, 'state.json');
    try {
      const a = await harness({ statePath, initialDomain: 'persist.onmicrosoft.com' });
      const ext = (
        await a.call('POST', `/applications/${a.emu.applicationObjectId}/extensionProperties`, {
          name: 'anchor',
          dataType: 'String',
          targetObjects: ['User'],
        })
      ).body.name as string;
      const u = await a.newUser('keep', { [ext]: 'K1' });
      const g = await a.newGroup('keepg');
      await a.call('POST', `/groups/${g}/members/$ref`, {
        '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${u}`,
      });
      const gone = await a.newUser('soft');
      await a.call('DELETE', `/users/${gone}`);
      const deltaLink = (await a.get('/users/delta?$deltatoken=latest')).body['@odata.deltaLink'] as string;
      const before = {
        tenantId: a.emu.tenantId,
        clientId: a.emu.clientId,
        clientSecret: a.emu.clientSecret,
        certPem: a.emu.certPem,
        app: a.emu.applicationObjectId,
      };
      await a.emu.close();
      assert.equal(((await stat(statePath)).mode & 0o777).toString(8), '600');

      const b = await harness({ statePath });
      try {
        assert.deepEqual(
          {
            tenantId: b.emu.tenantId,
            clientId: b.emu.clientId,
            clientSecret: b.emu.clientSecret,
            certPem: b.emu.certPem,
            app: b.emu.applicationObjectId,
          },
          before,
        );
        assert.equal(b.emu.initialDomain, 'persist.onmicrosoft.com');
        assert.equal((await b.get(`/users/${u}`)).status, 200);
        assert.deepEqual(
          (await b.get(`/groups/${g}/members?$select=id`)).body.value.map((m: { id: string }) => m.id),
          [u],
        );
        assert.deepEqual(
          (await b.get(`/users?$filter=${encodeURIComponent(`${ext} eq 'K1'`)}&$select=id`)).body.value,
          [{ id: u }],
        );
        assert.equal((await b.get(`/directory/deletedItems/${gone}`)).status, 200);
        // The change log's tail is saved: a delta link outlives the process that issued it (nothing changed since).
        const kept = await b.get(deltaLink.replace(/^https:\/\/127\.0\.0\.1:\d+/, b.emu.url));
        assert.equal(kept.status, 200);
        assert.deepEqual(kept.body.value, []);
      } finally {
        await b.emu.close();
      }
      // A state file without the log's tail (an older format): its delta tokens get Graph's 410 reset + Location.
      const saved = JSON.parse(await readFile(statePath, 'utf8')) as Record<string, unknown>;
      delete saved['log'];
      await writeFile(statePath, JSON.stringify(saved));
      const c = await harness({ statePath });
      try {
        const stale = await c.get(deltaLink.replace(/^https:\/\/127\.0\.0\.1:\d+/, c.emu.url));
        assert.equal(stale.status, 410);
        assert.match(stale.headers.get('location') ?? '', /\/v1\.0\/users\/delta\?\$deltatoken=$/);
      } finally {
        await c.emu.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
