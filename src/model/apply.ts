/** What an apply is asked to do and what it reports: shared by the apply loop (src/apply) and the targets. */
import type { Change } from './change.js';

/** A write pacing: at most `writes` writes per `perSeconds` seconds (Graph's budget, graph-facts §7). */
export interface WriteBudget {
  /** Writes allowed per window. */
  writes: number;
  /** Window length in seconds. */
  perSeconds: number;
}

export interface ApplyOptions {
  /** Called after each change is finished (applied, failed or skipped). */
  onProgress?(done: number, total: number): void;
  /** `$batch` requests in flight (default 4). */
  concurrency?: number;
  /** Override the connector's write pacing (null = unpaced). */
  writeBudget?: WriteBudget | null;
  /** Called once per finished change, e.g. to journal it for a resumable apply. */
  onChange?(event: ChangeOutcome): void;
  /** Aborted: start no more changes (those in flight finish and are reported as usual). */
  signal?: AbortSignal;
}

export interface ChangeOutcome {
  change: Change;
  outcome: 'applied' | 'failed' | 'skipped';
  /** The object's id after the change (creates and restores). */
  id?: string;
}

export interface FailedChange {
  change: Change;
  /** What adsync tried, e.g. `create user`, `add member bob@contoso.com to group Sales`. */
  operation: string;
  /** Graph's status, code and message. */
  message: string;
}

export interface SkippedChange {
  change: Change;
  reason: string;
}

export interface ApplyResult {
  /** Changes applied completely. */
  applied: number;
  failed: FailedChange[];
  skipped: SkippedChange[];
  /** Write requests sent to Graph (each retry counts, as in Graph's budget). */
  writes: number;
  /** HTTP requests sent (one per `$batch`). */
  requests: number;
  retries: number;
  durationMs: number;
  /** anchor → id of the objects this apply created or restored. */
  createdIds: Record<string, string>;
  /**
   * Per restored user (RestoreChange.memberships): the adsync-owned groups (ids) Graph restored it into that
   * apply removed it from (`removed`, one write each, part of the restore change) and those it stays in
   * (`kept`: a planned add of it to one of them is done already, no write).
   */
  restoredMemberships?: { anchor: string; id: string; removed: string[]; kept: string[] }[];
}
