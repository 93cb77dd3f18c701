/**
 * The apply journal wherever the state lives. `local`: the journal file of src/apply/journal.ts, unchanged
 * (one write(2) per finished change). `azureBlob`: the same lines in the state `journal-<plan digest>.jsonl`,
 * so a re-run on another runner, or from another working directory, resumes the same apply.
 *
 * Lines are appended in batches (group commit): each append carries the ETag of the one before (If-Match), so
 * two runs can never both extend the same journal; a run that loses that race, or whose lock lease was lost,
 * stops at its next change. A kill loses at most the lines of the batch not yet appended (a fraction of a
 * second): like changes in flight, the resume recognises those from the tenant itself (src/cli/saved-plan.ts).
 */
import { ApplyJournal, journalState } from '../apply/journal.js';
import type { JournalLine, JournalState, TenantMarker } from '../apply/journal.js';
import type { ChangeOutcome } from '../apply/types.js';
import { AdsyncError } from '../errors.js';
import type { HeldStateLock, StateBackend } from './backend.js';
import { beforeSignalExit } from './exit-hooks.js';

export interface Journal {
  readonly state: JournalState;
  /** Where it is, for messages and logs. */
  readonly path: string;
  /** Starts this run's segment; stored before the first write. */
  begin(total: number, tenant: TenantMarker): Promise<void>;
  /** Records a finished change; throws (stopping the apply) if the journal can no longer be written. */
  record(event: ChangeOutcome, key: string): void;
  /** Saves what is pending and stops (an interrupted or failed apply). */
  close(): Promise<void>;
  /** The plan is done: marks it complete and forgets the journals of other plans. */
  complete(): Promise<void>;
}

const PREFIX = 'journal-';
export const journalName = (planDigest: string): string => `${PREFIX}${planDigest}.jsonl`;

export interface BackendJournalOptions {
  /** Lines are gathered this long before an append (default 250 ms): one request per batch, not per change. */
  batchMs?: number;
}

/** The journal as one state in a backend, appended to conditionally. */
export class BackendJournal implements Journal {
  readonly path: string;
  private etag: string | undefined;
  private pending: string[] = [];
  private text: string;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failure: AdsyncError | undefined;
  private unhook: (() => void) | undefined;
  private readonly batchMs: number;

  private constructor(
    private readonly backend: StateBackend,
    private readonly name: string,
    readonly state: JournalState,
    existing: { text: string; etag: string | undefined },
    private readonly lock: HeldStateLock | undefined,
    options: BackendJournalOptions,
  ) {
    this.path = `${backend.location}/${name}`;
    this.text = existing.text;
    this.etag = existing.etag;
    this.batchMs = options.batchMs ?? 250;
  }

  static async open(
    backend: StateBackend,
    planDigest: string,
    tenantNow: TenantMarker,
    lock?: HeldStateLock,
    options: BackendJournalOptions = {},
  ): Promise<BackendJournal> {
    const name = journalName(planDigest);
    const found = await backend.read(name);
    const text = found?.bytes.toString('utf8') ?? '';
    return new BackendJournal(backend, name, journalState(text, tenantNow), { text, etag: found?.etag }, lock, options);
  }

  async begin(total: number, tenant: TenantMarker): Promise<void> {
    this.unhook ??= beforeSignalExit(() => this.flush());
    this.queue({ t: 'run', at: new Date().toISOString(), total, tenant, pid: process.pid });
    await this.flush();
  }

  record(event: ChangeOutcome, key: string): void {
    this.queue({
      t: 'done',
      key,
      anchor: event.change.anchor,
      outcome: event.outcome,
      ...(event.id !== undefined ? { id: event.id } : {}),
    });
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => undefined); // kept in this.failure: the next record throws it
    }, this.batchMs);
    this.timer.unref(); // close() flushes what is pending; the timer alone must not keep a process alive
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.unhook?.();
      this.unhook = undefined;
    }
  }

  async complete(): Promise<void> {
    this.queue({ t: 'complete', at: new Date().toISOString() });
    await this.close();
    if (this.backend.list && this.backend.remove) {
      for (const other of await this.backend.list(PREFIX))
        if (other !== this.name && other.endsWith('.jsonl')) await this.backend.remove(other);
    }
  }

  /** Throws what stopped the journal: a failed append, or the apply lock lost. */
  private check(): void {
    if (this.failure) throw this.failure;
    this.lock?.assertHeld();
  }

  private queue(line: JournalLine): void {
    this.check();
    this.pending.push(`${JSON.stringify(line)}\n`);
  }

  /** Appends everything pending, one append at a time (each conditional on the ETag of the one before). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.flushing) await this.flushing;
    if (this.failure) throw this.failure;
    if (this.pending.length === 0) return;
    const batch = this.pending.splice(0).join('');
    this.flushing = this.append(batch).finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
    if (this.failure) throw this.failure;
  }

  private async append(batch: string): Promise<void> {
    const bytes = Buffer.from(batch, 'utf8');
    const condition = this.etag === undefined ? ({ ifNoneMatch: '*' } as const) : { ifMatch: this.etag };
    try {
      if (this.backend.append) {
        this.etag = await this.backend.append(this.name, bytes, condition);
      } else {
        this.etag = await this.backend.write(this.name, Buffer.from(this.text + batch, 'utf8'), condition);
      }
      this.text += batch;
    } catch (err) {
      this.failure =
        err instanceof AdsyncError
          ? new AdsyncError('journal_write', `cannot write the apply journal ${this.path}: ${err.message}`, {
              hint: err.hint ?? 'run the same command again once the state is reachable: it resumes',
              cause: err,
            })
          : new AdsyncError('journal_write', `cannot write the apply journal ${this.path}`, {
              hint: 'run the same command again once the state is reachable: it resumes',
            });
    }
  }
}

/** The local journal file behind the same interface. */
class FileJournal implements Journal {
  constructor(private readonly file: ApplyJournal) {}
  get state(): JournalState {
    return this.file.state;
  }
  get path(): string {
    return this.file.path;
  }
  begin(total: number, tenant: TenantMarker): Promise<void> {
    this.file.begin(total, tenant);
    return Promise.resolve();
  }
  record(event: ChangeOutcome, key: string): void {
    this.file.record(event, key);
  }
  close(): Promise<void> {
    this.file.close();
    return Promise.resolve();
  }
  complete(): Promise<void> {
    this.file.complete();
    return Promise.resolve();
  }
}

/**
 * The journal of a plan: in the backend when the state is remote (azureBlob), else the local journal file in
 * `stateDir` exactly as before.
 */
export async function openJournal(
  where: { stateDir: string; remote: StateBackend | undefined; lock?: HeldStateLock | undefined },
  planDigest: string,
  tenantNow: TenantMarker,
): Promise<Journal> {
  if (where.remote) return BackendJournal.open(where.remote, planDigest, tenantNow, where.lock);
  return new FileJournal(ApplyJournal.open(where.stateDir, planDigest, tenantNow));
}
