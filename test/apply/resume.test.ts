/**
 * Resumable, idempotent apply (issue 6): an apply of a saved 2,000-object plan killed (SIGKILL) at 20+
 * points, each time run again, ends in exactly the planned state: every object once, no duplicate anchor,
 * every membership; and a lock keeps two applies against one tenant apart.
 *
 * Kill points are exact, not timed: the in-process emulator freezes (executes and answers nothing more) right
 * after the N-th write reached the tenant, or after the N-th HTTP request of a run (start-up and the reads), and
 * the test then SIGKILLs the CLI. The list of kill points comes from a seeded PRNG (ADSYNC_KILL_SEED, default 1),
 * printed with every failure: the same seed replays the same crashes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateForest } from '../../bench/lib/forest.js';
import { ApplyJournal } from '../../src/apply/journal.js';
import { acquireLock, lockPath } from '../../src/apply/lock.js';
import { planDigest } from '../../src/engine/saved-plan.js';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { FreezePoint } from '../../src/emulator/tap.js';
import type { Change } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';
import { BIN } from '../support/cli.js';
import { assertNoSecrets, startTenant, type Tenant } from '../support/tenant.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface RunOutcome {
  killed: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
  events: { event?: string; [k: string]: unknown }[];
}

/**
 * Runs the CLI with JSON logs; when the emulator freezes at `kill` (if the run gets that far), SIGKILLs it,
 * then lets the emulator serve again.
 */
function runUntil(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  emu: RunningEmulator,
  kill: FreezePoint | undefined,
): Promise<RunOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const killNow = (): void => {
      if (!killed && child.exitCode === null) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    if (kill) void emu.freezeAfter(kill).then(killNow);
    const guard = setTimeout(() => {
      killNow();
      reject(new Error(`adsync ${args.join(' ')} hung\n${stderr}`));
    }, 170_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      emu.unfreeze();
      const events = stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as RunOutcome['events'][number]);
      try {
        assertNoSecrets(stdout, 'stdout of a killed apply');
        assertNoSecrets(stderr, 'stderr (JSON log) of a killed apply');
      } catch (err) {
        reject(err);
        return;
      }
      resolve({ killed, code, stdout, stderr, events });
    });
  });
}

/**
 * The kill points of a seed: 4 during start-up and the reads (after request 0..readRequests-1), 3 at the first
 * write (nothing written), 16 after N writes, the Ns adding up to 85% of the writes the plan needs so that every
 * kill lands before the plan runs out — in an order the seed shuffles.
 */
function killPoints(random: () => number, readRequests: number, writesNeeded: number): FreezePoint[] {
  const weights = Array.from({ length: 16 }, () => 0.2 + random());
  const total = weights.reduce((a, b) => a + b, 0);
  const points: FreezePoint[] = [
    ...Array.from({ length: 4 }, () => ({ requests: Math.floor(random() * readRequests) })),
    ...Array.from({ length: 3 }, () => ({ writes: 0 })),
    ...weights.map((w) => ({ writes: Math.max(1, Math.floor((0.85 * writesNeeded * w) / total)) })),
  ];
  for (let i = points.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [points[i], points[j]] = [points[j]!, points[i]!];
  }
  return points;
}

describe('a killed apply, run again, converges (2,000 objects, 20+ kill points)', () => {
  let dir: string;
  let t: Tenant;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-resume-'));
    t = await startTenant(dir);
    const { ldif, summary } = generateForest({ users: 1800, groups: 200, memberships: 6000, seed: 6 });
    await writeFile(join(dir, 'forest.ldif'), ldif);
    await t.writeSpec({ ldif: 'forest.ldif', scope: `ous: { exclude: ["${summary.serviceAccountsOu}"] }` });
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('ends in the planned state with no duplicates and no lost change', async () => {
    const seed = Number(process.env['ADSYNC_KILL_SEED'] ?? 1);
    const random = prng(seed);
    const initial = await t.read();
    const planFile = join(dir, 'plan.json');
    const requestsBefore = t.emu.requests();
    const made = await t.cli(['plan', '-c', t.spec, '--out', planFile, '--format', 'json']);
    assert.equal(made.code, 0, made.stderr);
    const readRequests = t.emu.requests() - requestsBefore;
    const plan = JSON.parse(await readFile(planFile, 'utf8')) as Plan;
    const creates = plan.changes.filter((c): c is Extract<Change, { action: 'create' }> => c.action === 'create');
    assert.ok(creates.length >= 1900, `a 2,000-object plan (${creates.length} creates)`);
    // A write per create, one per 20 members added (a lower bound: the kill points must land before the end).
    const writesNeeded =
      creates.length +
      plan.changes.reduce((n, c) => n + (c.action === 'add-members' ? Math.ceil(c.members.length / 20) : 0), 0);
    const points = killPoints(random, readRequests, writesNeeded);

    const log: string[] = [];
    let kills = 0;
    let killsDuringWrites = 0;
    let resumes = 0;
    let takeovers = 0;
    const writesBefore = t.emu.writes();
    const replay = (): string =>
      `replay with ADSYNC_KILL_SEED=${seed}; kill points ${JSON.stringify(points)}\n${log.join('\n')}`;
    for (const point of points) {
      const before = t.emu.writes();
      const r = await runUntil(['apply', '-c', t.spec, planFile, '--log-format', 'json'], dir, t.env, t.emu, point);
      const wrote = t.emu.writes() - before;
      if (r.events.some((e) => e.event === 'apply.resume')) resumes++;
      if (r.events.some((e) => e.event === 'lock.takeover')) takeovers++;
      log.push(`${JSON.stringify(point)} → ${r.killed ? 'killed' : `exit ${r.code}`} after ${wrote} write(s)`);
      if (!r.killed) {
        assert.equal(r.code, 0, `a run that was not killed must succeed (${replay()}): ${r.stderr.slice(-2000)}`);
        break;
      }
      kills++;
      if ('writes' in point) {
        killsDuringWrites++;
        assert.equal(wrote, point.writes, `the tenant froze after exactly ${point.writes} write(s) (${replay()})`);
      }
    }
    const final = await t.cli(['apply', '-c', t.spec, planFile, '--log-format', 'json']);
    assert.equal(final.code, 0, `the last run finishes the job (${replay()}):\n${final.stderr.slice(-3000)}`);
    const diag = `${kills} kills (${killsDuringWrites} during writes), ${resumes} resumed runs, ${takeovers} lock takeovers, ${t.emu.writes() - writesBefore} writes in all (${writesNeeded} needed); ${replay()}`;
    console.log(diag);
    assert.ok(kills >= 20, `at least 20 kill points (${diag})`);
    assert.ok(killsDuringWrites >= 15, `most kills land while writing (${diag})`);
    assert.ok(resumes >= 1 && takeovers >= 1, diag);

    // The planned state: every planned object exactly once, every planned membership.
    const snap = await t.read();
    const anchors = new Map<string, number>();
    for (const o of snap.objects) if (o.anchor !== undefined) anchors.set(o.anchor, (anchors.get(o.anchor) ?? 0) + 1);
    const dupes = [...anchors].filter(([, n]) => n > 1);
    const seedNote = ` (replay with ADSYNC_KILL_SEED=${seed})`;
    assert.deepEqual(dupes, [], `no anchor on two objects${seedNote}`);
    const unowned = (s: typeof snap) => s.objects.filter((o) => o.anchor === undefined).length;
    assert.equal(unowned(snap), unowned(initial), `no object without an anchor was created${seedNote}`);
    for (const kind of ['user', 'group'] as const) {
      const planned = new Set(creates.filter((c) => c.kind === kind).map((c) => c.anchor));
      const have = new Set(snap.objects.filter((o) => o.kind === kind && o.anchor !== undefined).map((o) => o.anchor!));
      assert.equal(have.size, planned.size, `${kind}s: as many as planned${seedNote}`);
      assert.deepEqual(
        [...planned].filter((a) => !have.has(a)),
        [],
        `every planned ${kind} exists${seedNote}`,
      );
    }
    const byAnchor = new Map(snap.objects.filter((o) => o.anchor !== undefined).map((o) => [o.anchor!, o]));
    for (const c of creates) {
      const o = byAnchor.get(c.anchor)!;
      for (const a of c.attributes) {
        if (a.name === 'userPrincipalName' || a.name === 'displayName')
          assert.equal(o.attrs[a.name], a.after, `${c.label}.${a.name}${seedNote}`);
      }
    }
    const anchorOfId = new Map(snap.objects.map((o) => [o.id, o.anchor]));
    let memberships = 0;
    for (const c of plan.changes) {
      if (c.action !== 'add-members') continue;
      const group = byAnchor.get(c.anchor)!;
      const members = (group.members ?? []).map((id) => anchorOfId.get(id)).sort();
      assert.deepEqual(members, c.members.map((m) => m.anchor).sort(), `members of ${c.label}${seedNote}`);
      memberships += members.length;
    }
    assert.equal(memberships, plan.summary.membersAdded);
    const clean = await t.cli(['plan', '-c', t.spec, '--detailed-exitcode']);
    assert.equal(clean.code, 0, `a plan made now has nothing to do${seedNote}`);
    const journal = await readFile(join(dir, '.adsync', 'journal', `${planDigest(plan)}.jsonl`), 'utf8');
    assert.match(journal.trimEnd().split('\n').pop()!, /^\{"t":"complete"/, 'the journal says the plan is done');
    const again = await t.cli(['apply', '-c', t.spec, planFile]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Nothing left to apply: .*plan\.json was applied already/);
  });
});

describe('the apply lock', () => {
  let dir: string;
  let t: Tenant;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'adsync-lock-'));
    t = await startTenant(dir);
    await writeFile(join(dir, 'forest.ldif'), generateForest({ users: 20, groups: 3, memberships: 30 }).ldif);
    await t.writeSpec({ ldif: 'forest.ldif' });
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a second apply against the same tenant while one runs, and writes nothing', async () => {
    // A live process (this test) holds the lock, as a running apply would.
    const lock = acquireLock(lockPath(join(dir, '.adsync'), t.emu.tenantId), 'adsync apply (the test)');
    try {
      const r = await t.cli(['apply', '-c', t.spec, '--auto-approve']);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(
          `Error: another apply holds the lock .*apply-${t.emu.tenantId}\\.lock: pid ${process.pid} on ${hostname()}`,
        ),
      );
      assert.equal((await t.read()).objects.filter((o) => o.anchor !== undefined).length, 0, 'nothing written');
      const json = await t.cli(['apply', '-c', t.spec, '--auto-approve', '--json']);
      assert.equal(JSON.parse(json.stdout).error.code, 'apply_locked');
    } finally {
      lock.release();
    }
    const r = await t.cli(['apply', '-c', t.spec, '--auto-approve']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(lockPath(join(dir, '.adsync'), t.emu.tenantId)), 'released');
  });

  it('takes over a lock whose process is gone, saying so', async () => {
    const path = lockPath(join(dir, '.adsync'), t.emu.tenantId);
    await writeFile(
      path,
      JSON.stringify({
        pid: 2 ** 22 + 12345,
        host: hostname(),
        since: '2026-01-01T00:00:00.000Z',
        command: 'adsync apply (killed)',
      }),
    );
    const r = await t.cli(['plan', '-c', t.spec]);
    assert.equal(r.code, 0, 'plan never takes the lock of a real tenant');
    const a = await t.cli(['apply', '-c', t.spec, '--auto-approve']);
    assert.equal(a.code, 0, a.stderr);
    assert.match(
      a.stderr,
      /Warning: took over the lock .* from pid 4206649 \(adsync apply \(killed\), since 2026-01-01T00:00:00\.000Z\), which is no longer running/,
    );
  });
});

describe('the journal', () => {
  it('keeps finished changes by plan digest, and forgets runs the embedded tenant never saved', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adsync-journal-'));
    try {
      const change = {
        action: 'create',
        kind: 'group',
        anchor: 'A',
        target: 'entra',
        label: 'G',
        rule: 'r',
        attributes: [],
      } as Change;
      const marker = { size: 10, mtimeMs: 1 };
      const j1 = ApplyJournal.open(dir, 'p1', marker);
      assert.equal(j1.state.resumed, false);
      j1.begin(1, marker);
      j1.record({ change, outcome: 'applied', id: 'gid' }, 'create group A');
      j1.close();
      // Real tenant (no marker): the run happened.
      const j2 = ApplyJournal.open(dir, 'p1', null);
      assert.equal(j2.state.resumed, true);
      assert.deepEqual([...j2.state.done], ['create group A']);
      assert.equal(j2.state.createdIds.get('A'), 'gid');
      // Embedded tenant whose state file is as the run found it: the run was killed before saving.
      assert.equal(ApplyJournal.open(dir, 'p1', marker).state.resumed, false);
      assert.equal(
        ApplyJournal.open(dir, 'p1', { size: 11, mtimeMs: 2 }).state.resumed,
        true,
        'saved since: it happened',
      );
      assert.equal(ApplyJournal.open(dir, 'p2', null).state.resumed, false, 'keyed by plan digest');
      const other = ApplyJournal.open(dir, 'p0', null);
      other.begin(1, null);
      other.close();
      j2.complete();
      assert.equal(ApplyJournal.open(dir, 'p1', null).state.complete, true, 'marked complete');
      assert.equal(ApplyJournal.open(dir, 'p0', null).state.resumed, false, 'journals of other plans are gone');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
