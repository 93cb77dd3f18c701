/**
 * The spine benchmark: plan a synthetic forest (default 100,000 users, 10,000 groups, 1,000,000
 * memberships) from an LDIF export into an empty embedded tenant, apply it, then plan again (no changes).
 * Each phase runs the real CLI in its own process under GNU time, which gives wall time and peak RSS.
 * The raw I/O floor is measured in the same run: reading the LDIF file's bytes once.
 *
 *   npm run bench -- [--users N] [--groups N] [--memberships N] [--skip-apply]
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeForest } from './lib/forest.js';

const root = resolve(import.meta.dirname, '../..');

interface Phase {
  name: string;
  wallS: number;
  /** Peak RSS of the adsync process itself. */
  adsyncRssMiB: number;
  /** Peak RSS of the largest process of the run (adsync or its embedded emulator, which runs apart). */
  maxRssMiB: number;
  exitCode: number;
}

function runPhase(name: string, args: string[]): Phase {
  // stdout (the whole plan as text) goes nowhere: what is measured is adsync producing it.
  const res = spawnSync(
    '/usr/bin/time',
    ['-f', 'ADSYNC_BENCH %e %M', process.execPath, join(root, 'bin/run.js'), ...args],
    {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, NO_COLOR: '1', ADSYNC_BENCH_RUSAGE: '1' },
    },
  );
  const line = res.stderr.split('\n').find((l) => l.startsWith('ADSYNC_BENCH '));
  if (!line) throw new Error(`${name}: no timing (exit ${res.status}): ${res.stderr.slice(-2000)}`);
  const [, wall, rssKb] = line.split(' ');
  const own = res.stderr.split('\n').find((l) => l.startsWith('ADSYNC_RUSAGE '));
  const exitCode = res.status ?? -1;
  if (exitCode !== 0 && exitCode !== 2)
    throw new Error(`${name} failed (exit ${exitCode}):\n${res.stderr.slice(-3000)}`);
  return {
    name,
    wallS: Number(wall),
    adsyncRssMiB: Number(own?.split(' ')[1] ?? NaN) / 1024,
    maxRssMiB: Number(rssKb) / 1024,
    exitCode,
  };
}

async function readFloor(path: string): Promise<number> {
  const start = performance.now();
  await new Promise<void>((ok, fail) => {
    const s = createReadStream(path, { highWaterMark: 1 << 20 });
    s.on('data', () => {});
    s.on('end', ok);
    s.on('error', fail);
  });
  return (performance.now() - start) / 1000;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '100000' },
      groups: { type: 'string', default: '10000' },
      memberships: { type: 'string', default: '1000000' },
      'skip-apply': { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench/out' },
    },
  });
  const users = Number(values.users);
  const groups = Number(values.groups);
  const memberships = Number(values.memberships);
  const dir = resolve(root, values.out);
  await mkdir(dir, { recursive: true });
  const ldif = join(dir, `forest-${users}-${groups}-${memberships}.ldif`);
  if (!existsSync(ldif)) {
    process.stderr.write(`generating ${ldif} …\n`);
    await writeForest({ users, groups, memberships }, ldif);
  }
  const state = join(dir, 'tenant.json');
  await rm(state, { force: true });
  const spec = join(dir, 'adsync.yaml');
  await writeFile(
    spec,
    [
      'version: 1',
      'sources:',
      '  - name: corp',
      `    ldif: { path: ${JSON.stringify(ldif)} }`,
      '    scope:',
      '      domains: [corp.example]',
      'target:',
      '  emulator:',
      `    state: ${JSON.stringify(state)}`,
      '    tenant: corp.onmicrosoft.com',
      '    domains: [corp.example]',
      'safety:',
      '  maxDeletes: 500',
      '',
    ].join('\n'),
  );
  const size = (await stat(ldif)).size;
  const floor = await readFloor(ldif);
  const phases: Phase[] = [];
  // As a pipeline runs it: the text plan on stdout and the saved plan for review.
  phases.push(runPhase('plan (empty tenant)', ['plan', '-c', spec, '--out', join(dir, 'plan.json')]));
  if (!values['skip-apply']) {
    phases.push(runPhase('apply', ['apply', '-c', spec, '--auto-approve']));
    phases.push(runPhase('plan (no changes)', ['plan', '-c', spec, '--detailed-exitcode']));
  }
  const report = {
    forest: { users, groups, memberships, ldifMiB: +(size / 1048576).toFixed(1) },
    floor: { readLdifS: +floor.toFixed(2) },
    phases: phases.map((p) => ({
      ...p,
      adsyncRssMiB: +p.adsyncRssMiB.toFixed(0),
      maxRssMiB: +p.maxRssMiB.toFixed(0),
      vsFloor: +(p.wallS / floor).toFixed(1),
    })),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  const noChange = phases.find((p) => p.name === 'plan (no changes)');
  if (noChange && noChange.exitCode !== 0) {
    process.stderr.write('the plan after apply was not empty\n');
    process.exitCode = 1;
  }
}

await main();
