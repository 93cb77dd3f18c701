/**
 * The apply journal: one JSON line per finished change, in `<state dir>/journal/<plan digest>.jsonl`, so an
 * apply of a saved plan that was killed can be run again and resume: the journal tells apply that the
 * objects the plan touches may be part-way done (see checkSavedPlan), and which creates already happened
 * with which ids (so a read that lags behind Graph's writes can't make a second group).
 *
 * Lines are written with one write(2) each as changes finish: a killed process loses at most the changes
 * in flight, which the resume recognises from the target itself. An apply that completes marks its
 * journal complete and removes the journals of other plans.
 *
 * Each run starts a segment with a marker of the tenant's durability: for the embedded emulator, whose state
 * is saved when adsync exits normally, the state file's size and mtime. A killed run never saved it, so when
 * the file is exactly as the last segment found it, the entries of such segments never happened and are dropped.
 * For a real tenant every write is durable at once and the marker is null.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AdsyncError, describeFsError } from '../errors.js';
import type { ChangeOutcome } from './types.js';

export type TenantMarker = { size: number; mtimeMs: number } | null;

export type JournalLine =
  | { t: 'run'; at: string; total: number; tenant: TenantMarker; pid: number }
  | { t: 'done'; key: string; anchor: string; outcome: 'applied' | 'failed' | 'skipped'; id?: string }
  | { t: 'complete'; at: string };

export interface JournalState {
  /** An earlier apply of this plan was interrupted or failed part-way. */
  resumed: boolean;
  /** Keys (`action kind anchor`) of changes an earlier run finished successfully. */
  done: Set<string>;
  /** anchor → id of the objects earlier runs created or restored. */
  createdIds: Map<string, string>;
  /** Runs recorded so far (after dropping a segment that never became durable). */
  runs: number;
  /** An earlier run finished the plan. */
  complete: boolean;
}

export function journalDir(stateDir: string): string {
  return join(stateDir, 'journal');
}

function sameMarker(a: TenantMarker, b: TenantMarker): boolean {
  return a !== null && b !== null && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** What a journal's text says earlier runs did (lines cut short by a kill are skipped); shared by every store. */
export function journalState(text: string, tenantNow: TenantMarker): JournalState {
  const segments: {
    run: Extract<JournalLine, { t: 'run' }>;
    done: Extract<JournalLine, { t: 'done' }>[];
    complete: boolean;
  }[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line: JournalLine;
    try {
      line = JSON.parse(raw) as JournalLine;
    } catch {
      continue; // a line cut short by a kill
    }
    if (line.t === 'run') segments.push({ run: line, done: [], complete: false });
    else if (line.t === 'done' && segments.length > 0) segments[segments.length - 1]!.done.push(line);
    else if (line.t === 'complete' && segments.length > 0) segments[segments.length - 1]!.complete = true;
  }
  // Runs killed before the embedded tenant was saved left it exactly as they found it: their entries never happened.
  while (segments.length > 0 && sameMarker(segments[segments.length - 1]!.run.tenant, tenantNow)) segments.pop();
  const state: JournalState = {
    resumed: segments.length > 0,
    done: new Set(),
    createdIds: new Map(),
    runs: segments.length,
    complete: segments.some((s) => s.complete),
  };
  for (const s of segments) {
    for (const d of s.done) {
      if (d.outcome !== 'applied') continue;
      state.done.add(d.key);
      if (d.id !== undefined) state.createdIds.set(d.anchor, d.id);
    }
  }
  return state;
}

export class ApplyJournal {
  readonly path: string;
  private fd: number | undefined;

  private constructor(
    readonly dir: string,
    readonly planDigest: string,
    readonly state: JournalState,
  ) {
    this.path = join(dir, `${planDigest}.jsonl`);
  }

  /** Reads what earlier runs of this plan recorded; `tenantNow` is the tenant's marker now. */
  static open(stateDir: string, planDigest: string, tenantNow: TenantMarker): ApplyJournal {
    const dir = journalDir(stateDir);
    const path = join(dir, `${planDigest}.jsonl`);
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new AdsyncError('journal_read', `cannot read the apply journal ${path}: ${describeFsError(err)}`, {
          hint: `${dir} must be a directory adsync can read and write (it keeps what each apply finished, to resume)`,
        });
      }
    }
    const state = journalState(text, tenantNow);
    return new ApplyJournal(dir, planDigest, state);
  }

  /** Starts this run's segment (creating the journal if needed). */
  begin(total: number, tenant: TenantMarker): void {
    this.openForAppend();
    this.write({ t: 'run', at: new Date().toISOString(), total, tenant, pid: process.pid });
  }

  record(event: ChangeOutcome, key: string): void {
    const line: JournalLine = {
      t: 'done',
      key,
      anchor: event.change.anchor,
      outcome: event.outcome,
      ...(event.id !== undefined ? { id: event.id } : {}),
    };
    this.write(line);
  }

  /**
   * The apply finished with no failure. This plan's journal stays, marked complete, so running the same
   * command again (a retried pipeline job) finds nothing left to do instead of a "stale" plan; the journals
   * of other plans are done with.
   */
  complete(): void {
    if (this.fd === undefined) this.openForAppend();
    this.write({ t: 'complete', at: new Date().toISOString() });
    this.close();
    for (const name of safeReaddir(this.dir)) {
      if (name.endsWith('.jsonl') && name !== `${this.planDigest}.jsonl`) {
        try {
          unlinkSync(join(this.dir, name));
        } catch {
          // already gone
        }
      }
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private openForAppend(): void {
    try {
      mkdirSync(this.dir, { recursive: true });
      this.fd = openSync(this.path, 'a', 0o600);
    } catch (err) {
      throw journalError(this.path, err);
    }
  }

  private write(line: JournalLine): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, `${JSON.stringify(line)}\n`);
    } catch (err) {
      // Without the journal an interrupted apply can't resume safely: stop, saying where and why.
      throw journalError(this.path, err);
    }
  }
}

function journalError(path: string, err: unknown): AdsyncError {
  return new AdsyncError('journal_write', `cannot write the apply journal ${path}: ${describeFsError(err)}`, {
    hint: 'free space or fix the permissions of the state directory, then run the same command again',
  });
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
