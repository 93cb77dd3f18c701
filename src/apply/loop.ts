/**
 * The apply loop: one plan, the targets it writes to, one loop. Target-agnostic: it orders the changes into
 * steps (src/model/target.ts APPLY_STEPS), runs each step with the width the target declares, stops starting
 * changes when the signal is aborted, and collects the results; each finished change goes to onChange (the
 * journal of a resumable apply) and onProgress. How a change is written is the target's business.
 *
 * Entra goes first, then the writeback changes (target ad): nothing in AD feeds the Entra changes within one
 * plan (writeback values come from the tenant as the plan read it, and anchor writeback does not change the
 * anchor), while a failed AD write must never stop the inbound sync, which keeps people's accounts right.
 */
import { AdsyncError } from '../errors.js';
import type { ApplyOptions, ApplyResult, FailedChange, SkippedChange } from '../model/apply.js';
import type { AttributeChange, Change, UpdateChange } from '../model/change.js';
import type { Plan } from '../model/plan.js';
import { APPLY_STEPS, type ApplyReporter, type ApplyStep, type Target, type TargetSystem } from '../model/target.js';

export type Targets = Partial<Record<TargetSystem, Target>>;

/** The order targets are applied in. */
export const TARGET_ORDER: readonly TargetSystem[] = ['entra', 'ad'];

const unique = (a: AttributeChange): boolean => a.name === 'userPrincipalName' || a.name === 'mail';

/**
 * The changes of each step, in plan order (membership adds before removes). A change with reference
 * attributes is in `references` too, besides its own step.
 */
export function applySteps(changes: readonly Change[]): Map<ApplyStep, Change[]> {
  const steps = new Map<ApplyStep, Change[]>(APPLY_STEPS.map((s) => [s, []]));
  const put = (step: ApplyStep, c: Change): void => void steps.get(step)!.push(c);
  // An update taking a UPN or address another update gives up goes after the others (found by
  // test/convergence: a new user took the UPN another user was leaving, and lost the race).
  const updates = changes.filter((c): c is UpdateChange => c.action === 'update');
  const freed = new Set(
    updates.flatMap((c) =>
      c.attributes
        .filter((a) => unique(a) && typeof a.before === 'string')
        .map((a) => (a.before as string).toLowerCase()),
    ),
  );
  const takesFreed = (c: UpdateChange): boolean =>
    c.attributes.some((a) => unique(a) && typeof a.after === 'string' && freed.has(a.after.toLowerCase()));
  for (const c of changes) {
    switch (c.action) {
      case 'delete':
        put(c.kind === 'user' ? 'delete-users' : 'delete-groups', c);
        break;
      case 'update':
        put(takesFreed(c) ? 'update-taking' : 'update', c);
        break;
      case 'restore':
        put('restore', c);
        break;
      case 'create':
      case 'adopt':
      case 'takeover': // the switch, then anchor and attributes (src/connectors/entra/takeover.ts)
      case 'release':
        put('create', c);
        break;
      case 'licenses':
        put('licenses', c);
        break;
      case 'add-members':
      case 'remove-members':
        break;
    }
  }
  for (const c of changes) if (c.action === 'add-members') put('members', c);
  for (const c of changes) if (c.action === 'remove-members') put('members', c);
  // References after every object of the steps above exists: updates (not taking first), then the rest.
  for (const step of ['update', 'update-taking', 'restore', 'create'] as const)
    for (const c of steps.get(step)!) if (c.action !== 'delete' && hasReference(c)) put('references', c);
  return steps;
}

/** Reference attributes are written once the object they name exists. */
export const REFERENCE_ATTRIBUTES: ReadonlySet<string> = new Set(['manager']);

function hasReference(c: Change): boolean {
  return 'attributes' in c && c.attributes.some((a) => REFERENCE_ATTRIBUTES.has(a.name));
}

/** Run `fn` over `items`, at most `width` at a time; start no more once `signal` is aborted. */
export async function pool<T>(
  items: readonly T[],
  width: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && signal?.aborted !== true) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, width), items.length) }, worker));
}

const systemOf = (c: Change): TargetSystem => (c.target === 'ad' ? 'ad' : 'entra');

/** Apply `plan` to its targets. Throws when a change's target is not among `targets`. */
export async function applyPlan(
  targets: Targets,
  plan: Pick<Plan, 'target' | 'changes' | 'prerequisites'>,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const started = Date.now();
  const total = plan.changes.length;
  const failed: FailedChange[] = [];
  const skipped: SkippedChange[] = [];
  let done = 0;
  let applied = 0;
  const report: ApplyReporter = {
    finish(change, outcome, id) {
      if (outcome === 'applied') applied++;
      done++;
      options.onChange?.(id === undefined ? { change, outcome } : { change, outcome, id });
      options.onProgress?.(done, total);
    },
    fail(change, operation, message) {
      failed.push({ change, operation, message });
    },
    skip(change, reason) {
      skipped.push({ change, reason });
    },
  };
  const result: ApplyResult = {
    applied: 0,
    failed,
    skipped,
    writes: 0,
    requests: 0,
    retries: 0,
    durationMs: 0,
    createdIds: {},
  };
  for (const system of TARGET_ORDER) {
    const changes = plan.changes.filter((c) => systemOf(c) === system);
    const prerequisites = (plan.prerequisites ?? []).filter((p) => p.target === system);
    if (changes.length === 0 && prerequisites.length === 0) continue;
    if (options.signal?.aborted === true) break;
    const target = targets[system];
    if (target === undefined)
      throw new AdsyncError('apply_no_target', `the plan has ${system} changes, but no ${system} target to apply them`);
    const run = await target.begin(
      { target: plan.target, changes, ...(prerequisites.length > 0 ? { prerequisites } : {}) },
      options,
      report,
    );
    for (const [step, items] of applySteps(changes))
      await pool(
        items,
        target.capabilities.width(step, options.concurrency),
        (change) => run.apply(change, step),
        options.signal,
      );
    const stats = run.end();
    result.writes += stats.writes;
    result.requests += stats.requests;
    result.retries += stats.retries;
    Object.assign(result.createdIds, stats.createdIds);
    if (stats.restoredMemberships !== undefined)
      result.restoredMemberships = [...(result.restoredMemberships ?? []), ...stats.restoredMemberships];
  }
  result.applied = applied;
  result.durationMs = Date.now() - started;
  return result;
}
