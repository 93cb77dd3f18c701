/**
 * Durable state (DESIGN §5 `state:`): where incremental snapshots, the apply journal and the apply lock live.
 * A backend stores named byte blobs with an ETag, writes them only under a condition (so two runs never
 * overwrite each other's state), and holds one lock that names its holder. `local` keeps files in a
 * directory; `azureBlob` keeps blobs in a container, so runners without a lasting disk share them.
 */
import { AdsyncError } from '../errors.js';

export interface StateObject {
  bytes: Buffer;
  /** Opaque version tag: pass it back as `ifMatch` to write only over this exact version. */
  etag: string;
}

/** `ifMatch`: only over this version. `ifNoneMatch: '*'`: only if absent. None: last writer wins. */
export type WriteCondition = { ifMatch: string } | { ifNoneMatch: '*' };

/** Who holds the lock: enough for a person to find the run and for `adsync unlock` to name it. */
export interface LockHolder {
  runId: string;
  host: string;
  pid: number;
  command: string;
  /** Where the run can be found: the pipeline run's URL when adsync runs in one (src/state/holder.ts). */
  where?: string;
  /** ISO time the lock was taken (set by acquireLock). */
  since?: string;
}

export interface HeldStateLock {
  readonly holder: LockHolder;
  /** Lease renewals done so far (Azure; always 0 for local, where the holder's process is the lease). */
  readonly renewals: number;
  /** Throws StateLockLostError if the lock was lost (lease broken or renewal failed) since it was taken. */
  assertHeld(): void;
  release(): Promise<void>;
}

export interface StateBackend {
  /** Where the state lives, for messages: no secret (no key, no SAS). */
  readonly location: string;
  read(name: string): Promise<StateObject | undefined>;
  write(name: string, bytes: Buffer | Uint8Array, condition?: WriteCondition): Promise<string>;
  acquireLock(holder: Omit<LockHolder, 'since'>): Promise<HeldStateLock>;
  /** The current holder, or undefined when nobody holds the lock. */
  describeHolder(): Promise<LockHolder | undefined>;
  /** Frees a lock held by a run that is gone; refused unless `expected` names the current holder. */
  breakLock(expected: { runId: string }): Promise<void>;
  /**
   * Appends to a state under the same conditions as write (the apply journal grows a few lines at a time).
   * Optional: without it the journal rewrites the whole state, still conditionally.
   */
  append?(name: string, bytes: Buffer | Uint8Array, condition: WriteCondition): Promise<string>;
  /** The names of the states starting with `prefix`, sorted. */
  list?(prefix: string): Promise<string[]>;
  /** Removes a state; absent is fine. */
  remove?(name: string): Promise<void>;
}

/** A conditional write lost: someone else wrote this state since it was read. */
export class StateConflictError extends AdsyncError {
  readonly stateName: string;
  constructor(name: string, location: string, why: string) {
    super('state_conflict', `state ${name} in ${location} changed since it was read (${why}); nothing was written`, {
      hint: 'another run wrote the state at the same time; run again to start from its result',
    });
    this.stateName = name;
  }
}

export function describeHolder(h: LockHolder): string {
  return `run ${h.runId} (pid ${h.pid} on ${h.host}${h.since ? ` since ${h.since}` : ''}: ${h.command}${h.where ? `; ${h.where}` : ''})`;
}

/** The lock is held by another run. */
export class StateLockedError extends AdsyncError {
  readonly holder: LockHolder | undefined;
  constructor(location: string, holder: LockHolder | undefined) {
    super(
      'state_locked',
      `the state lock in ${location} is held by ${holder ? describeHolder(holder) : 'another run (holder unknown)'}`,
      {
        hint: holder
          ? `wait for it to finish; if that run is gone, \`adsync unlock ${holder.runId}\` frees the lock`
          : 'wait for it to finish; the lease frees itself within a minute if its holder died',
      },
    );
    this.holder = holder;
  }
}

/** breakLock named a holder that does not hold the lock (or nobody holds it). */
export class StateUnlockRefusedError extends AdsyncError {
  constructor(location: string, expected: string, actual: LockHolder | undefined) {
    super(
      'state_unlock_refused',
      actual
        ? `refusing to break the state lock in ${location}: it is held by ${describeHolder(actual)}, not run ${expected}`
        : `refusing to break the state lock in ${location}: nobody holds it (expected run ${expected})`,
      {
        hint: actual
          ? `name the run that holds it: \`adsync unlock ${actual.runId}\`, and only if that run is gone`
          : 'nothing to unlock',
      },
    );
  }
}

/** The lock was lost while held (its lease was broken, or could not be renewed). */
export class StateLockLostError extends AdsyncError {
  constructor(location: string, why: string) {
    super('state_lock_lost', `the state lock in ${location} was lost while held (${why})`, {
      hint: 'someone ran `adsync unlock` or the storage was unreachable for a minute; stop, and run again',
    });
  }
}

/** A state backend could not be reached or refused a request for a reason other than a condition. */
export class StateError extends AdsyncError {
  constructor(code: string, message: string, hint: string) {
    super(code, message, { hint });
  }
}

/** State names are flat (no path separators), so a name can never leave its directory or prefix. */
export function checkName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.length > 200) {
    throw new StateError(
      'state_name_invalid',
      `invalid state name ${JSON.stringify(name)}`,
      'state names are letters, digits, . _ - (no /)',
    );
  }
  return name;
}

/** A holder as parsed from storage, or undefined when it is not one. */
export function parseHolder(text: string): LockHolder | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockHolder>;
    if (typeof o.runId !== 'string' || typeof o.host !== 'string' || typeof o.pid !== 'number') return undefined;
    return {
      runId: o.runId,
      host: o.host,
      pid: o.pid,
      command: String(o.command ?? ''),
      ...(typeof o.where === 'string' ? { where: o.where } : {}),
      ...(typeof o.since === 'string' ? { since: o.since } : {}),
    };
  } catch {
    return undefined;
  }
}
