/**
 * Sessions under the apply lock (src/apply/lock.ts), and where adsync keeps its local state:
 *
 *   embedded emulator (target.emulator)  next to the tenant's state file: the lock `apply-embedded.lock` and
 *                                        `journal/`. The lock is held from before the state file is loaded until
 *                                        after it is saved, by plan as well as apply: the embedded tenant is
 *                                        written back when adsync exits, so two runs must not overlap at all.
 *   a real tenant (target.entra)         $ADSYNC_STATE_DIR, else `.adsync/` next to the spec: the lock
 *                                        `apply-<tenant id>.lock` (apply only: plan never writes) and `journal/`.
 */
import { dirname, join, resolve } from 'node:path';
import { acquireLock, lockPath, type HeldLock } from '../apply/lock.js';
import { loadSpec } from '../spec/load.js';
import type { Log } from './log.js';
import { withSession, type Session } from './session.js';

export interface LockedContext {
  stateDir: string;
  lock: HeldLock | undefined;
}

export function stateDirOf(spec: { dir: string; target: { emulator?: { state: string } } }): string {
  if (spec.target.emulator) return dirname(resolve(spec.dir, spec.target.emulator.state));
  const env = process.env['ADSYNC_STATE_DIR'];
  return env !== undefined && env !== '' ? resolve(env) : join(spec.dir, '.adsync');
}

export async function withLockedSession<T>(
  configPath: string,
  options: { command: string; log: Log; lockRealTenant: boolean; full?: boolean },
  body: (session: Session, ctx: LockedContext) => Promise<T>,
): Promise<T> {
  const spec = await loadSpec(configPath);
  const stateDir = stateDirOf(spec);
  const announce = (lock: HeldLock): HeldLock => {
    if (lock.tookOverFrom) {
      const o = lock.tookOverFrom;
      options.log.warn(
        `took over the lock ${lock.path} from pid ${o.pid} (${o.command}, since ${o.since}), which is no longer running: an interrupted run`,
        {
          event: 'lock.takeover',
          path: lock.path,
          previous: o,
        },
      );
    }
    options.log.detail(`lock ${lock.path} taken`, { event: 'lock.acquired', path: lock.path });
    return lock;
  };
  const embedded = spec.target.emulator
    ? announce(acquireLock(lockPath(stateDir, 'embedded'), options.command))
    : undefined;
  try {
    return await withSession(
      configPath,
      async (session) => {
        if (embedded !== undefined || !options.lockRealTenant) return body(session, { stateDir, lock: embedded });
        const lock = announce(acquireLock(lockPath(stateDir, session.target.tenant.tenantId), options.command));
        try {
          return await body(session, { stateDir, lock });
        } finally {
          lock.release();
        }
      },
      { incremental: { full: options.full === true } },
    );
  } finally {
    embedded?.release();
  }
}
