/**
 * Sessions under the apply lock, and where adsync keeps its state (`state:` in the spec, src/state/):
 *
 *   embedded emulator (target.emulator)  next to the tenant's state file: the lock `apply-embedded.lock` and
 *                                        `journal/`. The lock is held from before the state file is loaded until
 *                                        after it is saved, by plan as well as apply: the embedded tenant is
 *                                        written back when adsync exits, so two runs must not overlap at all.
 *   a real tenant (target.entra)         `state.local.dir`, else $ADSYNC_STATE_DIR, else `.adsync/` next to the
 *                                        spec: the lock `apply-<tenant id>.lock` (apply only: plan never writes)
 *                                        and `journal/`.
 *   `state: { azureBlob }`               apply's lock is a lease on the blob `<prefix>/.lock` (renewed while apply
 *                                        runs, released at the end or on SIGINT/SIGTERM) and the journal is the
 *                                        blob `<prefix>/journal-<plan digest>.jsonl`: any runner resumes.
 *
 * A held lock makes apply wait up to `lockTimeoutMs` (`--lock-timeout`), else fail naming the holder.
 */
import { dirname, resolve } from 'node:path';
import { realClock, type Clock } from '../apply/clock.js';
import { acquireLock, lockPath, type HeldLock } from '../apply/lock.js';
import { loadSpec } from '../spec/load.js';
import type { HeldStateLock, StateBackend } from '../state/backend.js';
import { describeHolder } from '../state/backend.js';
import { beforeSignalExit } from '../state/exit-hooks.js';
import { runId, thisRun } from '../state/holder.js';
import { localStateDir, openState } from '../state/open.js';
import { formatMs, waitForLock } from '../state/wait.js';
import type { Log } from './log.js';
import { withSession, type Session } from './session.js';

export interface LockedContext {
  /** The local state directory (the embedded tenant's, or the spec's `local` state). */
  stateDir: string;
  /** The local lock file held, if any. */
  lock: HeldLock | undefined;
  /** The spec's state backend (`local` by default, or `azureBlob`). */
  state: StateBackend;
  /** `azureBlob` state: where the journal lives (undefined: the local journal file in stateDir). */
  remote: StateBackend | undefined;
  /** `azureBlob` apply: the held lease (the journal stops writing once it is lost). */
  lease: HeldStateLock | undefined;
}

export function stateDirOf(
  spec: Parameters<typeof localStateDir>[0] & { target: { emulator?: { state: string } } },
): string {
  if (spec.target.emulator) return dirname(resolve(spec.dir, spec.target.emulator.state));
  return localStateDir(spec);
}

export async function withLockedSession<T>(
  configPath: string,
  options: {
    command: string;
    log: Log;
    lockRealTenant: boolean;
    lockTimeoutMs?: number;
    clock?: Clock;
    full?: boolean;
    /** `adsync plan`: show the stored plan again when nothing changed (Session.reusePlan). */
    reusePlan?: boolean;
  },
  body: (session: Session, ctx: LockedContext) => Promise<T>,
): Promise<T> {
  const spec = await loadSpec(configPath);
  const stateDir = stateDirOf(spec);
  const state = await openState(spec);
  const remote = spec.state !== undefined && 'azureBlob' in spec.state ? state : undefined;
  const { log, command } = options;
  const run = runId();
  const timeoutMs = options.lockTimeoutMs ?? 0;
  const wait = <L>(take: () => Promise<L> | L): Promise<L> =>
    waitForLock(take, {
      timeoutMs,
      clock: options.clock ?? realClock,
      onWait: (err) =>
        log.info(`waiting up to ${formatMs(timeoutMs)} for the lock: ${err.message}`, {
          event: 'lock.wait',
          timeoutMs,
          message: err.message,
        }),
    });
  const announce = (lock: HeldLock): HeldLock => {
    if (lock.tookOverFrom) {
      const o = lock.tookOverFrom;
      log.warn(
        `took over the lock ${lock.path} from pid ${o.pid} (${o.command}, since ${o.since}), which is no longer running: an interrupted run`,
        {
          event: 'lock.takeover',
          path: lock.path,
          previous: o,
        },
      );
    }
    log.detail(`lock ${lock.path} taken (run ${run})`, { event: 'lock.acquired', path: lock.path, runId: run });
    return lock;
  };
  const embedded = spec.target.emulator
    ? announce(await wait(() => acquireLock(lockPath(stateDir, 'embedded'), command, run)))
    : undefined;
  // The lease names no tenant: it is taken before the tenant is reached, so a refused run costs it nothing.
  let lease: HeldStateLock | undefined;
  let unhook: (() => void) | undefined;
  try {
    if (remote && options.lockRealTenant) {
      lease = await wait(() => remote.acquireLock(thisRun(command)));
      unhook = beforeSignalExit(() => lease!.release());
      log.detail(`lock ${remote.location} taken (run ${lease.holder.runId})`, {
        event: 'lock.acquired',
        location: remote.location,
        runId: lease.holder.runId,
        holder: lease.holder,
      });
    }
    return await withSession(
      configPath,
      async (session) => {
        const ctx: LockedContext = { stateDir, lock: embedded, state, remote, lease };
        if (!options.lockRealTenant) {
          // A plan read while an apply writes may show changes that apply is making: say so.
          // Best effort: a plan identity that can't read the lock blob still plans.
          const holder = remote ? await remote.describeHolder().catch(() => undefined) : undefined;
          if (holder)
            log.warn(`an apply is running (the lock in ${remote!.location} is held by ${describeHolder(holder)})`, {
              event: 'lock.held',
              holder,
            });
          return body(session, ctx);
        }
        if (lease !== undefined || embedded !== undefined) return body(session, ctx);
        const lock = announce(
          await wait(() => acquireLock(lockPath(stateDir, session.target.tenant.tenantId), command, run)),
        );
        try {
          return await body(session, { ...ctx, lock });
        } finally {
          lock.release();
        }
      },
      { incremental: { full: options.full === true }, ...(options.reusePlan === true ? { reusePlan: true } : {}) },
    );
  } finally {
    unhook?.();
    await lease?.release();
    embedded?.release();
  }
}
