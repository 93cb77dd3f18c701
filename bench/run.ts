/**
 * The spine benchmark: plan a synthetic forest (default 100,000 users, 10,000 groups, 1,000,000
 * memberships) from an LDIF export into an empty tenant, apply it, then plan again (no changes).
 * The tenant is the Graph emulator (`adsync emulator`), started once as a process of its own, as a real tenant
 * would be another machine: adsync's figures are its own, the emulator's are reported apart.
 * Each phase runs the real CLI in its own process under GNU time, which gives wall time, CPU and peak RSS.
 * The raw I/O floor is measured in the same run: reading the LDIF file's bytes once.
 *
 *   npm run bench -- [--users N] [--groups N] [--memberships N] [--skip-apply] [--incremental]
 *
 * --incremental (issue 15) adds, after the apply: the first plan with the anchor extension in its read scope
 * (a full read that stores the state), `plan --full`, the no-change incremental plan (the stored plan shown
 * again), the same without the stored plan (snapshots and delta, planned), and a plan after 100 AD changes
 * (100 users' titles edited in the export); each with Graph requests per run and the state's size.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeForest } from './lib/forest.js';

const root = resolve(import.meta.dirname, '../..');

interface Phase {
  name: string;
  wallS: number;
  /** User + system CPU seconds of adsync: a loaded machine inflates wall time, CPU much less. */
  cpuS: number;
  /** Peak RSS of the adsync process itself. */
  adsyncRssMiB: number;
  /** Peak RSS as GNU time reports it (adsync's: the emulator is not its child). */
  maxRssMiB: number;
  exitCode: number;
  /** HTTP requests adsync sent to Graph (the emulator) in this run. */
  graphRequests?: number;
  /** The plan's `Read:` line (text output). */
  read?: string;
  /** The emulator's CPU seconds during the phase, and its RSS after it (it serves every phase). */
  emulatorCpuS?: number;
  emulatorRssMiB?: number;
}

/** The emulator, a process of its own for the whole run: where it listens and how adsync signs in. */
interface Emulator {
  child: ChildProcess;
  env: Record<string, string>;
}

async function startEmulator(dir: string, state: string): Promise<Emulator> {
  const creds = join(dir, 'emulator.env');
  const cert = join(dir, 'emulator.pem');
  await rm(creds, { force: true });
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin/run.js'),
      'emulator',
      '--port',
      '0',
      '--state',
      state,
      '--tenant',
      'corp.onmicrosoft.com',
      '--domain',
      'corp.example',
      '--cert-out',
      cert,
      '--credentials-out',
      creds,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const started = Date.now();
  while (!existsSync(creds)) {
    if (child.exitCode !== null) throw new Error(`the emulator exited (${child.exitCode})`);
    if (Date.now() - started > 60_000) throw new Error('the emulator did not start within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const env: Record<string, string> = {};
  for (const line of (await readFile(creds, 'utf8')).split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return { child, env };
}

/** CPU seconds (user + system) and current and peak RSS (MiB) of a process, from /proc. */
function procUsage(pid: number): { cpuS: number; rssMiB: number; peakMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuS: ticks / 100, rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
}

let emulator: Emulator | undefined;
/** The emulator's peak RSS over its runs. */
let emulatorPeakMiB = 0;

/** Stops the emulator (it saves its state on SIGTERM). */
async function stopEmulator(): Promise<void> {
  if (emulator === undefined) return;
  const { child } = emulator;
  if (child.pid !== undefined) emulatorPeakMiB = Math.max(emulatorPeakMiB, procUsage(child.pid).peakMiB);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  emulator = undefined;
}

function runPhase(name: string, args: string[]): Phase {
  const emuBefore = emulator?.child.pid !== undefined ? procUsage(emulator.child.pid) : undefined;
  const phase = runCli(name, args);
  if (emulator?.child.pid !== undefined && emuBefore !== undefined) {
    const after = procUsage(emulator.child.pid);
    phase.emulatorCpuS = +(after.cpuS - emuBefore.cpuS).toFixed(2);
    phase.emulatorRssMiB = +after.rssMiB.toFixed(0);
  }
  return phase;
}

function runCli(name: string, args: string[]): Phase {
  // stdout (the whole plan as text) is read only for its `Read:` line: what is measured is adsync producing it.
  const res = spawnSync(
    '/usr/bin/time',
    ['-f', 'ADSYNC_BENCH %e %M %U %S', process.execPath, join(root, 'bin/run.js'), ...args],
    {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1024 * 1024 * 1024,
      env: { ...process.env, ...emulator?.env, NO_COLOR: '1', ADSYNC_BENCH_RUSAGE: '1' },
    },
  );
  const line = res.stderr.split('\n').find((l) => l.startsWith('ADSYNC_BENCH '));
  if (!line) throw new Error(`${name}: no timing (exit ${res.status}): ${res.stderr.slice(-2000)}`);
  const [, wall, rssKb, user, sys] = line.split(' ');
  const own = res.stderr.split('\n').find((l) => l.startsWith('ADSYNC_RUSAGE '));
  const requests = res.stderr.split('\n').find((l) => l.startsWith('ADSYNC_GRAPH_REQUESTS '));
  const read = res.stdout.split('\n').find((l) => l.startsWith('Read: '));
  const exitCode = res.status ?? -1;
  if (exitCode !== 0 && exitCode !== 2)
    throw new Error(`${name} failed (exit ${exitCode}):\n${res.stderr.slice(-3000)}`);
  return {
    name,
    wallS: Number(wall),
    cpuS: +(Number(user) + Number(sys)).toFixed(2),
    adsyncRssMiB: Number(own?.split(' ')[1] ?? NaN) / 1024,
    maxRssMiB: Number(rssKb) / 1024,
    exitCode,
    ...(requests !== undefined ? { graphRequests: Number(requests.split(' ')[1]) } : {}),
    ...(read !== undefined ? { read } : {}),
  };
}

/** Edits the title of the first `count` users that have one (AD changes, as a new export shows them). */
async function editTitles(path: string, count: number): Promise<void> {
  const tmp = `${path}.tmp`;
  const out = createWriteStream(tmp);
  let edited = 0;
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    if (edited < count && line.startsWith('title: ')) {
      edited++;
      out.write(`title: Changed ${edited}\n`);
    } else out.write(`${line}\n`);
  }
  await new Promise<void>((ok, fail) => out.end((err?: Error | null) => (err ? fail(err) : ok())));
  await rename(tmp, path);
}

async function stateBytes(dir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of await readdir(dir).catch(() => [] as string[]))
    if (name.startsWith('sync-')) out[name] = (await stat(join(dir, name))).size;
  return out;
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
      incremental: { type: 'boolean', default: false },
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
  // The spec reads a copy, which the incremental phases edit.
  const current = join(dir, 'current.ldif');
  await copyFile(ldif, current);
  await rm(join(dir, '.adsync'), { recursive: true, force: true });
  const state = join(dir, 'tenant.json');
  await rm(state, { force: true });
  emulator = await startEmulator(dir, state);
  // Apply runs against the same tenant embedded (target.emulator): against target.entra adsync paces its writes
  // to Graph's budget (3,000 per 150 s), as it must with a real tenant; the emulator is then stopped and restarted.
  const applySpec = join(dir, 'adsync-apply.yaml');
  await writeFile(
    applySpec,
    [
      'version: 1',
      'sources:',
      '  - name: corp',
      `    ldif: { path: ${JSON.stringify(current)} }`,
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
  const spec = join(dir, 'adsync.yaml');
  await writeFile(
    spec,
    [
      'version: 1',
      'sources:',
      '  - name: corp',
      `    ldif: { path: ${JSON.stringify(current)} }`,
      '    scope:',
      '      domains: [corp.example]',
      'target:',
      '  entra:',
      '    tenantId: { env: AZURE_TENANT_ID }',
      '    endpoint: { env: ADSYNC_GRAPH_URL }',
      '    credential: { kind: environment }',
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
    await stopEmulator();
    phases.push(runPhase('apply (embedded tenant)', ['apply', '-c', applySpec, '--auto-approve']));
    emulator = await startEmulator(dir, state);
    phases.push(runPhase('plan (no changes)', ['plan', '-c', spec, '--detailed-exitcode']));
  }
  let stateSizes: Record<string, number> | undefined;
  if (values.incremental && !values['skip-apply']) {
    phases.push(runPhase('plan --full (no changes)', ['plan', '-c', spec, '--full', '--detailed-exitcode']));
    phases.push(runPhase('plan (no changes, incremental)', ['plan', '-c', spec, '--detailed-exitcode']));
    stateSizes = await stateBytes(join(dir, '.adsync'));
    // The same without the stored plan: the snapshots are read from the state, delta folded, and planned.
    await rm(join(dir, '.adsync', 'sync-plan.json.gz'), { force: true });
    phases.push(
      runPhase('plan (no changes, incremental, no stored plan)', ['plan', '-c', spec, '--detailed-exitcode']),
    );
    // The export the spec reads is rewritten with 100 edits (the generated forest stays as it was).
    await editTitles(current, 100);
    phases.push(runPhase('plan (100 AD changes, incremental)', ['plan', '-c', spec]));
  }
  await stopEmulator();
  const report = {
    emulatorPeakRssMiB: +emulatorPeakMiB.toFixed(0),
    forest: { users, groups, memberships, ldifMiB: +(size / 1048576).toFixed(1) },
    floor: { readLdifS: +floor.toFixed(2) },
    ...(stateSizes !== undefined ? { stateBytes: stateSizes } : {}),
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
