/**
 * Saved plans: apply runs exactly what was reviewed. A saved plan records the spec's digest and, on every
 * change, a digest of the target object as the plan saw it (`observed`). At apply time the plan is refused,
 * naming the objects, when the spec changed, when an object it touches changed (its digest differs, even if
 * a fresh plan's change list would come out the same), or when a plan made now would change one of its
 * objects differently (its source changed). Changes elsewhere since the plan don't make it stale: they are
 * counted and left for the next run, so plan → approval → apply works on a directory that lives meanwhile.
 *
 * A saved plan whose apply was interrupted (its journal says so, see src/apply/journal.ts) is resumed: each
 * object must then be untouched or part-way to what the plan said, and only what remains is applied.
 *
 * Pure rules over a saved plan and a fresh one from planFor(); reading the file is src/cli/saved-plan.ts.
 */
import { createHash } from 'node:crypto';
import { AdsyncError } from '../errors.js';
import { isObjectRef, type Change, type MemberRef } from '../model/change.js';
import type { Plan } from '../model/plan.js';
import { summarize } from '../model/plan.js';
import { safeText } from '../render/escape.js';
import type { TargetSnapshot } from '../model/target.js';
import { canonicalJson, ObservedIndex } from './stages/observed.js';

export { canonicalJson, objectDigest, ObservedIndex } from './stages/observed.js';

/**
 * Integrity: the fields apply trusts must be present and agree with the rest of the plan. A plan edited by
 * hand (a lower `managed`, a summary that hides deletes, a change without the digest of what it touches, no
 * tenant) is refused; apply recomputes everything its guard rails use from the changes and a fresh read.
 */
export function checkIntegrity(saved: Plan, fresh: Pick<Plan, 'target'>, path: string): void {
  const refuse = (what: string): never => {
    throw new AdsyncError('plan_invalid', `the saved plan ${path} was altered or is incomplete: ${what}`, {
      hint: 'apply only plans written by `adsync plan --out`, as written; make a new one and review it',
    });
  };
  if (saved.target.system !== fresh.target.system)
    refuse(`it targets ${saved.target.system}, the spec targets ${fresh.target.system}`);
  if (fresh.target.tenantId !== undefined && saved.target.tenantId === undefined)
    refuse('it names no tenant (target.tenantId)');
  const missing = saved.changes.filter((c) => typeof c.observed !== 'string');
  if (missing.length > 0)
    refuse(
      `${missing.length} change(s) lack the digest of the object they touch (observed), e.g. ${missing[0]!.kind} ${safeText(missing[0]!.label)}`,
    );
  const recomputed = summarize(saved.changes, saved.reports);
  if (
    canonicalJson({ ...saved.summary, adopt: (saved.summary.adopt as number | undefined) ?? 0 }) !==
    canonicalJson(recomputed)
  )
    refuse('its summary does not match its changes');
}

/** The identity of a plan for the journal: its spec digest, target and changes (not its timestamp). */
export function planDigest(plan: Pick<Plan, 'spec' | 'target' | 'changes'>): string {
  // Hashed change by change: one canonical string of a whole forest's plan would cost gigabytes.
  const hash = createHash('sha256').update(canonicalJson({ spec: plan.spec.digest, target: plan.target }));
  for (const change of plan.changes) hash.update('\n').update(canonicalJson(change));
  return hash.digest('hex');
}

// ---- staleness

/** Writeback changes (target `ad`) key apart from inbound ones: a user's anchor names both its Entra and its AD object. */
const targetPrefix = (c: { target?: Change['target'] }): string => (c.target === 'ad' ? 'ad ' : '');
const objectKey = (c: Pick<Change, 'kind' | 'anchor'> & { target?: Change['target'] }): string =>
  `${targetPrefix(c)}${c.kind} ${c.anchor}`;

function byObject(changes: readonly Change[]): Map<string, Change[]> {
  const m = new Map<string, Change[]>();
  for (const c of changes) {
    const k = objectKey(c);
    const list = m.get(k);
    if (list) list.push(c);
    else m.set(k, [c]);
  }
  return m;
}

/**
 * A change as the re-plan comparison sees it: without the digest (compared separately), and without the
 * disable intent, which plans saved before it existed lack (it is derived from the rule and the attributes,
 * which are compared; isDisable reads those plans by them).
 */
function comparable(c: Change): string {
  const { observed: _observed, ...rest } = c;
  if (rest.action === 'update' && rest.disable !== undefined) {
    const { disable: _disable, ...plain } = rest;
    return canonicalJson(plain);
  }
  return canonicalJson(rest);
}

function sameChanges(a: readonly Change[], b: readonly Change[]): boolean {
  if (a.length !== b.length) return false;
  const sa = a.map(comparable).sort();
  const sb = b.map(comparable).sort();
  return sa.every((x, i) => x === sb[i]);
}

/** References compare by anchor: a resumed plan knows the id of a manager the interrupted run created. */
const attrKey = (a: { name: string; after?: unknown }): string =>
  `${a.name}=${canonicalJson(isObjectRef(a.after) ? { ref: a.after.anchor } : (a.after ?? null))}`;
const memberAnchors = (ms: readonly MemberRef[]): Set<string> => new Set(ms.map((m) => m.anchor));
const subset = <T>(a: Iterable<T>, b: Set<T>): boolean => {
  for (const x of a) if (!b.has(x)) return false;
  return true;
};

/**
 * True when `fresh` (what a plan made now wants for one object) is what is left of `saved` (what the saved
 * plan wanted) after part of it was applied: every fresh change is a saved change, or part of one.
 */
export function isRemainder(saved: readonly Change[], fresh: readonly Change[]): boolean {
  return fresh.every((f) =>
    saved.some((s) => {
      switch (f.action) {
        case 'create':
          return s.action === 'create' && canonicalJson(s.attributes) === canonicalJson(f.attributes);
        case 'restore':
          return s.action === 'restore' && subset(f.attributes.map(attrKey), new Set(s.attributes.map(attrKey)));
        case 'update':
          // A restore (or an adopt) whose follow-up update was cut short leaves an update behind; so does a
          // create whose references (manager, set through $ref after every create) were not set yet.
          return (
            (s.action === 'update' ||
              s.action === 'restore' ||
              (s.action as string) === 'adopt' ||
              s.action === 'create') &&
            'attributes' in s &&
            subset(f.attributes.map(attrKey), new Set(s.attributes.map(attrKey)))
          );
        case 'delete':
          return s.action === 'delete';
        case 'add-members':
        case 'remove-members':
          return s.action === f.action && subset(memberAnchors(f.members), memberAnchors(s.members));
        default:
          // Any other action (e.g. adopt) is atomic: still wanted exactly as saved, or done.
          return s.action === (f as Change).action && comparable(s) === comparable(f);
      }
    }),
  );
}

export interface StaleCheckInput {
  saved: Plan;
  /** A plan made now from the same spec, and the snapshot it was made from. */
  fresh: Plan;
  snapshot: TargetSnapshot;
  /** The AD objects the writeback changes touch, as read for the fresh plan (ids are DNs). */
  adSnapshot?: TargetSnapshot;
  specDigest: string;
  path: string;
  /** Set when an earlier apply of this very plan was interrupted (its journal). */
  resume?: { done: ReadonlySet<string>; createdIds: ReadonlyMap<string, string> };
}

/**
 * The changes a plan made now has on objects the saved plan does not touch: what changed elsewhere since the
 * plan was made. Apply leaves them for the next run and says how many there are.
 */
export function furtherChanges(saved: Pick<Plan, 'changes'>, fresh: Pick<Plan, 'changes'>): Change[] {
  const touched = new Set(saved.changes.map(objectKey));
  return fresh.changes.filter((c) => !touched.has(objectKey(c)));
}

/** Journal key of a change: one per action and object (a plan has at most one change per pair). */
export const changeKey = (c: Pick<Change, 'action' | 'kind' | 'anchor'> & { target?: Change['target'] }): string =>
  `${targetPrefix(c)}${c.action} ${c.kind} ${c.anchor}`;

/**
 * Throws a stale-plan error naming the objects that changed; otherwise returns the plan to apply: the saved
 * plan itself, or, when resuming, what is left of it (taken from the fresh plan, so ids of objects the
 * interrupted run created are known).
 */
export function checkSavedPlan(input: StaleCheckInput): Plan {
  const { saved, fresh, snapshot, specDigest, path, resume } = input;
  if (saved.spec.digest !== specDigest) {
    throw new AdsyncError(
      'plan_stale',
      `the saved plan ${path} was made from a different version of the spec (digest ${saved.spec.digest.slice(0, 12)}, now ${specDigest.slice(0, 12)})`,
      {
        hint: 'run `adsync plan --out` again and review the new plan',
      },
    );
  }
  checkIntegrity(saved, fresh, path);
  if (
    saved.target.tenantId !== undefined &&
    fresh.target.tenantId !== undefined &&
    saved.target.tenantId !== fresh.target.tenantId
  ) {
    throw new AdsyncError(
      'plan_wrong_tenant',
      `the saved plan ${path} is for tenant ${saved.target.tenantId}, but the spec's target is tenant ${fresh.target.tenantId}`,
      {
        hint: 'plan and apply against the same tenant',
      },
    );
  }
  const entraIndex = new ObservedIndex(snapshot);
  const adIndex = new ObservedIndex(input.adSnapshot ?? { system: 'ad', objects: [], deleted: [] });
  const savedBy = byObject(saved.changes);
  const freshBy = byObject(fresh.changes);
  const stale: { label: string; why: string }[] = [];
  for (const [k, sx] of savedBy) {
    const fx = freshBy.get(k) ?? [];
    const first = sx[0]!;
    const label = `${first.target === 'ad' ? 'AD ' : ''}${first.kind} ${safeText(first.label)}`;
    const index = first.target === 'ad' ? adIndex : entraIndex;
    const now = index.digest(sx.find((c) => 'id' in c && c.id !== undefined) ?? first);
    const untouched = sx.every((c) => c.observed === undefined || c.observed === now);
    if (resume) {
      // An object the interrupted run may have touched: whatever a plan made now still wants for it must be
      // part of what the saved plan wanted. (A hand edit that leaves it so can't be told apart, and is harmless.)
      if (isRemainder(sx, fx)) continue;
      stale.push({ label, why: 'changed since the plan was made (and not by the interrupted apply)' });
    } else if (!untouched) {
      stale.push({ label, why: 'changed in the target since the plan was made' });
    } else if (!sameChanges(sx, fx)) {
      stale.push({ label, why: 'a plan made now would change it differently' });
    }
  }
  // Objects the saved plan doesn't touch are no reason to refuse it: what changed there since is left for
  // the next plan (apply reports how many, see furtherChanges).
  if (stale.length > 0) {
    const labels = [...new Set(stale.map((s) => s.label))].sort();
    const list = labels.slice(0, 10).join(', ') + (labels.length > 10 ? `, and ${labels.length - 10} more` : '');
    const details = stale
      .slice(0, 10)
      .map((s) => `${s.label}: ${s.why}`)
      .sort();
    throw new AdsyncError(
      'plan_stale',
      `the saved plan ${path} is stale: ${labels.length} object(s) changed since it was made: ${list}\n${details.join('\n')}`,
      {
        hint: 'run `adsync plan --out` again and review the new plan',
      },
    );
  }
  if (!resume) return saved;
  // What is left, from the fresh plan; creates the journal saw succeed are not redone even if a lagging read
  // does not show the object yet (the duplicate a group create would otherwise make), and their ids are used.
  const changes: Change[] = [];
  for (const c of fresh.changes) {
    if (c.action === 'create' && resume.createdIds.has(c.anchor)) continue;
    changes.push(withKnownIds(c, resume.createdIds));
  }
  return { ...saved, changes, summary: summarize(changes, saved.reports) };
}

function withKnownIds(c: Change, ids: ReadonlyMap<string, string>): Change {
  if (c.action !== 'add-members') return c;
  const id = c.id ?? ids.get(c.anchor);
  const members = c.members.map((m) => {
    const mid = m.id ?? ids.get(m.anchor);
    return mid === undefined ? m : { ...m, id: mid };
  });
  return { ...c, ...(id === undefined ? {} : { id }), members };
}
