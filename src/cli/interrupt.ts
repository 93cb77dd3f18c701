/**
 * Ctrl-C (SIGINT) and SIGTERM (a cancelled pipeline job). Before apply writes anything, adsync stops at
 * once: nothing was changed, and the lock goes with the process (src/apply/lock.ts releases it on exit).
 * While apply writes, the first signal asks it to finish the requests in flight and start no more; it then
 * journals, saves the embedded tenant, releases the lock and says how to resume. A second signal stops at
 * once (the journal still holds every change finished so far). Either way a blob lease is released and
 * pending journal lines are saved first (src/state/exit-hooks.ts), bounded; a third signal exits at once.
 */
import { runSignalExitHooks } from '../state/exit-hooks.js';

export interface Interrupts {
  /** Aborted by the first signal of the graceful phase. */
  readonly signal: AbortSignal;
  /** The signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** From now on a signal stops the work gracefully (apply's writes). */
  graceful(): void;
  dispose(): void;
}

/** 128 + the signal's number, as shells report it. */
export function signalExitCode(sig: NodeJS.Signals | undefined): number {
  return sig === 'SIGTERM' ? 143 : 130;
}

export function trapInterrupts(what: string): Interrupts {
  const controller = new AbortController();
  let graceful = false;
  let received: NodeJS.Signals | undefined;
  let leaving = false;
  const exit = (sig: NodeJS.Signals): void => {
    if (leaving) process.exit(signalExitCode(sig));
    leaving = true;
    void runSignalExitHooks().finally(() => process.exit(signalExitCode(sig)));
  };
  const handler = (sig: NodeJS.Signals): void => {
    if (graceful && received === undefined) {
      received = sig;
      process.stderr.write(
        `\nInterrupted (${sig}): finishing the requests in flight, then stopping. Send it again to stop at once.\n`,
      );
      controller.abort();
      return;
    }
    received ??= sig;
    process.stderr.write(
      graceful
        ? `\nInterrupted (${sig}) again: stopping at once. Every change finished so far is journaled; run the same command again to resume.\n`
        : `\nInterrupted (${sig}): ${what} stopped before any write; nothing was changed.\n`,
    );
    exit(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    graceful() {
      graceful = true;
    },
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
