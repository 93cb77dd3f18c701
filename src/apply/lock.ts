/**
 * The apply lock: one apply per tenant at a time, so two runs can't interleave their writes (or read state
 * the other is half-way through changing). It is a file, `<state dir>/apply-<tenant id>.lock`, created with
 * O_EXCL and holding who took it. A lock left by a process that died on this host (SIGKILL, a lost runner)
 * is taken over, with a warning; one held from another host is never broken automatically.
 *
 * A file lock covers one machine (or a shared state directory). Pipelines run applies on fresh runners, so
 * they must also serialise applies themselves (GitHub `concurrency:`, an Azure Pipelines environment's
 * exclusive lock): see "Running from a pipeline" in the README.
 */
import { hostname } from 'node:os';
import { mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AdsyncError } from '../errors.js';

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  command: string;
  /** The run's id, which `adsync unlock RUN_ID` names (absent in locks written before it existed). */
  runId?: string;
}

export interface HeldLock {
  path: string;
  /** The dead process whose lock this run took over, if any. */
  tookOverFrom?: LockOwner;
  release(): void;
}

export function lockPath(stateDir: string, tenantId: string): string {
  return join(stateDir, `apply-${tenantId.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`);
}

/** Whether a process of this host is running (EPERM: it is, but not ours to signal). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    return typeof o.pid === 'number' && typeof o.host === 'string'
      ? {
          pid: o.pid,
          host: o.host,
          since: String(o.since ?? ''),
          command: String(o.command ?? ''),
          ...(typeof o.runId === 'string' ? { runId: o.runId } : {}),
        }
      : undefined;
  } catch {
    return undefined;
  }
}

function tryCreate(path: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, `${JSON.stringify(owner)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

export function acquireLock(path: string, command: string, runId?: string): HeldLock {
  mkdirSync(dirname(path), { recursive: true });
  const me: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    command,
    ...(runId !== undefined ? { runId } : {}),
  };
  let tookOverFrom: LockOwner | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, me)) {
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        process.off('exit', release);
        if (readOwner(path)?.pid === me.pid) {
          try {
            unlinkSync(path);
          } catch {
            // gone already
          }
        }
      };
      process.on('exit', release);
      return { path, release, ...(tookOverFrom ? { tookOverFrom } : {}) };
    }
    const owner = readOwner(path);
    if (owner !== undefined && (owner.host !== me.host || processAlive(owner.pid))) {
      throw new AdsyncError(
        'apply_locked',
        `another apply holds the lock ${path}: pid ${owner.pid} on ${owner.host} since ${owner.since} (${owner.command})${owner.runId ? `, run ${owner.runId}` : ''}`,
        {
          hint:
            owner.host === me.host
              ? 'wait for it to finish (--lock-timeout waits); adsync takes the lock over by itself once that process is gone'
              : `wait for it to finish (--lock-timeout waits); if no apply is running on ${owner.host} any more, ${owner.runId ? `\`adsync unlock ${owner.runId}\` frees it` : `delete ${path}`}`,
        },
      );
    }
    // Dead holder on this host (or an unreadable, half-written lock): move it aside under a unique name, so
    // two runs taking it over at once can't both remove the same file and both win.
    const aside = `${path}.stale-${process.pid}`;
    try {
      renameSync(path, aside);
      const moved = readOwner(aside);
      if (moved !== undefined && moved.host === me.host && processAlive(moved.pid)) {
        // A live run took it over between our read and the rename: give it back and stand down.
        renameSync(aside, path);
        continue;
      }
      unlinkSync(aside);
      if (owner !== undefined) tookOverFrom = owner;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new AdsyncError('apply_locked', `cannot take the lock ${path}: another apply keeps taking it`, {
    hint: 'wait for the other apply to finish',
  });
}
