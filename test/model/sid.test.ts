import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { sidToBytes, sidToString } from '../../src/model/sid.js';
import { loadFixtures, startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { connectEmulator, type EntraTarget } from '../../src/connectors/entra/index.js';

describe('SIDs', () => {
  it('reads the well-known Administrators SID (MS-DTYP 2.4.2.2 layout)', () => {
    const bytes = Uint8Array.from([1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 32, 2, 0, 0]);
    assert.equal(sidToString(bytes), 'S-1-5-32-544');
  });

  it('reads a domain SID with a RID, little-endian sub-authorities', () => {
    const bytes = Uint8Array.from([
      1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0xdc, 0xf4, 0xdc, 0x3b, 0x83, 0x3d, 0x2b, 0x46, 0x82, 0x8b, 0xa6, 0x28, 0x51,
      0x04, 0, 0,
    ]);
    assert.equal(sidToString(bytes), 'S-1-5-21-1004336348-1177238915-682003330-1105');
  });

  it('refuses bytes that are not a SID', () => {
    assert.equal(sidToString(Uint8Array.from([1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0])), undefined); // short
    assert.equal(sidToString(Uint8Array.from([2, 0, 0, 0, 0, 0, 0, 5])), undefined); // revision 2
    assert.equal(sidToBytes('S-1-5-not-a-sid'), undefined);
  });

  it('string → bytes → string is the identity (property, seed 20261202)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15 }),
        (authority, subs) => {
          const s = ['S', 1, authority, ...subs].join('-');
          assert.equal(sidToString(sidToBytes(s)!), s);
        },
      ),
      { seed: 20261202, numRuns: 300 },
    );
  });
});

describe('the tenant read says who masters an object', () => {
  let emu: RunningEmulator;
  let target: EntraTarget;
  after(async () => {
    await target?.close();
    await emu?.close();
  });

  it('marks objects Entra Connect masters and carries their onPremisesSecurityIdentifier', async () => {
    const fixture = join(
      fileURLToPath(new URL('../../../', import.meta.url)),
      'examples',
      'emulator-fixtures',
      'entra-connect-tenant.yaml',
    );
    emu = await startEmulator({ initialDomain: 'contoso.onmicrosoft.com', fixture: await loadFixtures([fixture]) });
    target = await connectEmulator(emu, { backoffBaseMs: 50 });
    const { objects } = await target.read({ userProperties: [], groupProperties: [], readMembers: false });
    const by = (name: string) =>
      objects.find((o) => o.attrs['userPrincipalName'] === name || o.attrs['displayName'] === name)!;
    assert.equal(by('alice@contoso.com').syncClientMastered, true);
    assert.equal(by('alice@contoso.com').onPremisesSid, 'S-1-5-21-1004336348-1177238915-682003330-1105');
    assert.equal(by('Finance').syncClientMastered, true);
    assert.equal(by('Finance').onPremisesSid, 'S-1-5-21-1004336348-1177238915-682003330-2201');
    // Converted to cloud authority: no longer mastered by the sync client.
    assert.equal(by('carol@contoso.com').syncClientMastered, undefined);
    assert.equal(by('E3 users').syncClientMastered, undefined);
    // Never part of attrs (flows don't target them; plans stay as they were).
    assert.ok(!('onPremisesSyncEnabled' in by('alice@contoso.com').attrs));
  });
});
