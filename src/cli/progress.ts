/**
 * Progress on stderr, for a person at a terminal only: a spinner with the phase ("reading the sources and
 * the tenant", "applying 1,204/2,161 (55%)"). It uses oclif's `ux.action` (already a dependency, kept by
 * oclif, and it pauses itself around other output), and is off when stderr is not a terminal, so pipeline
 * logs and captured output never carry carriage-return noise. Pipelines get `apply.progress` events in the
 * JSON log instead (--log-format json).
 */
import { ux } from '@oclif/core';
import type { Log } from './log.js';

export interface Progress {
  phase(text: string): void;
  /** Counting progress of the current phase. */
  update(done: number, total: number): void;
  stop(text?: string): void;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

export function createProgress(options: { enabled: boolean; log: Log; what: string }): Progress {
  const { log } = options;
  const tty = options.enabled && process.stderr.isTTY === true;
  let lastPercent = -1;
  let running = false;
  return {
    phase(text) {
      lastPercent = -1;
      if (!tty) return;
      if (running) ux.action.stop();
      ux.action.start(text);
      running = true;
    },
    update(done, total) {
      const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
      if (tty) ux.action.status = `${fmt(done)}/${fmt(total)} (${percent}%)`;
      // JSON logs: one event per whole percent (at most ~100 lines however large the apply).
      if (percent !== lastPercent) {
        lastPercent = percent;
        log.detail(`${options.what} ${done}/${total}`, { event: `${options.what}.progress`, done, total, percent });
      }
    },
    stop(text) {
      if (tty && running) ux.action.stop(text ?? 'done');
      running = false;
    },
  };
}
