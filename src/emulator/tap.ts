/**
 * Counts what the tenant took, and lets a test stop it at an exact point. A write is a Graph request other
 * than GET (each inner request of a `$batch` on its own; `getByIds` is a read) that was answered 2xx.
 *
 * `freezeAfter`: once the given number of writes has been executed (or of HTTP requests received), the
 * emulator executes and answers nothing more — not the rest of the `$batch` that write came in, not any new
 * request — until `unfreeze()`. A test kills its client there: a crash right after exactly N writes reached
 * the tenant, the same N every time the test runs with the same seed. Held requests are then dropped (their
 * connections closed); a client still alive sees a network failure.
 */
import type { ServerResponse } from 'node:http';
import type { GraphRequest } from './http.js';

export type FreezePoint = { writes: number } | { requests: number };

export class RequestTap {
  /** Writes executed since the emulator started. */
  writes = 0;
  /** HTTP requests received since the emulator started (token requests included). */
  requests = 0;
  frozen = false;
  private limit: { writes: number } | { requests: number } | undefined;
  private onFrozen: (() => void) | undefined;
  private held: ServerResponse[] = [];

  /** Resolves when the tenant froze at `at` (counted from now). A new call replaces a pending one. */
  freezeAfter(at: FreezePoint): Promise<void> {
    this.limit = 'writes' in at ? { writes: this.writes + at.writes } : { requests: this.requests + at.requests };
    return new Promise((resolve) => {
      this.onFrozen = resolve;
      if ('requests' in at && at.requests === 0) this.freeze();
    });
  }

  unfreeze(): void {
    this.limit = undefined;
    this.onFrozen = undefined;
    this.frozen = false;
    for (const res of this.held.splice(0)) res.destroy();
  }

  /** An HTTP request arrived: false when it must be held (call `hold`). */
  admit(): boolean {
    this.requests++;
    if (!this.frozen && this.limit && 'requests' in this.limit && this.requests > this.limit.requests) this.freeze();
    return !this.frozen;
  }

  /** May this Graph request run? No once frozen; a write also waits when the limit is reached already (0 writes). */
  mayRun(req: Pick<GraphRequest, 'method' | 'segments'>): boolean {
    if (!this.frozen && isWrite(req) && this.limit && 'writes' in this.limit && this.writes >= this.limit.writes)
      this.freeze();
    return !this.frozen;
  }

  /** A Graph request ran and was answered `status`. */
  ran(req: Pick<GraphRequest, 'method' | 'segments'>, status: number): void {
    if (!isWrite(req) || status < 200 || status >= 300) return;
    this.writes++;
    if (this.limit && 'writes' in this.limit && this.writes >= this.limit.writes) this.freeze();
  }

  hold(res: ServerResponse): void {
    this.held.push(res);
  }

  private freeze(): void {
    this.frozen = true;
    const done = this.onFrozen;
    this.onFrozen = undefined;
    done?.();
  }
}

function isWrite(req: Pick<GraphRequest, 'method' | 'segments'>): boolean {
  if (req.method === 'GET' || req.segments[0] === '$batch') return false;
  return !(req.segments[0] === 'directoryObjects' && req.segments[1] === 'getByIds');
}
