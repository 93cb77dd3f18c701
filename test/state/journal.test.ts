/**
 * The pieces behind `state:` for apply (issue 15), each on its own: the journal in a backend (Azurite with
 * append blobs, and a local directory through the rewrite path), the lock wait (--lock-timeout) on a manual
 * clock, and the lease renewal on an injected timer (nothing sleeps).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import type { Change } from '../../src/model/change.js';
import { AdsyncError } from '../../src/errors.js';
import { AzureBlobState, type Every } from '../../src/state/azure-blob.js';
import type { StateBackend } from '../../src/state/backend.js';
import { LocalState } from '../../src/state/local.js';
import { BackendJournal, journalName } from '../../src/state/journal.js';
import { unlockLocal } from '../../src/state/unlock.js';
import { stateDirOf } from '../../src/cli/locked.js';
import { parseDuration, waitForLock } from '../../src/state/wait.js';
import { pipelineRunUrl } from '../../src/state/holder.js';
import { ManualClock, settle } from '../support/clock.js';
import { startAzurite, type Azurite } from '../support/azurite.js';

const change = (anchor: string): Change => ({
  action: 'create',
  kind: 'group',
  anchor,
  target: 'entra',
  label: anchor,
  rule: 'r',
  attributes: [],
});
const holder = (runId: string) => ({ runId, host: hostname(), pid: process.pid, command: `adsync apply (${runId})` });

let azurite: Azurite;
let service: BlobServiceClient;
const dirs: string[] = [];
before(async () => {
  azurite = await startAzurite();
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
});
after(async () => {
  await azurite?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const backends: [string, () => Promise<StateBackend>][] = [
  ['azureBlob (append blobs)', async () => new AzureBlobState(service.getContainerClient('journals'), randomUUID())],
  [
    'local directory (whole rewrites)',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'adsync-journal-'));
      dirs.push(dir);
      return new LocalState(dir);
    },
  ],
];

for (const [kind, make] of backends) {
  describe(`the apply journal in a backend: ${kind}`, () => {
    test('what a run recorded is there for the next run (from anywhere that reads the backend)', async () => {
      const s = await make();
      const j1 = await BackendJournal.open(s, 'p1', null, undefined, { batchMs: 0 });
      assert.equal(j1.state.resumed, false);
      await j1.begin(3, null);
      j1.record({ change: change('A'), outcome: 'applied', id: 'id-a' }, 'create group A');
      j1.record({ change: change('B'), outcome: 'failed' }, 'create group B');
      await j1.close();
      const j2 = await BackendJournal.open(s, 'p1', null);
      assert.equal(j2.state.resumed, true);
      assert.deepEqual([...j2.state.done], ['create group A']);
      assert.equal(j2.state.createdIds.get('A'), 'id-a');
      assert.equal((await BackendJournal.open(s, 'p2', null)).state.resumed, false, 'keyed by plan digest');
    });

    test('a run killed before its batch was appended still left its segment: the next run resumes', async () => {
      const s = await make();
      const j = await BackendJournal.open(s, 'p1', null, undefined, { batchMs: 60_000 });
      await j.begin(2, null); // stored before the first write
      j.record({ change: change('A'), outcome: 'applied', id: 'id-a' }, 'create group A'); // never appended
      const next = await BackendJournal.open(s, 'p1', null);
      assert.equal(next.state.resumed, true);
      assert.equal(next.state.done.size, 0);
    });

    test('two runs extending the same journal: the second is refused at begin, before any write', async () => {
      const s = await make();
      const a = await BackendJournal.open(s, 'p1', null);
      const b = await BackendJournal.open(s, 'p1', null);
      await a.begin(1, null);
      const err = await b.begin(1, null).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof AdsyncError, String(err));
      assert.equal(err.code, 'journal_write');
      assert.match(err.message, /changed since it was read/);
      // And once it failed, it stays failed: a record throws rather than losing lines.
      assert.throws(() => b.record({ change: change('A'), outcome: 'applied' }, 'create group A'), /journal/);
      // After the first run appended more, the second can't append over that version either.
      a.record({ change: change('A'), outcome: 'applied', id: 'id-a' }, 'create group A');
      await a.close();
      assert.deepEqual([...(await BackendJournal.open(s, 'p1', null)).state.done], ['create group A']);
    });

    test('complete marks the plan done and forgets the journals of other plans', async () => {
      const s = await make();
      const other = await BackendJournal.open(s, 'p0', null);
      await other.begin(1, null);
      await other.close();
      const j = await BackendJournal.open(s, 'p1', null);
      await j.begin(1, null);
      j.record({ change: change('A'), outcome: 'applied' }, 'create group A');
      await j.complete();
      assert.equal((await BackendJournal.open(s, 'p1', null)).state.complete, true);
      assert.equal(await s.read(journalName('p0')), undefined);
      assert.deepEqual(await s.list!('journal-'), [journalName('p1')]);
    });
  });
}

describe('the journal stops when the apply lock is lost', () => {
  test('a record after the lease was broken throws state_lock_lost', async () => {
    const every = manualEvery();
    const s = new AzureBlobState(service.getContainerClient('journals'), randomUUID(), {
      leaseSeconds: 15,
      renewEveryMs: 5_000,
      every: every.every,
    });
    const lock = await s.acquireLock(holder('run-a'));
    const j = await BackendJournal.open(s, 'p1', null, lock);
    await j.begin(2, null);
    j.record({ change: change('A'), outcome: 'applied' }, 'create group A');
    await s.breakLock({ runId: 'run-a' });
    await every.fire();
    // The renewal is a request: wait until it has failed (observed, not timed).
    await until(() => {
      try {
        lock.assertHeld();
        return false;
      } catch {
        return true;
      }
    });
    assert.throws(
      () => j.record({ change: change('B'), outcome: 'applied' }, 'create group B'),
      (e: unknown) => (e as AdsyncError).code === 'state_lock_lost',
    );
    await j.close();
    await lock.release();
  });
});

/** A renewal timer the test fires by hand. */
function manualEvery(): { every: Every; fire(): Promise<void>; armed: () => number } {
  const fns = new Set<() => void>();
  return {
    every: (_ms, fn) => {
      fns.add(fn);
      return () => fns.delete(fn);
    },
    async fire() {
      for (const fn of fns) fn();
      await settle();
    },
    armed: () => fns.size,
  };
}

describe('lease renewal on an injected timer', () => {
  test('renews exactly when the timer fires, and stops when released', async () => {
    const every = manualEvery();
    const s = new AzureBlobState(service.getContainerClient('journals'), randomUUID(), {
      leaseSeconds: 15,
      renewEveryMs: 5_000,
      every: every.every,
    });
    const lock = await s.acquireLock(holder('run-a'));
    assert.equal(every.armed(), 1);
    assert.equal(lock.renewals, 0, 'nothing renews on its own');
    for (let n = 1; n <= 3; n++) {
      await every.fire();
      await until(() => lock.renewals === n);
    }
    lock.assertHeld();
    assert.equal((await s.lockStatus()).leaseState, 'leased');
    await lock.release();
    assert.equal(every.armed(), 0, 'the timer is stopped');
    assert.equal((await s.lockStatus()).leaseState, 'available');
  });
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), 'condition reached');
}

describe('--lock-timeout: waiting for the lock on a manual clock', () => {
  const locked = () => new AdsyncError('state_locked', 'the state lock in X is held by run r1', { hint: 'h' });

  test('0: one attempt, the holder named at once', async () => {
    const clock = new ManualClock();
    let attempts = 0;
    await assert.rejects(
      waitForLock(
        () => {
          attempts++;
          throw locked();
        },
        { timeoutMs: 0, clock },
      ),
      /held by run r1$/,
    );
    assert.equal(attempts, 1);
  });

  test('waits, polling, and takes the lock once it is free', async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const waits: string[] = [];
    const got = waitForLock(
      () => {
        attempts++;
        if (attempts < 3) throw locked();
        return 'lock';
      },
      { timeoutMs: 60_000, pollMs: 5_000, clock, onWait: (e) => waits.push(e.message) },
    );
    await settle();
    assert.deepEqual(clock.sleeping, [5_000]);
    await clock.advance(5_000);
    await clock.advance(5_000);
    assert.equal(await got, 'lock');
    assert.equal(attempts, 3);
    assert.deepEqual(waits, ['the state lock in X is held by run r1'], 'said once that it waits');
  });

  test('gives up at the deadline, still naming the holder; other errors are not waited on', async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const got = waitForLock(
      () => {
        attempts++;
        throw locked();
      },
      { timeoutMs: 12_000, pollMs: 5_000, clock },
    ).then(
      () => undefined,
      (e: unknown) => e as AdsyncError,
    );
    await settle();
    await clock.advance(5_000);
    await clock.advance(5_000);
    assert.deepEqual(clock.sleeping, [2_000], 'the last sleep ends at the deadline');
    await clock.advance(2_000);
    const err = await got;
    assert.equal(attempts, 4);
    assert.equal(err?.code, 'state_locked');
    assert.match(err?.message ?? '', /held by run r1; gave up after waiting 12 s/);
    await assert.rejects(
      waitForLock(
        () => {
          throw new AdsyncError('state_unavailable', 'down');
        },
        { timeoutMs: 60_000, clock },
      ),
      /down/,
    );
  });

  test('durations', () => {
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('90'), 90_000);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('soon'), undefined);
  });
});

describe('the holder names its pipeline run', () => {
  test('GitHub Actions and Azure Pipelines run URLs; none elsewhere', () => {
    assert.equal(
      pipelineRunUrl({
        GITHUB_SERVER_URL: 'https://github.com',
        GITHUB_REPOSITORY: 'corp/identity',
        GITHUB_RUN_ID: '42',
        GITHUB_RUN_ATTEMPT: '2',
      }),
      'https://github.com/corp/identity/actions/runs/42/attempts/2',
    );
    assert.equal(
      pipelineRunUrl({
        SYSTEM_COLLECTIONURI: 'https://dev.azure.com/corp/',
        SYSTEM_TEAMPROJECT: 'Identity Sync',
        BUILD_BUILDID: '7',
      }),
      'https://dev.azure.com/corp/Identity%20Sync/_build/results?buildId=7',
    );
    assert.equal(pipelineRunUrl({}), undefined);
  });
});

describe('unlock of a local apply lock', () => {
  test('refused unless the run is named, and while its process runs here; frees a gone run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adsync-unlock-'));
    dirs.push(dir);
    const lock = join(dir, 'apply-tenant.lock');
    const owner = (pid: number, runId: string) =>
      JSON.stringify({ pid, host: hostname(), since: '2026-01-01T00:00:00.000Z', command: 'adsync apply', runId });
    assert.throws(() => unlockLocal(dir, 'r1'), /no apply lock in .* is held/);
    await writeFile(lock, owner(process.pid, 'r-live'));
    assert.throws(() => unlockLocal(dir, 'r-other'), /not held by run r-other|held by run r-other; held: run r-live/);
    assert.throws(() => unlockLocal(dir, 'r-live'), /is still running on this host/);
    await writeFile(lock, owner(2 ** 22 + 4321, 'r-gone'));
    const done = unlockLocal(dir, 'r-gone');
    assert.match(done.holder, /^run r-gone \(pid 4198625 on /);
    assert.deepEqual(await new LocalState(dir).list('apply-'), []);
  });
});

describe('where the local apply lock and journal live', () => {
  test('state.local.dir (relative to the spec), else $ADSYNC_STATE_DIR, else .adsync/; the embedded tenant keeps its own', () => {
    const spec = { dir: '/repo/sync', target: {} };
    const saved = process.env['ADSYNC_STATE_DIR'];
    try {
      delete process.env['ADSYNC_STATE_DIR'];
      assert.equal(stateDirOf(spec), '/repo/sync/.adsync');
      process.env['ADSYNC_STATE_DIR'] = '/var/lib/adsync';
      assert.equal(stateDirOf(spec), '/var/lib/adsync');
      assert.equal(stateDirOf({ ...spec, state: { local: { dir: '../state' } } }), '/repo/state');
      assert.equal(stateDirOf({ ...spec, target: { emulator: { state: './t/tenant.json' } } }), '/repo/sync/t');
    } finally {
      if (saved === undefined) delete process.env['ADSYNC_STATE_DIR'];
      else process.env['ADSYNC_STATE_DIR'] = saved;
    }
  });
});
