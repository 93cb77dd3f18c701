/**
 * `state: { local: … }`: state as files in a directory (`.adsync/` next to the spec by default). Writes go
 * to a temp file and are renamed into place, so a reader never sees half a state; the ETag is the content's
 * sha256. A conditional write holds a short exclusive guard file while it compares and renames, so two
 * writers of the same version can't both win. The lock is an exclusive-create file holding its holder;
 * a holder process that died on this host is taken over (as the apply lock does), one on another host never.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../apply/lock.js';
import {
  checkName,
  parseHolder,
  StateConflictError,
  StateLockedError,
  StateUnlockRefusedError,
  StateLockLostError,
} from './backend.js';
import type { HeldStateLock, LockHolder, StateBackend, StateObject, WriteCondition } from './backend.js';

/** A state name never starts with '.', so no state can be named like the lock. */
const LOCK_FILE = '.lock';

const etagOf = (bytes: Uint8Array): string => `"${createHash('sha256').update(bytes).digest('hex')}"`;

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function createExclusive(path: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return true;
}

const unlinkQuiet = (path: string): void => {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
};

export class LocalState implements StateBackend {
  readonly location: string;
  constructor(readonly dir: string) {
    this.location = dir;
  }

  private path(name: string): string {
    return join(this.dir, checkName(name));
  }

  async read(name: string): Promise<StateObject | undefined> {
    const bytes = readOrUndefined(this.path(name));
    return bytes === undefined ? undefined : { bytes, etag: etagOf(bytes) };
  }

  async write(name: string, bytes: Buffer | Uint8Array, condition?: WriteCondition): Promise<string> {
    const target = this.path(name);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.${name}.${process.pid}.${randomUUID()}.tmp`);
    writeFileSync(tmp, bytes, { mode: 0o600 });
    try {
      if (condition !== undefined && 'ifNoneMatch' in condition) {
        // link() fails if the name exists: create-only-if-absent in one step.
        try {
          linkSync(tmp, target);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST')
            throw new StateConflictError(name, this.location, 'it exists already');
          throw err;
        }
        return etagOf(bytes);
      }
      if (condition === undefined) {
        renameSync(tmp, target);
        return etagOf(bytes);
      }
      // Compare and rename under a guard: a second writer finding the guard lost the race.
      const guard = join(this.dir, `.${name}.writing`);
      if (!createExclusive(guard, `${process.pid}\n`) && !this.takeOverDeadGuard(guard)) {
        throw new StateConflictError(name, this.location, 'another run is writing it');
      }
      try {
        const current = readOrUndefined(target);
        if (current === undefined || etagOf(current) !== condition.ifMatch) {
          throw new StateConflictError(
            name,
            this.location,
            current === undefined ? 'it no longer exists' : 'its ETag differs',
          );
        }
        renameSync(tmp, target);
      } finally {
        unlinkQuiet(guard);
      }
      return etagOf(bytes);
    } finally {
      unlinkQuiet(tmp);
    }
  }

  async list(prefix: string): Promise<string[]> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    // Temp files, guards and the lock start with '.': never a state.
    return names.filter((n) => n.startsWith(prefix) && !n.startsWith('.')).sort();
  }

  async remove(name: string): Promise<void> {
    unlinkQuiet(this.path(name));
  }

  /** A guard left by a writer that died mid-write on this host is removed (and re-taken). */
  private takeOverDeadGuard(guard: string): boolean {
    const pid = Number(readOrUndefined(guard)?.toString('utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0 || processAlive(pid)) return false;
    const aside = `${guard}.stale-${process.pid}`;
    try {
      renameSync(guard, aside);
      unlinkSync(aside);
    } catch {
      return false;
    }
    return createExclusive(guard, `${process.pid}\n`);
  }

  private readHolder(): LockHolder | undefined {
    const bytes = readOrUndefined(join(this.dir, LOCK_FILE));
    return bytes === undefined ? undefined : parseHolder(bytes.toString('utf8'));
  }

  async describeHolder(): Promise<LockHolder | undefined> {
    return this.readHolder();
  }

  async acquireLock(who: Omit<LockHolder, 'since'>): Promise<HeldStateLock> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, LOCK_FILE);
    const holder: LockHolder = { ...who, since: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createExclusive(path, `${JSON.stringify(holder)}\n`)) return this.held(path, holder);
      const current = this.readHolder();
      if (current !== undefined && (current.host !== hostname() || processAlive(current.pid)))
        throw new StateLockedError(this.location, current);
      // Its holder died on this host (or the file is half-written): move it aside under a unique name, so two
      // runs taking it over at once can't both win; give it back if a live run took it in between.
      const aside = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, aside);
        const moved = parseHolder(readFileSync(aside, 'utf8'));
        if (moved !== undefined && moved.host === hostname() && processAlive(moved.pid)) {
          renameSync(aside, path);
          continue;
        }
        unlinkSync(aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    throw new StateLockedError(this.location, this.readHolder());
  }

  private held(path: string, holder: LockHolder): HeldStateLock {
    let released = false;
    const mine = (): boolean => this.readHolder()?.runId === holder.runId;
    return {
      holder,
      renewals: 0,
      assertHeld: () => {
        if (!mine()) throw new StateLockLostError(this.location, 'the lock file no longer names this run');
      },
      release: async () => {
        if (released) return;
        released = true;
        if (mine()) unlinkQuiet(path);
      },
    };
  }

  async breakLock(expected: { runId: string }): Promise<void> {
    const path = join(this.dir, LOCK_FILE);
    const current = this.readHolder();
    if (current === undefined || current.runId !== expected.runId)
      throw new StateUnlockRefusedError(this.location, expected.runId, current);
    // Move aside first, then re-check: a run that took the lock in between keeps it.
    const aside = `${path}.break-${process.pid}`;
    renameSync(path, aside);
    const moved = parseHolder(readFileSync(aside, 'utf8'));
    if (moved?.runId !== expected.runId) {
      renameSync(aside, path);
      throw new StateUnlockRefusedError(this.location, expected.runId, moved);
    }
    unlinkSync(aside);
  }
}
