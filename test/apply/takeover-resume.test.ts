/**
 * A takeover killed (SIGKILL) at random points converges when run again, with no object left half-converted
 * (issue 13): after the last run every object of the wave has its source of authority in the cloud AND carries
 * adsync's anchor and its AD values, every other object reads as before, and a plan made now is empty.
 *
 * Kill points are exact, as in resume.test.ts: the in-process emulator freezes right after the N-th write reached
 * the tenant (a source-of-authority switch answered, the write after it not yet made is the half-converted case)
 * and the test SIGKILLs the CLI there. The points come from a seeded PRNG (ADSYNC_KILL_SEED, default 1), printed
 * with every failure.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FreezePoint } from '../../src/emulator/tap.js';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { Plan } from '../../src/model/plan.js';
import { BIN } from '../support/cli.js';
import { connectSetup, graphGet, rawRead, type ConnectSetup } from '../support/connect-setup.js';

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

function runUntil(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  emu: RunningEmulator,
  kill: FreezePoint,
): Promise<{ killed: boolean; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let killed = false;
    const killNow = (): void => {
      if (!killed && child.exitCode === null) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    void emu.freezeAfter(kill).then(killNow);
    const guard = setTimeout(() => {
      killNow();
      reject(new Error(`adsync ${args.join(' ')} hung\n${stderr}`));
    }, 170_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      emu.unfreeze();
      resolve({ killed, code, stderr });
    });
  });
}

describe('a takeover killed at random points converges on re-run', () => {
  let s: ConnectSetup;
  before(async () => {
    s = await connectSetup('adsync-takeover-kill-');
    s.emu.setRoles([
      'User.ReadWrite.All',
      'Group.ReadWrite.All',
      'Application.ReadWrite.OwnedBy',
      'Organization.Read.All',
      'RoleManagement.Read.Directory',
      'User-OnPremisesSyncBehavior.ReadWrite.All',
      'Group-OnPremisesSyncBehavior.ReadWrite.All',
    ]);
  });
  after(async () => {
    await s.close();
  });

  it('no object is left half-converted, and the next plan is empty', async () => {
    const seed = Number(process.env['ADSYNC_KILL_SEED'] ?? 1);
    const random = prng(seed);
    const initial = await rawRead(s.emu);
    await s.writeSpec(`takeover: "dn.endsWith(',${s.gen.pilotOu}')"`);
    const made = await s.cli(['plan', '-c', 'adsync.yaml', '--format', 'json', '--out', 'plan.json']);
    assert.equal(made.code, 0, made.stderr);
    const plan = JSON.parse(await readFile(join(s.dir, 'plan.json'), 'utf8')) as Plan;
    const wave = new Set(plan.changes.filter((c) => c.action === 'takeover').map((c) => c.anchor));
    assert.equal(wave.size, 21);
    // Two writes per takeover (the switch, then anchor and attributes) and one per membership change.
    const writesNeeded = 2 * wave.size + plan.changes.filter((c) => c.action.endsWith('-members')).length;
    const log: string[] = [];
    const replay = (): string => `replay with ADSYNC_KILL_SEED=${seed}\n${log.join('\n')}`;
    let kills = 0;
    let written = 0;
    // Each run is killed after a few writes (odd counts stop between a switch and the write after it).
    while (written < writesNeeded - 3 && kills < 25) {
      const point = { writes: 1 + Math.floor(random() * 6) };
      const before = s.emu.writes();
      const r = await runUntil(['apply', '-c', 'adsync.yaml', 'plan.json'], s.dir, s.env, s.emu, point);
      const wrote = s.emu.writes() - before;
      written += wrote;
      log.push(`${JSON.stringify(point)} → ${r.killed ? 'killed' : `exit ${r.code}`} after ${wrote} write(s)`);
      if (!r.killed) {
        assert.equal(r.code, 0, `a run that was not killed must succeed (${replay()}): ${r.stderr.slice(-2000)}`);
        break;
      }
      kills++;
    }
    const final = await s.cli(['apply', '-c', 'adsync.yaml', 'plan.json']);
    assert.equal(final.code, 0, `the last run finishes the job (${replay()}):\n${final.stdout}\n${final.stderr}`);
    assert.ok(kills >= 5, `at least 5 kills (${replay()})`);

    const snap = await rawRead(s.emu);
    const anchorProperty = `extension_${s.emu.clientId.replace(/-/g, '')}_adsyncAnchor`;
    let converted = 0;
    for (const [id, text] of snap) {
      const now = JSON.parse(text) as {
        o: Record<string, unknown>;
        full: Record<string, unknown>;
        isCloudManaged: boolean;
      };
      if (now.o['onPremisesSyncEnabled'] === true) {
        assert.equal(text, initial.get(id), `outside the wave: untouched (${replay()})`);
        continue;
      }
      // Converted: owned by adsync and written, never one without the other.
      assert.equal(now.isCloudManaged, true);
      const coll = now.o['userPrincipalName'] !== undefined ? 'users' : 'groups';
      const anchor = (await graphGet(s.emu, `/${coll}/${id}?$select=id,${anchorProperty}`))[anchorProperty];
      assert.ok(
        typeof anchor === 'string' && wave.has(anchor),
        `${String(now.o['displayName'])} carries adsync's anchor (${replay()})`,
      );
      if (now.o['userPrincipalName'] !== undefined) assert.match(String(now.o['jobTitle']), /^Engineer /);
      converted++;
    }
    assert.equal(converted, wave.size, `the whole wave, nothing else (${replay()})`);
    const clean = await s.cli(['plan', '-c', 'adsync.yaml', '--detailed-exitcode']);
    assert.equal(clean.code, 0, `a plan made now has nothing to do (${replay()}):\n${clean.stdout}`);
    console.log(`${kills} kills, ${written} writes before the last run; ${replay()}`);
  });
});
