/**
 * A wrong-length anchor read over LDAP is refused, as the LDIF reader refuses it in an export. AD's schema lets
 * mS-DS-ConsistencyGuid hold any octet string, so a 15-byte value is written here on a real Samba DC: every read
 * that would hand the object to the engine (the full read, the read under a base, the read by GUID an incremental
 * fold makes, and `adsync plan`) stops with `ldap_guid_invalid`, naming the object; a correct 16-byte value reads.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Attribute, Change, type Client } from 'ldapts';
import { AdSource } from '../../../src/connectors/ad/index.js';
import type { RunningEmulator } from '../../../src/emulator/index.js';
import { SourceError } from '../../../src/errors.js';
import type { SourceReadRequest } from '../../../src/model/entry.js';
import { runCli } from '../../support/cli.js';
import type { SambaDc } from '../../support/samba.js';
import { sambaEnv, sambaSkipReason, sambaSourceSpec } from '../../support/samba.js';
import { closeSambaCli, openSamba, startCliEmulator } from '../../support/samba-cli.js';
import { addOu, addUser, uniqueSuffix } from '../../support/samba-seed.js';

const skip = await sambaSkipReason();
const EXAMPLE = new URL('../../../../examples/ad-to-entra/adsync.yaml', import.meta.url);

describe('a wrong-length mS-DS-ConsistencyGuid read over LDAP is refused (Samba)', { skip }, () => {
  let dc: SambaDc;
  let admin: Client;
  let emu: RunningEmulator | undefined;
  let dir: string | undefined;
  let root: string;
  let broken: string;
  const sfx = uniqueSuffix();
  const request = (): SourceReadRequest => ({
    attributes: ['cn', 'userprincipalname', 'objectsid'],
    baseDns: [root],
  });
  const source = () => new AdSource(sambaSourceSpec(dc), '/', { env: sambaEnv(dc) });
  const setGuid = (dn: string, bytes: Buffer) =>
    admin.modify(
      dn,
      new Change({
        operation: 'replace',
        modification: new Attribute({ type: 'mS-DS-ConsistencyGuid', values: [bytes] }),
      }),
    );
  const refused = (err: unknown) => {
    assert.ok(err instanceof SourceError, String(err));
    assert.equal(err.code, 'ldap_guid_invalid');
    assert.ok(err.message.toLowerCase().includes(broken.toLowerCase()), err.message);
    assert.match(err.message, /mS-DS-ConsistencyGuid holds 15 bytes; a GUID is 16/);
    return true;
  };

  before(async () => {
    ({ dc, admin } = await openSamba());
    root = await addOu(admin, `adsync-guid-${sfx}`, dc.baseDn);
    await addUser(admin, root, {
      cn: `fine ${sfx}`,
      sam: `fine${sfx}`,
      upn: `fine.${sfx}@contoso.test`,
      enabled: false,
    });
    broken = await addUser(admin, root, {
      cn: `broken ${sfx}`,
      sam: `broken${sfx}`,
      upn: `broken.${sfx}@contoso.test`,
      enabled: false,
    });
    await setGuid(broken, Buffer.alloc(15, 0xab));
  });

  after(async () => {
    await closeSambaCli({ admin, emu, dc, dir });
  });

  it('the DC holds the 15 bytes (the schema sets no length)', async () => {
    const { searchEntries } = await admin.search(broken, {
      scope: 'base',
      attributes: ['mS-DS-ConsistencyGuid'],
      explicitBufferAttributes: ['mS-DS-ConsistencyGuid'],
    });
    const v = searchEntries[0]?.['mS-DS-ConsistencyGuid'];
    assert.ok(Buffer.isBuffer(v) && v.length === 15, String(v));
  });

  it('a full read, a read under a base and a read by GUID all refuse the entry', async () => {
    const src = source();
    try {
      await assert.rejects(src.read(request()), refused);
      await assert.rejects(src.readUnder(request(), [root]), refused);
      const { searchEntries } = await admin.search(broken, {
        scope: 'base',
        attributes: ['objectGUID'],
        explicitBufferAttributes: ['objectGUID'],
      });
      const guid = searchEntries[0]?.['objectGUID'] as Buffer;
      await assert.rejects(src.readByGuid(request(), guid), refused);
    } finally {
      await src.close();
    }
  });

  it('adsync plan stops with the error on one line, exit code 1', async () => {
    const rig = await startCliEmulator(dc, { prefix: 'adsync-guid-', baseDn: root });
    emu = rig.emu;
    dir = rig.dir;
    const spec = join(dir, 'adsync.yaml');
    await writeFile(spec, await readFile(EXAMPLE, 'utf8'));
    const r = await runCli(['plan', '-c', spec], { env: rig.env });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /mS-DS-ConsistencyGuid holds 15 bytes; a GUID is 16/);
    assert.ok(r.stderr.toLowerCase().includes(broken.toLowerCase()), r.stderr);
  });

  it('the same object with a 16-byte value reads', async () => {
    await setGuid(broken, Buffer.alloc(16, 0xab));
    const src = source();
    try {
      const snap = await src.read(request());
      const e = snap.entries.find((x) => x.dn.toLowerCase() === broken.toLowerCase());
      assert.deepEqual(Buffer.from(e?.attrs['ms-ds-consistencyguid']?.[0] as Uint8Array), Buffer.alloc(16, 0xab));
    } finally {
      await src.close();
    }
  });
});
