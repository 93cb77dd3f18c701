/**
 * `state: { azureBlob }` end to end (issue 15): the CLI against the Graph emulator (a real tenant to it, in this
 * process, so it outlives a killed CLI) with its state in Azurite (started here). Two working directories stand
 * for two pipeline runners: each has its own copy of the repository (spec, LDIF, saved plan) and shares only
 * the blob state.
 *
 *  - a killed apply (SIGKILL right after N writes reached the tenant) is resumed from the second directory,
 *    once `adsync unlock` naming its run frees the lease, converging with no duplicate create;
 *  - two concurrent applies: the second is refused naming the holder (run, pid, host, since), a third waits
 *    (--lock-timeout) and goes on when the first is done; the lease is taken before the tenant is reached, so
 *    the holder can be frozen by the tenant meanwhile; plan warns while an apply holds the lease;
 *  - SIGTERM before any write releases the lease at once;
 *  - nothing in the state (blob content or metadata) holds the client secret or a token.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { generateForest } from '../../bench/lib/forest.js';
import type { FreezePoint } from '../../src/emulator/tap.js';
import type { Change } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { AzureBlobState } from '../../src/state/azure-blob.js';
import { BIN, runCli } from '../support/cli.js';
import { startAzurite, type Azurite } from '../support/azurite.js';
import { assertNoSecrets, startTenant, type Tenant } from '../support/tenant.js';

const CS_ENV = 'ADSYNC_TEST_STATE_CS';
const CONTAINER = 'adsync-runners';

let azurite: Azurite;
let service: BlobServiceClient;
before(async () => {
  azurite = await startAzurite();
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
});
after(async () => {
  await azurite?.stop();
});

const stateYaml = (prefix: string): string => `state:
  azureBlob:
    accountUrl: ${azurite.accountUrl}
    container: ${CONTAINER}
    prefix: ${prefix}
    connectionString: { env: ${CS_ENV} }
`;

interface Child {
  proc: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stderr has a JSON log line with this event. */
  event(name: string): Promise<Record<string, unknown>>;
}

/** The CLI as a child process whose output can be watched while it runs. */
function spawnCli(args: string[], cwd: string, env: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { name: string; resolve: (e: Record<string, unknown>) => void }[] = [];
  const events = (): Record<string, unknown>[] =>
    stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const check = (): void => {
    for (const w of [...waiters]) {
      const e = events().find((x) => x['event'] === w.name);
      if (e) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  };
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    check();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    stderr: () => stderr,
    stdout: () => stdout,
    done,
    event: (name) =>
      new Promise((resolve, reject) => {
        waiters.push({ name, resolve });
        check();
        void done.then(() => reject(new Error(`adsync ${args.join(' ')} exited before event ${name}:\n${stderr}`)));
      }),
  };
}

/** Waits for an observed condition (never a time): polls the child's output. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 50));
}

/** Every blob under the prefix, content and metadata, as text for the secret scan. */
async function stateTexts(prefix: string): Promise<{ names: string[]; texts: string[] }> {
  const container = service.getContainerClient(CONTAINER);
  const names: string[] = [];
  const texts: string[] = [];
  for await (const item of container.listBlobsFlat({ prefix: `${prefix}/`, includeMetadata: true })) {
    names.push(item.name.slice(prefix.length + 1));
    texts.push(item.name, JSON.stringify(item.metadata ?? {}));
    for (const v of Object.values(item.metadata ?? {})) texts.push(Buffer.from(v, 'base64').toString('utf8'));
    texts.push((await container.getBlobClient(item.name).downloadToBuffer()).toString('latin1'));
  }
  return { names, texts };
}

/** A second runner: the same repository files in another directory. */
async function cloneRunner(from: string, files: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'adsync-runner-b-'));
  for (const f of files) await copyFile(join(from, f), join(dir, f));
  return dir;
}

describe('a killed apply resumed from a second working directory through azureBlob state', { timeout: 900_000 }, () => {
  let dirA: string;
  let dirB: string;
  let t: Tenant;
  const prefix = `resume-${randomUUID()}`;

  before(async () => {
    dirA = await mkdtemp(join(tmpdir(), 'adsync-runner-a-'));
    t = await startTenant(dirA);
    await writeFile(
      join(dirA, 'forest.ldif'),
      generateForest({ users: 240, groups: 20, memberships: 600, seed: 15 }).ldif,
    );
    await t.writeSpec({ ldif: 'forest.ldif', extra: stateYaml(prefix) });
  });
  after(async () => {
    await t.close(); // also scans dirA for secrets
    await rm(dirA, { recursive: true, force: true });
    if (dirB) await rm(dirB, { recursive: true, force: true });
  });

  it('refuses while the killed run holds the lease, unlocks naming it, resumes and converges with no duplicate', async () => {
    const env = { ...t.env, [CS_ENV]: azurite.connectionString };
    const made = await t.cli(['plan', '-c', t.spec, '--out', 'plan.json', '--format', 'json'], { env });
    assert.equal(made.code, 0, made.stderr);
    const plan = JSON.parse(await readFile(join(dirA, 'plan.json'), 'utf8')) as Plan;
    const creates = plan.changes.filter((c): c is Extract<Change, { action: 'create' }> => c.action === 'create');
    assert.ok(creates.length >= 250, `${creates.length} creates`);
    dirB = await cloneRunner(dirA, ['adsync.yaml', 'forest.ldif', 'ca.pem', 'plan.json']);

    // Runner A: killed right after 60 writes reached the tenant.
    const a = spawnCli(['apply', '-c', 'adsync.yaml', 'plan.json', '--log-format', 'json'], dirA, {
      ...env,
      ADSYNC_RUN_ID: 'run-a',
    });
    const point: FreezePoint = { writes: 60 };
    await t.emu.freezeAfter(point);
    a.proc.kill('SIGKILL');
    const ended = await a.done;
    t.emu.unfreeze();
    assert.equal(ended.signal, 'SIGKILL');
    const acquired = (await a.event('lock.acquired').catch(() => undefined)) as { runId?: string } | undefined;
    assert.equal(acquired?.runId, 'run-a', 'runner A took the lease');
    const writesByA = t.emu.writes();
    assert.ok(writesByA >= 60, `${writesByA}`);

    // Runner B, while A's lease still runs: refused, naming A (who, where, since).
    const refused = await runCli(['apply', '-c', 'adsync.yaml', 'plan.json'], { cwd: dirB, env });
    assertNoSecrets(refused.stdout + refused.stderr, 'refused apply');
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        `the state lock in ${azurite.accountUrl}/${CONTAINER}/${prefix} is held by run run-a \\(pid ${a.proc.pid} on ${hostname()} since \\d{4}-\\d\\d-\\d\\dT[^:]+:\\d\\d:\\d\\d`,
      ),
    );
    assert.match(refused.stderr, /adsync unlock run-a/);
    assert.equal(t.emu.writes(), writesByA, 'the refused run wrote nothing');

    // unlock must name the holder.
    const wrong = await runCli(['unlock', 'run-x', '-c', 'adsync.yaml'], { cwd: dirB, env });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /refusing to break the state lock .*held by run run-a .*not run run-x/);
    const unlocked = await runCli(['unlock', 'run-a', '-c', 'adsync.yaml'], { cwd: dirB, env });
    assert.equal(unlocked.code, 0, unlocked.stderr);
    assert.match(unlocked.stdout, /Unlocked .*: the lock held by run run-a \(pid \d+ on .*\) is free/);

    // Runner B resumes A's apply from the journal in the blob state.
    const b = await runCli(['apply', '-c', 'adsync.yaml', 'plan.json', '--log-format', 'json'], {
      cwd: dirB,
      env: { ...env, ADSYNC_RUN_ID: 'run-b' },
      timeoutMs: 180_000,
    });
    assertNoSecrets(b.stdout + b.stderr, 'resumed apply');
    assert.equal(b.code, 0, b.stderr.slice(-3000));
    const resume = b.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event?: string; journal?: string; doneBefore?: number })
      .find((e) => e.event === 'apply.resume');
    assert.ok(resume, `runner B resumed runner A's apply:\n${b.stderr.slice(-2000)}`);
    assert.equal(
      resume.journal,
      `${azurite.accountUrl}/${CONTAINER}/${prefix}/journal-${planDigestOf(b.stderr)}.jsonl`,
    );
    assert.ok(!existsSync(join(dirB, '.adsync', 'journal')), 'no local journal on runner B');

    // The planned tenant: every planned object exactly once.
    const snap = await t.read();
    const anchors = new Map<string, number>();
    for (const o of snap.objects) if (o.anchor !== undefined) anchors.set(o.anchor, (anchors.get(o.anchor) ?? 0) + 1);
    assert.deepEqual(
      [...anchors].filter(([, n]) => n > 1),
      [],
      'no duplicate create',
    );
    for (const c of creates) assert.equal(anchors.get(c.anchor), 1, `${c.label} exists once`);
    const clean = await runCli(['plan', '-c', 'adsync.yaml', '--detailed-exitcode'], { cwd: dirB, env });
    assert.equal(clean.code, 0, `nothing left to do:\n${clean.stdout.slice(-2000)}${clean.stderr}`);
    // Runner A's directory, run again, finds the plan applied (the same journal).
    const again = await t.cli(['apply', '-c', t.spec, 'plan.json'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Nothing left to apply: plan\.json was applied already/);

    // The state: the journal (complete) and the lock blob, and no secret in any of it.
    const { names, texts } = await stateTexts(prefix);
    assert.ok(
      names.some((n) => /^journal-[0-9a-f]{64}\.jsonl$/.test(n)),
      names.join(','),
    );
    assert.ok(names.includes('.lock'), names.join(','));
    for (const [i, text] of texts.entries()) {
      assertNoSecrets(text, `state blob text #${i}`);
      // Nor an access token (a JWT) of any kind.
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./, `state blob text #${i}`);
    }
    assert.ok(texts.some((x) => x.includes('"t":"complete"')));
  });
});

/** The plan digest from the JSON log's apply.start event (journal name), for the assertion above. */
function planDigestOf(stderr: string): string {
  const start = stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event?: string; journal?: string })
    .find((e) => e.event === 'apply.start');
  return /journal-([0-9a-f]{64})\.jsonl$/.exec(start?.journal ?? '')?.[1] ?? '(no apply.start)';
}

describe('the blob lease between concurrent applies', { timeout: 900_000 }, () => {
  let dir: string;
  let dirB: string;
  let t: Tenant;
  const prefix = `lease-${randomUUID()}`;
  let state: AzureBlobState;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-lease-'));
    t = await startTenant(dir);
    await writeFile(join(dir, 'forest.ldif'), generateForest({ users: 60, groups: 6, memberships: 120, seed: 3 }).ldif);
    await t.writeSpec({ ldif: 'forest.ldif', extra: stateYaml(prefix) });
    dirB = await cloneRunner(dir, ['adsync.yaml', 'forest.ldif', 'ca.pem']);
    state = new AzureBlobState(service.getContainerClient(CONTAINER), prefix);
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
    await rm(dirB, { recursive: true, force: true });
  });

  it('SIGTERM before any write releases the lease at once', async () => {
    const env = { ...t.env, [CS_ENV]: azurite.connectionString };
    // How many requests a run makes up to its reads' end: hold the last one, so the run is in its reads. Both read
    // in full (--full): after the plan, an incremental read would make fewer requests and never reach the hold.
    const before = t.emu.requests();
    const p = await t.cli(['plan', '-c', t.spec, '--full'], { env });
    assert.equal(p.code, 0, p.stderr);
    const reads = t.emu.requests() - before;
    const frozen = t.emu.freezeAfter({ requests: reads - 1 });
    const c = spawnCli(['apply', '-c', 'adsync.yaml', '--auto-approve', '--full', '--log-format', 'json'], dir, {
      ...env,
      ADSYNC_RUN_ID: 'run-term',
    });
    await frozen;
    await c.event('lock.acquired');
    assert.equal((await state.lockStatus()).leaseState, 'leased');
    assert.equal((await state.describeHolder())?.runId, 'run-term');
    c.proc.kill('SIGTERM');
    const ended = await c.done;
    t.emu.unfreeze();
    assert.equal(ended.code, 143, c.stderr());
    assert.match(c.stderr(), /Interrupted \(SIGTERM\): apply stopped before any write/);
    const after = await state.lockStatus();
    assert.equal(after.leaseState, 'available', 'released, not left to expire');
    assert.equal(after.holder, undefined);
  });

  it('plan says when an apply holds the lease (here: this test holds it, as a running apply would)', async () => {
    const env = { ...t.env, [CS_ENV]: azurite.connectionString };
    const held = await state.acquireLock({
      runId: 'run-test',
      host: hostname(),
      pid: process.pid,
      command: 'the test',
    });
    try {
      const plan = await runCli(['plan', '-c', 'adsync.yaml'], { cwd: dirB, env });
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stderr, /Warning: an apply is running \(the lock in .* is held by run run-test \(pid \d+ on /);
    } finally {
      await held.release();
    }
  });

  it('a second apply is refused naming the holder; a third waits (--lock-timeout) and goes on after it', async () => {
    const env = { ...t.env, [CS_ENV]: azurite.connectionString };
    // The holder: frozen by the tenant right after its 5th write, its lease renewed in the meantime.
    const frozen = t.emu.freezeAfter({ writes: 5 });
    const holder = spawnCli(['apply', '-c', 'adsync.yaml', '--auto-approve', '--log-format', 'json'], dir, {
      ...env,
      ADSYNC_RUN_ID: 'run-holder',
    });
    await frozen;
    try {
      const refused = await runCli(['apply', '-c', 'adsync.yaml', '--auto-approve', '--json'], { cwd: dirB, env });
      assert.equal(refused.code, 1, refused.stderr);
      const err = (JSON.parse(refused.stdout) as { error: { code: string; message: string; hint: string } }).error;
      assert.equal(err.code, 'state_locked');
      assert.match(
        err.message,
        new RegExp(
          `held by run run-holder \\(pid ${holder.proc.pid} on ${hostname()} since \\d{4}-[^:]+:\\d\\d:\\d\\d`,
        ),
      );
      assert.match(err.message, /adsync apply -c adsync\.yaml/);
      assert.match(err.hint, /adsync unlock run-holder/);

      const waiter = spawnCli(
        ['apply', '-c', 'adsync.yaml', '--auto-approve', '--lock-timeout', '10m', '--log-format', 'json'],
        dirB,
        { ...env, ADSYNC_RUN_ID: 'run-waiter' },
      );
      const wait = await waiter.event('lock.wait');
      assert.match(String(wait['message']), /held by run run-holder/);
      assert.equal(waiter.proc.exitCode, null, 'still waiting');
      // The holder goes on (its held requests fail and are retried) and finishes; the waiter then runs.
      t.emu.unfreeze();
      const h = await holder.done;
      assert.ok(h.code === 0 || h.code === 1, `holder exit ${h.code}:\n${holder.stderr().slice(-2000)}`);
      const w = await waiter.done;
      assert.equal(w.code, 0, waiter.stderr().slice(-3000));
      const got = await waiter.event('lock.acquired');
      assert.equal(got['runId'], 'run-waiter');
      assertNoSecrets(waiter.stdout() + waiter.stderr() + holder.stderr(), 'concurrent applies');
    } finally {
      t.emu.unfreeze();
      if (holder.proc.exitCode === null) holder.proc.kill('SIGKILL');
    }
    assert.equal((await state.lockStatus()).leaseState, 'available');
    const clean = await runCli(['plan', '-c', 'adsync.yaml', '--detailed-exitcode'], { cwd: dirB, env });
    assert.equal(clean.code, 0, clean.stdout.slice(-2000));
    const snap = await t.read();
    const anchors = snap.objects.filter((o) => o.anchor !== undefined).map((o) => o.anchor!);
    assert.equal(new Set(anchors).size, anchors.length, 'no duplicate');
  });
});

describe('Ctrl-C while apply writes with azureBlob state', { timeout: 900_000 }, () => {
  let dir: string;
  let dirB: string;
  let t: Tenant;
  const prefix = `sigint-${randomUUID()}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-sigint-'));
    t = await startTenant(dir);
    await writeFile(join(dir, 'forest.ldif'), generateForest({ users: 60, groups: 6, memberships: 120, seed: 4 }).ldif);
    await t.writeSpec({ ldif: 'forest.ldif', extra: stateYaml(prefix) });
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
    if (dirB) await rm(dirB, { recursive: true, force: true });
  });

  it(
    'finishes what is in flight, journals it, releases the lease (exit 130); another runner resumes',
    { timeout: 600_000 },
    async () => {
      const env = { ...t.env, [CS_ENV]: azurite.connectionString };
      const made = await t.cli(['plan', '-c', t.spec, '--out', 'plan.json'], { env });
      assert.equal(made.code, 0, made.stderr);
      dirB = await cloneRunner(dir, ['adsync.yaml', 'forest.ldif', 'ca.pem', 'plan.json']);
      const frozen = t.emu.freezeAfter({ writes: 10 });
      const c = spawnCli(['apply', '-c', 'adsync.yaml', 'plan.json', '--log-format', 'json'], dir, {
        ...env,
        ADSYNC_RUN_ID: 'run-int',
      });
      await frozen;
      c.proc.kill('SIGINT');
      // The requests in flight are held by the frozen tenant: once apply has taken the signal, let them fail,
      // as a dropped connection would.
      await until(() => c.stderr().includes('Interrupted (SIGINT): finishing the requests in flight'));
      t.emu.unfreeze();
      const ended = await c.done;
      assert.equal(ended.code, 130, c.stderr().slice(-2000));
      assert.match(c.stderr(), /interrupted \(SIGINT\): .*the lock is released/);
      const state = new AzureBlobState(service.getContainerClient(CONTAINER), prefix);
      assert.equal((await state.lockStatus()).leaseState, 'available', 'released at the end, not left to expire');

      const b = await runCli(['apply', '-c', 'adsync.yaml', 'plan.json', '--log-format', 'json'], {
        cwd: dirB,
        env: { ...env, ADSYNC_RUN_ID: 'run-b' },
        timeoutMs: 180_000,
      });
      assert.equal(b.code, 0, b.stderr.slice(-3000));
      assert.match(b.stderr, /"event":"apply\.resume"/);
      const anchors = (await t.read()).objects.filter((o) => o.anchor !== undefined).map((o) => o.anchor!);
      assert.equal(new Set(anchors).size, anchors.length, 'no duplicate');
    },
  );
});
