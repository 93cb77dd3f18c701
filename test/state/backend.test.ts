/**
 * The state backends' contract, run against both: LocalState (a temp directory) and AzureBlobState (Azurite,
 * started here on 127.0.0.1). Conditional writes, the lock between two holders, unlock naming the holder.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { spawn, spawnSync } from 'node:child_process';
import { processAlive } from '../../src/apply/lock.js';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { LocalState } from '../../src/state/local.js';
import { AzureBlobState } from '../../src/state/azure-blob.js';
import { StateConflictError, StateLockedError, StateUnlockRefusedError } from '../../src/state/backend.js';
import type { StateBackend } from '../../src/state/backend.js';
import { openState } from '../../src/state/open.js';
import { parseSpec } from '../../src/spec/load.js';
import { AZURITE_KEY, startAzurite } from '../support/azurite.js';
import type { Azurite } from '../support/azurite.js';

const holder = (runId: string) => ({ runId, host: hostname(), pid: process.pid, command: `adsync apply (${runId})` });

/**
 * Polls until `check` holds: waits on an observed state, never on a timing threshold. Stops when the test
 * is cancelled (its timeout), so a broken feature fails the test instead of hanging the run.
 */
async function until(signal: AbortSignal, check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) {
    signal.throwIfAborted();
    await new Promise((r) => setTimeout(r, 100));
  }
}

function contract(kind: string, make: () => Promise<StateBackend>): void {
  describe(`${kind} state backend`, () => {
    test('round trip: absent, create-only, read back with its ETag, then a write over that ETag', async () => {
      const s = await make();
      assert.equal(await s.read('snapshot'), undefined);
      const e1 = await s.write('snapshot', Buffer.from('v1'), { ifNoneMatch: '*' });
      const r1 = await s.read('snapshot');
      assert.deepEqual(r1, { bytes: Buffer.from('v1'), etag: e1 });
      const e2 = await s.write('snapshot', Buffer.from('v2 ✓'), { ifMatch: e1 });
      assert.notEqual(e2, e1);
      assert.deepEqual(await s.read('snapshot'), { bytes: Buffer.from('v2 ✓'), etag: e2 });
      // Unconditional writes are last-writer-wins.
      await s.write('snapshot', Buffer.from('v3'));
      assert.equal((await s.read('snapshot'))?.bytes.toString(), 'v3');
    });

    test('conditional writes: two writers of the same version, exactly one wins; create-only on an existing name loses', async () => {
      const s = await make();
      const e0 = await s.write('journal', Buffer.from('base'), { ifNoneMatch: '*' });
      const results = await Promise.allSettled([
        s.write('journal', Buffer.from('from A'), { ifMatch: e0 }),
        s.write('journal', Buffer.from('from B'), { ifMatch: e0 }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1, 'exactly one writer wins');
      assert.equal(lost.length, 1);
      assert.ok(lost[0]!.reason instanceof StateConflictError, String(lost[0]!.reason));
      assert.equal(lost[0]!.reason.code, 'state_conflict');
      assert.ok(lost[0]!.reason.hint);
      const winner = results[0].status === 'fulfilled' ? 'from A' : 'from B';
      assert.equal((await s.read('journal'))?.bytes.toString(), winner);
      // A stale ETag, and create-only over an existing state, are both refused and change nothing.
      await assert.rejects(s.write('journal', Buffer.from('stale'), { ifMatch: e0 }), StateConflictError);
      await assert.rejects(s.write('journal', Buffer.from('again'), { ifNoneMatch: '*' }), StateConflictError);
      assert.equal((await s.read('journal'))?.bytes.toString(), winner);
    });

    test('state names cannot leave the directory or prefix', async () => {
      const s = await make();
      await assert.rejects(s.write('../escape', Buffer.from('x')), /invalid state name/);
      await assert.rejects(s.read('a/b'), /invalid state name/);
      // Nor be named like the lock (which starts with '.').
      await assert.rejects(s.write('.lock', Buffer.from('x')), /invalid state name/);
    });

    test('the lock between two holders: the second is refused with the holder named; after release it succeeds', async () => {
      const s = await make();
      assert.equal(await s.describeHolder(), undefined);
      const a = await s.acquireLock(holder('run-a'));
      assert.equal((await s.describeHolder())?.runId, 'run-a');
      const refused = await s.acquireLock(holder('run-b')).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(refused instanceof StateLockedError, String(refused));
      assert.equal(refused.holder?.runId, 'run-a');
      assert.match(refused.message, /held by run run-a \(pid \d+ on /);
      assert.match(refused.hint ?? '', /adsync unlock run-a/);
      a.assertHeld();
      await a.release();
      assert.equal(await s.describeHolder(), undefined);
      const b = await s.acquireLock(holder('run-b'));
      assert.equal((await s.describeHolder())?.runId, 'run-b');
      await b.release();
    });

    test('breakLock naming the wrong holder is refused and the lock stays; naming the holder frees it', async () => {
      const s = await make();
      const a = await s.acquireLock(holder('run-a'));
      const refused = await s.breakLock({ runId: 'run-x' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(refused instanceof StateUnlockRefusedError, String(refused));
      assert.match((refused as Error).message, /held by run run-a .*not run run-x/);
      assert.equal((await s.describeHolder())?.runId, 'run-a');
      await assert.rejects(s.acquireLock(holder('run-b')), StateLockedError);
      await s.breakLock({ runId: 'run-a' });
      const b = await s.acquireLock(holder('run-b'));
      assert.equal((await s.describeHolder())?.runId, 'run-b');
      // The broken holder's release must not free the new holder's lock.
      await a.release();
      assert.equal((await s.describeHolder())?.runId, 'run-b');
      await b.release();
      await assert.rejects(s.breakLock({ runId: 'run-b' }), /nobody holds it/);
    });
  });
}

const tmpDirs: string[] = [];
after(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

contract('local', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'adsync-state-'));
  tmpDirs.push(dir);
  return new LocalState(join(dir, '.adsync'));
});

describe('local conditional writes across processes', () => {
  test('four processes write over the same version at once: exactly one wins, the others get state_conflict', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adsync-state-'));
    tmpDirs.push(dir);
    const s = new LocalState(dir);
    const e0 = await s.write('snapshot', Buffer.from('base'), { ifNoneMatch: '*' });
    const local = new URL('../../src/state/local.js', import.meta.url).href;
    const script = `const { LocalState } = await import(${JSON.stringify(local)});
      try { await new LocalState(process.argv[1]).write('snapshot', Buffer.from(process.argv[2]), { ifMatch: process.argv[3] }); console.log('won'); }
      catch (e) { console.log(e.code); }`;
    const run = (who: string) =>
      new Promise<string>((ok) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir, who, e0], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        child.on('exit', () => ok(out.trim()));
      });
    const outcomes = await Promise.all(['w1', 'w2', 'w3', 'w4'].map(run));
    assert.equal(outcomes.filter((o) => o === 'won').length, 1, outcomes.join(','));
    assert.equal(outcomes.filter((o) => o === 'state_conflict').length, 3, outcomes.join(','));
    const winner = ['w1', 'w2', 'w3', 'w4'][outcomes.indexOf('won')];
    assert.equal((await s.read('snapshot'))?.bytes.toString(), winner);
  });
});

describe('local lock holders that are gone', () => {
  const deadPid = (): number => {
    // A pid that was just ours to see exit: not running any more.
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    return Number(r.stdout);
  };
  test('a holder that died on this host is taken over; one on another host is refused and named', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adsync-state-'));
    tmpDirs.push(dir);
    const s = new LocalState(dir);
    const pid = deadPid();
    assert.ok(!processAlive(pid));
    await writeFile(
      join(dir, '.lock'),
      JSON.stringify({ runId: 'run-dead', host: hostname(), pid, command: 'adsync apply' }),
    );
    const taken = await s.acquireLock(holder('run-new'));
    assert.equal((await s.describeHolder())?.runId, 'run-new');
    await taken.release();
    await writeFile(
      join(dir, '.lock'),
      JSON.stringify({ runId: 'run-far', host: `not-${hostname()}`, pid, command: 'adsync apply' }),
    );
    const refused = await s.acquireLock(holder('run-new')).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(refused instanceof StateLockedError);
    assert.match(refused.message, /run run-far \(pid \d+ on not-/);
  });
});

let azurite: Azurite;
let service: BlobServiceClient;
before(async () => {
  azurite = await startAzurite();
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
});
after(async () => {
  await azurite?.stop();
});

const azure = (options: ConstructorParameters<typeof AzureBlobState>[2] = {}) =>
  new AzureBlobState(service.getContainerClient('adsync-state'), `tests/${randomUUID()}`, options);

contract('azureBlob', async () => azure());

describe('azureBlob lease', () => {
  test(
    'a held lease is renewed while held: observed renewals, the lease stays leased (fixed) and others are refused',
    { timeout: 30_000 },
    async (t) => {
      const s = azure({ leaseSeconds: 15, renewEveryMs: 200 });
      const a = await s.acquireLock(holder('run-a'));
      await until(t.signal, () => a.renewals >= 3);
      a.assertHeld();
      const status = await s.lockStatus();
      assert.equal(status.leaseState, 'leased');
      assert.equal(status.leaseDuration, 'fixed');
      assert.equal(status.holder?.runId, 'run-a');
      await assert.rejects(s.acquireLock(holder('run-b')), StateLockedError);
      await a.release();
      assert.equal((await s.lockStatus()).leaseState, 'available');
    },
  );

  test('a broken lease is noticed by its holder at the next renewal', { timeout: 30_000 }, async (t) => {
    const s = azure({ leaseSeconds: 15, renewEveryMs: 200 });
    const a = await s.acquireLock(holder('run-a'));
    await s.breakLock({ runId: 'run-a' });
    await until(t.signal, () => {
      try {
        a.assertHeld();
        return false;
      } catch (e) {
        return (e as { code?: string }).code === 'state_lock_lost';
      }
    });
    await a.release();
  });

  test(
    'a holder that stops renewing (a killed run) loses the lease when it expires; another run then takes it',
    { timeout: 90_000 },
    async (t) => {
      const s = azure({ leaseSeconds: 15, renewEveryMs: 0 });
      await s.acquireLock(holder('run-killed'));
      await assert.rejects(s.acquireLock(holder('run-next')), StateLockedError);
      await until(t.signal, async () => (await s.lockStatus()).leaseState === 'expired');
      assert.equal(await s.describeHolder(), undefined);
      const next = await s.acquireLock(holder('run-next'));
      assert.equal((await s.describeHolder())?.runId, 'run-next');
      await next.release();
    },
  );
});

describe('azureBlob from a spec', () => {
  const specText = (prefix: string) => `version: 1
sources:
  - name: corp
    ldif: { path: ./corp.ldif }
target:
  emulator: { state: ./state.json }
state:
  azureBlob:
    accountUrl: ${azurite.accountUrl}
    container: adsync-spec
    prefix: ${prefix}
    connectionString: { env: ADSYNC_TEST_STATE_CS }
`;

  test('the connection string comes from the environment; an unset variable is named with a hint', async () => {
    const spec = parseSpec(specText('p1'), join(tmpdir(), 'adsync.yaml'));
    const err = await openState(spec, { env: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal((err as { code?: string }).code, 'state_credential_missing');
    assert.match((err as Error).message, /environment variable ADSYNC_TEST_STATE_CS is not set/);
    const s = await openState(spec, { env: { ADSYNC_TEST_STATE_CS: azurite.connectionString } });
    await s.write('snapshot', Buffer.from('hello'), { ifNoneMatch: '*' });
    assert.equal((await s.read('snapshot'))?.bytes.toString(), 'hello');
    assert.equal(s.location, `${azurite.accountUrl}/adsync-spec/p1`);
  });

  test('no secret: the account key is in no blob, no metadata, no location and no error message', async () => {
    const prefix = `secret-${randomUUID()}`;
    const spec = parseSpec(specText(prefix), join(tmpdir(), 'adsync.yaml'));
    const s = await openState(spec, { env: { ADSYNC_TEST_STATE_CS: azurite.connectionString } });
    const texts: string[] = [s.location];
    const keep = (e: unknown) => {
      const err = e as Error & { hint?: string; cause?: unknown };
      texts.push(
        String(err),
        err.message,
        err.stack ?? '',
        err.hint ?? '',
        JSON.stringify(err),
        String(err.cause ?? ''),
      );
    };
    const e1 = await s.write('snapshot', Buffer.from('state'), { ifNoneMatch: '*' });
    await s.write('snapshot', Buffer.from('again'), { ifNoneMatch: '*' }).catch(keep);
    await s.write('snapshot', Buffer.from('stale'), { ifMatch: `"0x0"` }).catch(keep);
    await s.write('snapshot', Buffer.from('next'), { ifMatch: e1 });
    const lock = await s.acquireLock(holder('run-secret'));
    await s.acquireLock(holder('run-other')).catch(keep);
    await s.breakLock({ runId: 'run-other' }).catch(keep);
    // A wrong key: the service refuses (403); the error names neither key.
    const wrongKey = Buffer.from(randomUUID().repeat(2)).toString('base64');
    const wrong = await openState(spec, {
      env: { ADSYNC_TEST_STATE_CS: azurite.connectionString.replace(AZURITE_KEY, wrongKey) },
    });
    await wrong.read('snapshot').catch(keep);
    await wrong.write('snapshot', Buffer.from('x')).catch(keep);
    await wrong.acquireLock(holder('run-wrong')).catch(keep);
    // A malformed connection string.
    await openState(spec, {
      env: { ADSYNC_TEST_STATE_CS: `AccountName=devstoreaccount1;AccountKey=${AZURITE_KEY}` },
    }).catch(keep);
    assert.ok(texts.length >= 8 * 6, `every refusal above was an error (${texts.length})`);
    assert.ok(
      texts.some((t) => /state_unavailable|AuthorizationFailure|403/.test(t)),
      'the wrong key was refused',
    );
    // Everything stored under the prefix: content and metadata.
    const container = service.getContainerClient('adsync-spec');
    for await (const item of container.listBlobsFlat({ prefix, includeMetadata: true })) {
      texts.push(item.name, JSON.stringify(item.metadata ?? {}));
      for (const v of Object.values(item.metadata ?? {})) texts.push(Buffer.from(v, 'base64').toString('utf8'));
      texts.push((await container.getBlobClient(item.name).downloadToBuffer()).toString('latin1'));
    }
    await lock.release();
    const all = texts.join('\n');
    for (const secret of [AZURITE_KEY, wrongKey, 'AccountKey'])
      assert.ok(!all.includes(secret), `${secret.slice(0, 6)}… leaked`);
    assert.ok(
      texts.some((x) => x.startsWith('{"runId":"run-secret"')),
      'the holder was recorded (the listing saw the lock blob)',
    );
  });
});
