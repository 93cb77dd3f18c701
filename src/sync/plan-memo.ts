/**
 * The stored plan (issue 15): a run that finds nothing changed since the last plan shows that plan again without
 * reading the stored snapshots or planning. "Nothing changed" is decided by what the plan was made from:
 *
 *   key      adsync's version, the spec's bytes (its digest) and the path it is shown as, and every source's read
 *            as the incremental read identifies it (LDIF: the read scope and the export's content digest; AD: the
 *            stored state's scope and where its next read starts — the DC, its invocationId, the DirSync cookies
 *            or the uSNChanged watermark — and the DC is asked whether anything changed since: ad-incremental.ts);
 *   target   the read scope (the `$select` lists, the anchor) and the delta links the tenant was read up to: a
 *            round of them that returns no change says the tenant is still what the plan saw, and the tenant's
 *            fingerprint (its id and domains, the directory role holders, the directory-sync status: what a
 *            read sees besides the objects) must be equal too;
 *   clock    the instants between which the same inputs make the same plan (engine ClockWindow: disable-first's
 *            grace periods): outside them the plan is made anew.
 *
 * The memo holds the plan without `read` (`createdAt` and `read` are the showing run's), the scope warnings,
 * the managed membership count (guard rails) and the directory role holders the plan touches (markdown): no
 * secret (a plan holds none) and small; a plan larger than MAX_MEMO_BYTES is not stored. Any memo whose key,
 * links and fingerprint match is right, whichever run wrote it, so it is written without a condition.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync, constants } from 'node:zlib';
import type { ClockWindow } from '../engine/safety.js';
import type { Plan } from '../model/plan.js';
import type { StateBackend } from '../state/backend.js';

const FORMAT = 'adsync-plan-memo/1';
export const PLAN_MEMO_NAME = 'sync-plan.json.gz';
/** Plans larger than this (as JSON) are not stored: a pipeline's steady state is small plans. */
export const MAX_MEMO_BYTES = 8 * 1024 * 1024;

/**
 * What identifies a source's read: LDIF, the scope and the content digest; AD, the stored state's scope and its
 * change position (ad-incremental.ts adPosition). Undefined when it can't be told cheaply.
 */
export interface SourceKey {
  source: string;
  scope: string;
  digest: string;
}

export interface PlanMemo {
  format: typeof FORMAT;
  key: string;
  /**
   * The key without the exports' digests (adsync, the spec, the read scopes): a memo whose base is the run's
   * may be patched when only the exports' bytes changed (local-edits.ts). Absent in memos of earlier versions.
   */
  base?: string;
  target: {
    scope: string;
    links: { users: string; groups: string };
    fingerprint: string;
  };
  clock: ClockWindow;
  /** The plan as made, without `read` (its `createdAt` is replaced by the run that shows it again). */
  plan: Omit<Plan, 'read'>;
  warnings: string[];
  managedMembers: number;
  /** Directory role holders by target id (the markdown renderer names them). */
  admins: [string, readonly string[]][];
}

export function memoKey(input: {
  toolVersion: string;
  specDigest: string;
  specPath: string;
  sources: readonly SourceKey[];
}): string {
  const sources = [...input.sources].sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  // Fields in one order, whatever order the caller's object has them in.
  const { toolVersion, specDigest, specPath } = input;
  return createHash('sha256').update(JSON.stringify({ toolVersion, specDigest, specPath, sources })).digest('hex');
}

/** Whether a plan made at `now` from the same inputs is the memo's (the clock inside its window). */
export function withinWindow(w: ClockWindow, now: Date): boolean {
  const t = now.getTime();
  return (w.from === null || w.from <= t) && (w.until === null || t < w.until);
}

/** Above this many changes and reports a plan is not even serialized for the memo (it would exceed the bytes). */
const MAX_MEMO_ITEMS = 20_000;

export function encodeMemo(memo: Omit<PlanMemo, 'format'>): Buffer | undefined {
  if (memo.plan.changes.length + memo.plan.reports.length > MAX_MEMO_ITEMS) return undefined;
  const json = JSON.stringify({ format: FORMAT, ...memo });
  if (json.length > MAX_MEMO_BYTES) return undefined;
  return gzipSync(json, { level: constants.Z_BEST_SPEED });
}

export function decodeMemo(bytes: Buffer): PlanMemo | undefined {
  try {
    const memo = JSON.parse(gunzipSync(bytes).toString('utf8')) as Partial<PlanMemo>;
    return memo.format === FORMAT ? (memo as PlanMemo) : undefined;
  } catch {
    return undefined; // damaged or another format: plan as usual (and write a new one)
  }
}

export async function loadMemo(backend: StateBackend): Promise<PlanMemo | undefined> {
  const obj = await backend.read(PLAN_MEMO_NAME);
  return obj === undefined ? undefined : decodeMemo(obj.bytes);
}

/** Stores the memo (last writer wins: every memo is right for its own key). Returns its size, or undefined. */
export async function saveMemo(backend: StateBackend, memo: Omit<PlanMemo, 'format'>): Promise<number | undefined> {
  const bytes = encodeMemo(memo);
  if (bytes === undefined) return undefined;
  await backend.write(PLAN_MEMO_NAME, bytes);
  return bytes.length;
}
