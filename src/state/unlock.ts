/**
 * `adsync unlock RUN_ID`: frees the apply lock of a run that is gone, only when RUN_ID names the holder.
 * azureBlob: breaks the lease (StateBackend.breakLock checks the holder, and that nobody re-took it since).
 * local: the lock files `apply-*.lock` of the state directory; one whose process still runs on this host is
 * never removed (that run is alive: stop it instead).
 */
import { hostname } from 'node:os';
import { readdirSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive, readOwner, type LockOwner } from '../apply/lock.js';
import { AdsyncError } from '../errors.js';
import { describeHolder, StateUnlockRefusedError } from './backend.js';
import type { StateBackend } from './backend.js';

export interface Unlocked {
  /** Where the lock was: the lock file, or the state location. */
  location: string;
  /** Who held it, as a sentence. */
  holder: string;
}

const describeOwner = (o: LockOwner): string =>
  `run ${o.runId ?? '(no id)'} (pid ${o.pid} on ${o.host} since ${o.since}: ${o.command})`;

export async function unlockRemote(state: StateBackend, runId: string): Promise<Unlocked> {
  const holder = await state.describeHolder();
  await state.breakLock({ runId });
  return { location: state.location, holder: holder ? describeHolder(holder) : `run ${runId}` };
}

export function unlockLocal(stateDir: string, runId: string): Unlocked {
  let names: string[] = [];
  try {
    names = readdirSync(stateDir).filter((n) => /^apply-.*\.lock$/.test(n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const held = names
    .map((n) => ({ path: join(stateDir, n), owner: readOwner(join(stateDir, n)) }))
    .filter((l): l is { path: string; owner: LockOwner } => l.owner !== undefined);
  const mine = held.find((l) => l.owner.runId === runId);
  if (!mine) {
    throw new AdsyncError(
      'state_unlock_refused',
      held.length === 0
        ? `refusing to unlock: no apply lock in ${stateDir} is held (expected run ${runId})`
        : `refusing to unlock: no apply lock in ${stateDir} is held by run ${runId}; held: ${held.map((l) => describeOwner(l.owner)).join('; ')}`,
      {
        hint:
          held.length === 0
            ? 'nothing to unlock'
            : `name the run that holds it, and only if that run is gone${held[0]!.owner.runId ? `: \`adsync unlock ${held[0]!.owner.runId}\`` : `, or delete ${held[0]!.path}`}`,
      },
    );
  }
  if (mine.owner.host === hostname() && processAlive(mine.owner.pid)) {
    throw new AdsyncError(
      'state_unlock_refused',
      `refusing to unlock ${mine.path}: ${describeOwner(mine.owner)} is still running on this host`,
      { hint: `let it finish, or stop it (Ctrl-C, or kill ${mine.owner.pid}): its lock goes with it` },
    );
  }
  // Move aside, then re-check: a run that took the lock over in between keeps it.
  const aside = `${mine.path}.unlock-${process.pid}`;
  renameSync(mine.path, aside);
  const moved = readOwner(aside);
  if (moved?.runId !== runId) {
    renameSync(aside, mine.path);
    throw new StateUnlockRefusedError(mine.path, runId, undefined);
  }
  unlinkSync(aside);
  return { location: mine.path, holder: describeOwner(mine.owner) };
}
