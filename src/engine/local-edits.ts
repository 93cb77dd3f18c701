/**
 * Local edits (issue 15: a plan after 100 AD changes in seconds). Most edits in a directory change a user's
 * title, department or phone: properties no other object's plan reads. For such an edit the plan changes in
 * one place only, that user's own update, so the stored plan (src/sync/plan-memo.ts) can be patched: the
 * edited users are planned anew, each with the objects its change names (its manager), and their changes
 * replace theirs in the stored plan. Pure: plain data in, plain data out.
 *
 * What makes an edit local is decided on the desired objects, not on the source attributes: `sharedDigest`
 * covers everything of a desired user except LOCAL_USER_PROPERTIES (identity, DN, scope verdict, anchor,
 * unique values, references, takeover and licence verdicts, how it is labelled). Two desired states whose
 * users have the same shared digests give every other object the same plan; the edited user's own change
 * depends on its desired object and its target object only, once nothing reports about it. The property test
 * in test/sync/incremental.test.ts checks the patched plan against a full plan over random histories.
 */
import { hash as digestOf } from 'node:crypto';
import type { Change, ReportItem } from '../model/change.js';
import type { Plan } from '../model/plan.js';
import type { DirectoryEntry } from '../model/entry.js';
import type { DesiredObject, DesiredState } from './desired.js';
import { classify } from './scope.js';
import type { ClockWindow } from './safety.js';
import { sortAndSummarize } from './stages/sort-summary.js';
import { prerequisitesStage } from './stages/prerequisites.js';

/**
 * User properties only the user's own change reads: not unique (UPN, mail, proxyAddresses and mailNickname are
 * compared across objects), not a reference (manager), not its label (userPrincipalName) or identity
 * (onPremisesImmutableId), not displayName (named in other objects' reports). A custom flow's property is
 * never local: the list names the default flows' business properties only.
 */
export const LOCAL_USER_PROPERTIES: ReadonlySet<string> = new Set([
  'accountEnabled',
  'businessPhones',
  'city',
  'companyName',
  'country',
  'department',
  'employeeId',
  'employeeType',
  'faxNumber',
  'givenName',
  'jobTitle',
  'mobilePhone',
  'officeLocation',
  'postalCode',
  'preferredLanguage',
  'state',
  'streetAddress',
  'surname',
  ...Array.from({ length: 15 }, (_, i) => `onPremisesExtensionAttributes.extensionAttribute${i + 1}`),
]);

/** Bytes of a shared digest as stored per record. */
export const SHARED_DIGEST_BYTES = 8;

/** Per-kind parts shared by many objects (provenance, timing), as text: computed once per object identity. */
const sharedText = new WeakMap<object, string>();
function textOf(o: Readonly<Record<string, unknown>> | undefined): string {
  if (o === undefined) return '-';
  let t = sharedText.get(o);
  if (t === undefined) {
    t = JSON.stringify(Object.entries(o).filter(([name]) => !LOCAL_USER_PROPERTIES.has(name)));
    sharedText.set(o, t);
  }
  return t;
}

/** The values of `values` but the local properties', and which local properties there are, as text. */
function valuesText(values: Readonly<Record<string, unknown>> | undefined): string {
  if (values === undefined) return '-';
  let t = '';
  for (const name in values) {
    if (LOCAL_USER_PROPERTIES.has(name)) t += `|${name}`;
    else t += `|${name}=${JSON.stringify(values[name]) ?? 'u'}`;
  }
  return t;
}

const json = (v: unknown): string => (v === undefined ? '-' : JSON.stringify(v));

/**
 * The digest of what other objects' plans (and the user's own matching) can read of a desired user: every
 * field but the values of its local properties (which of them flow at all is part of it). Groups and
 * contacts are not patched (undefined). Built as one text and hashed once: it runs for every user of a full
 * plan (≈1 µs each).
 */
export function sharedDigest(obj: DesiredObject): Buffer | undefined {
  if (obj.kind !== 'user') return undefined;
  const text = [
    json(obj.kind),
    json(obj.anchor),
    json(obj.source),
    json(obj.dn),
    json(obj.ndn),
    json(obj.sid),
    json(obj.guid),
    json(obj.label),
    json(obj.sortKey),
    json(obj.rule),
    json(obj.readOnly),
    json(obj.waves),
    json(obj.licenses),
    json(obj.fallbackNames),
    textOf(obj.timing),
    textOf(obj.provenance),
    valuesText(obj.attrs),
    valuesText(obj.sourceValues),
  ].join('\n');
  return digestOf('sha1', text, 'buffer').subarray(0, SHARED_DIGEST_BYTES);
}

/**
 * What the plan reads of a source entry, as a digest (undefined: an edit of it is never patched):
 *
 *   a desired user       its shared digest (an edit of its local properties is planned anew);
 *   an excluded object   its exclusion (anchor, kind, rule and reason: all a plan reads of it, in delete reasons
 *                        and skipped-member reasons) — an edit that keeps it is no edit of the plan;
 *   anything else read   an OU, a container, a computer: its DN and whether it is a computer (a skipped
 *                        member's reason) — the same;
 *   a desired group or contact, or an object held or reported about (no anchor, a duplicate): undefined.
 */
export interface EntryVerdicts {
  verdict(entry: DirectoryEntry): Buffer | undefined;
  /** The desired object an entry became, if any (the edited users of a patch). */
  objectOf(entry: DirectoryEntry): DesiredObject | undefined;
}

export function entryVerdicts(desired: DesiredState, source: string): EntryVerdicts {
  const objects = new Map<string, DesiredObject>();
  for (const o of desired.objects) if (o.source === source) objects.set(o.dn, o);
  const excluded = new Map<string, DesiredState['excluded'] extends Map<string, infer E> ? E : never>();
  for (const e of desired.excluded.values()) if (e.source === source) excluded.set(e.dn, e);
  const digest = (parts: unknown[]): Buffer =>
    digestOf('sha1', JSON.stringify(parts), 'buffer').subarray(0, SHARED_DIGEST_BYTES);
  return {
    objectOf: (entry) => objects.get(entry.dn),
    verdict(entry) {
      const obj = objects.get(entry.dn);
      if (obj !== undefined) return sharedDigest(obj);
      const ex = excluded.get(entry.dn);
      if (ex !== undefined) return digest(['excluded', ex.anchor, ex.kind, ex.dn, ex.code, ex.reason]);
      if (classify(entry) !== undefined) return undefined; // a user, group or contact not planned: held
      const computer = (entry.attrs['objectclass'] ?? []).some(
        (c) => typeof c === 'string' && c.toLowerCase() === 'computer',
      );
      return digest(['other', entry.dn, computer]);
    },
  };
}

/** What names an object in a report: its anchor, its DN, or as the other party of a conflict. */
function reportNames(r: ReportItem, anchors: ReadonlySet<string>, dns: ReadonlySet<string>, ids: ReadonlySet<string>) {
  return (
    (r.anchor !== undefined && anchors.has(r.anchor)) ||
    (r.sourceDn !== undefined && dns.has(r.sourceDn)) ||
    (r.other?.sourceDn !== undefined && dns.has(r.other.sourceDn)) ||
    (r.other?.id !== undefined && ids.has(r.other.id))
  );
}

export interface PatchInput {
  /** The stored plan (without `read`). */
  stored: Omit<Plan, 'read'>;
  /** The stored plan's clock window. */
  storedClock: ClockWindow;
  /** The anchors of the edited users. */
  edited: ReadonlySet<string>;
  /** The objects the small plan was made over (the edited users and the objects their changes name). */
  involved: { anchors: ReadonlySet<string>; dns: ReadonlySet<string>; ids: ReadonlySet<string> };
  /** The plan over the edited users and the objects their changes name, made now. */
  small: Plan;
  smallClock: ClockWindow;
  /** The tenant's registered extensions (prerequisites). */
  extensions: ReadonlySet<string> | undefined;
  now: Date;
}

export type PatchResult = { plan: Omit<Plan, 'read'>; clock: ClockWindow } | { refused: string };

/**
 * The stored plan with the edited users' changes made anew, or why it can't be (then the caller plans in
 * full): a report names one of the objects involved (before or now), or a change of an edited user is not a
 * plain update.
 */
export function patchPlan(input: PatchInput): PatchResult {
  const { stored, small, edited, involved } = input;
  const { anchors, dns, ids } = involved;
  if (stored.reports.some((r) => reportNames(r, anchors, dns, ids)))
    return { refused: 'the stored plan reports about an edited user or its manager' };
  if (small.reports.some((r) => reportNames(r, anchors, dns, ids)))
    return { refused: 'an edited user is reported about' };
  const mine = (c: Change): boolean => c.target === 'entra' && edited.has(c.anchor);
  const before = stored.changes.filter(mine);
  const after = small.changes.filter(mine);
  if ([...before, ...after].some((c) => c.action !== 'update'))
    return { refused: 'an edited user has a change other than an update' };
  const changes = [...stored.changes.filter((c) => !mine(c)), ...after];
  const sorted = sortAndSummarize(changes, stored.reports);
  const prerequisites = prerequisitesStage(sorted.changes, input.extensions);
  const { prerequisites: _p, ...rest } = stored;
  const plan: Omit<Plan, 'read'> = {
    ...rest,
    createdAt: input.now.toISOString(),
    changes: sorted.changes,
    reports: sorted.reports,
    summary: sorted.summary,
    ...(prerequisites.length > 0 ? { prerequisites } : {}),
  };
  return { plan, clock: intersect(input.storedClock, input.smallClock) };
}

function intersect(a: ClockWindow, b: ClockWindow): ClockWindow {
  const from = a.from === null ? b.from : b.from === null ? a.from : Math.max(a.from, b.from);
  const until = a.until === null ? b.until : b.until === null ? a.until : Math.min(a.until, b.until);
  return { from, until };
}
