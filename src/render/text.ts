/**
 * The terminal rendering of a plan, in Terraform's idiom: `+` create, `~` update, `-` delete, `↺` restore;
 * attribute-level diffs (word diffs for strings, via the `diff` package); report items after the changes.
 */
import { diffWordsWithSpace } from 'diff';
import {
  isObjectRef,
  type AttributeChange,
  type Change,
  type LicensesChange,
  type MemberRef,
  type ReportItem,
} from '../model/change.js';
import type { Plan } from '../model/plan.js';
import type { SafetyViolation } from '../engine/safety.js';
import { quoteBody, quoteValue, safeText } from './escape.js';
import type { Style } from './style.js';
import { adsyncExtensionOf } from '../model/extension.js';
import { AdsyncError } from '../errors.js';

/** Members listed per group before the rest is summarized (the JSON plan always has all of them). */
export const MEMBER_LIST_LIMIT = 50;

/** A value as printed: strings quoted, with control and bidi characters escaped (see escape.ts). */
export function formatValue(v: unknown): string {
  if (v === undefined || v === null) return '(none)';
  if (isObjectRef(v)) return `→ ${v.kind} ${safeText(v.label)}`;
  return quoteValue(v);
}

/**
 * Strings at least this long (either side) get a word diff; shorter ones show as `"old" → "new"`, as
 * Terraform shows them: a title or a department reads at a glance whole, a long description doesn't.
 */
export const WORD_DIFF_MIN_LENGTH = 60;

/** Whether a changed value is shown as a word diff (long text) rather than old → new. */
export function wantsWordDiff(before: unknown, after: unknown): before is string {
  return (
    typeof before === 'string' &&
    typeof after === 'string' &&
    Math.max(before.length, after.length) >= WORD_DIFF_MIN_LENGTH
  );
}

/** A word diff of two long strings, each piece escaped, marked up by `mark`. */
export function wordDiff(
  before: string,
  after: string,
  mark: { added(s: string): string; removed(s: string): string },
): string {
  const parts = diffWordsWithSpace(before, after);
  const body = parts
    .map((p) =>
      p.added ? mark.added(quoteBody(p.value)) : p.removed ? mark.removed(quoteBody(p.value)) : quoteBody(p.value),
    )
    .join('');
  return `"${body}"`;
}

function inlineDiff(before: unknown, after: unknown, s: Style): string {
  if (wantsWordDiff(before, after)) return wordDiff(before, after as string, s);
  return `${formatValue(before)} → ${formatValue(after)}`;
}

/**
 * adsync's own directory extensions under adsync's names (`adsyncDeleteAfter`), not Graph's
 * `extension_<appId>_adsyncDeleteAfter`: the app id is noise to a reviewer (the JSON plan keeps the full name).
 */
export function attributeLabel(name: string): string {
  return adsyncExtensionOf(name) ?? name;
}

function attributeLines(
  attrs: AttributeChange[],
  action: 'create' | 'update' | 'restore' | 'adopt',
  s: Style,
): string[] {
  const names = attrs.map((a) => safeText(attributeLabel(a.name)));
  const width = Math.max(0, ...names.map((n) => n.length));
  return attrs.map((a, i) => {
    const name = names[i]!.padEnd(width);
    const drift = a.drift === true ? ' (drift: edited in the cloud; AD is the source of authority)' : '';
    const flow = s.dim(`  # ${safeText(a.flow)}${drift}`);
    if (action === 'create') return `      ${s.green('+')} ${name} = ${formatValue(a.after)}${flow}`;
    if (a.after === undefined) return `      ${s.red('-')} ${name} = ${formatValue(a.before)} → (none)${flow}`;
    if (a.before === undefined) return `      ${s.green('+')} ${name} = ${formatValue(a.after)}${flow}`;
    return `      ${s.yellow('~')} ${name} = ${inlineDiff(a.before, a.after, s)}${flow}`;
  });
}

function memberLines(members: MemberRef[], glyph: string): string[] {
  const shown = members.slice(0, MEMBER_LIST_LIMIT).map((m) => `      ${glyph} ${m.kind} ${safeText(m.label)}`);
  if (members.length > MEMBER_LIST_LIMIT)
    shown.push(`      … and ${members.length - MEMBER_LIST_LIMIT} more (the JSON plan lists all)`);
  return shown;
}

/** Writeback changes (target AD) say so; Entra is the default target and goes unsaid. */
function where(c: Change): string {
  return c.target === 'ad' ? ' in AD' : '';
}

function header(c: Change): string {
  return c.sourceDn
    ? `${c.kind} ${safeText(c.label)}${where(c)} (${safeText(c.sourceDn)})`
    : `${c.kind} ${safeText(c.label)}${where(c)}`;
}

export function renderChange(c: Change, s: Style): string[] {
  switch (c.action) {
    case 'create':
      return [`  ${s.green('+')} ${s.bold('create')} ${header(c)}`, ...attributeLines(c.attributes, 'create', s)];
    case 'update':
      return [`  ${s.yellow('~')} ${s.bold('update')} ${header(c)}`, ...attributeLines(c.attributes, 'update', s)];
    case 'restore':
      return [
        `  ${s.cyan('↺')} ${s.bold('restore')} ${header(c)} from deleted items`,
        ...(c.memberships !== undefined
          ? [
              `      ${s.dim(`# memberships outside its AD groups are removed after the restore (it stays in ${c.memberships.length === 0 ? "none of adsync's groups" : c.memberships.map((g) => safeText(g.label)).join(', ')})`)}`,
            ]
          : []),
        ...attributeLines(c.attributes, 'restore', s),
      ];
    case 'adopt':
      return [
        `  ${s.cyan('⇐')} ${s.bold('adopt')} ${header(c)} = existing cloud ${c.kind} ${safeText(c.id)}`,
        `      ${s.dim(`# ${c.match === 'immutable-id' || c.match === 'sid' ? 'hard match' : 'soft match'} on ${safeText(c.matchedOn)}: adsync stamps its anchor and owns the object from now on`)}`,
        ...attributeLines(c.attributes, 'adopt', s),
      ];
    case 'takeover':
      return [
        `  ${s.cyan('⇐')} ${s.bold('takeover')} ${header(c)} = cloud ${c.kind} ${safeText(c.id)} mastered by the sync client`,
        `      ${s.dim(`# matched on ${safeText(c.matchedOn)}: the source of authority switches to the cloud (isCloudManaged), adsync stamps its anchor and owns the object from now on`)}`,
        ...attributeLines(c.attributes, 'adopt', s),
      ];
    case 'release':
      return [
        `  ${s.cyan('⇒')} ${s.bold('release')} ${header(c)} = cloud ${c.kind} ${safeText(c.id)} back to the sync client`,
        `      ${s.dim("# the source of authority switches back (isCloudManaged false) and adsync's anchor is removed; the sync client takes the object over on its next cycle")}`,
        ...c.prerequisites.map((p) => `      ${s.yellow('!')} before the next sync cycle: ${safeText(p)}`),
      ];
    case 'delete':
      return [
        `  ${s.red('-')} ${s.bold('delete')} ${c.kind} ${safeText(c.label)}${where(c)}${c.permanent ? ` ${s.red('(permanent)')}` : ''}`,
        `      ${s.dim(`# ${safeText(c.reason)}; ${c.permanent ? 'security groups are deleted permanently (Graph keeps no restorable copy)' : c.kind === 'user' ? 'soft delete: restorable from deleted items for 30 days' : 'deleted'}`)}`,
      ];
    case 'add-members':
      return [
        `  ${s.yellow('~')} ${s.bold('add')} ${c.members.length} member${c.members.length === 1 ? '' : 's'} to group ${safeText(c.label)}${where(c)}`,
        ...memberLines(c.members, s.green('+')),
      ];
    case 'remove-members':
      return [
        `  ${s.yellow('~')} ${s.bold('remove')} ${c.members.length} member${c.members.length === 1 ? '' : 's'} from group ${safeText(c.label)}${where(c)}`,
        ...memberLines(c.members, s.red('-')),
      ];
    case 'licenses':
      return [`  ${s.yellow('~')} ${s.bold('licences')} ${header(c)}`, ...licenseLines(c, s)];
    default: {
      const never: never = c;
      throw new AdsyncError('internal', `unknown change ${JSON.stringify(never)}`);
    }
  }
}

const plans = (names: readonly string[]): string => (names.length === 0 ? 'none' : names.map(safeText).join(', '));

/** `+ licence SPE_E3 (disabled: …)`, `~` for other disabled plans, `- licence …`, each with its rule. */
export function licenseLines(c: LicensesChange, s: Style): string[] {
  const out: string[] = [];
  for (const a of c.add) {
    const rule = s.dim(`  # ${safeText(a.rule)}`);
    if (a.before !== undefined)
      out.push(
        `      ${s.yellow('~')} licence ${safeText(a.sku)} (disabled: ${plans(a.before)} → ${plans(a.disabledPlans)})${rule}`,
      );
    else
      out.push(
        `      ${s.green('+')} licence ${safeText(a.sku)}${a.disabledPlans.length > 0 ? ` (disabled: ${plans(a.disabledPlans)})` : ''}${rule}`,
      );
  }
  for (const r of c.remove)
    out.push(
      `      ${s.red('-')} licence ${safeText(r.sku)}${s.dim(`  # ${safeText(r.rule)}: ${safeText(r.reason)}`)}`,
    );
  return out;
}

export function renderReport(r: ReportItem, s: Style): string {
  const where = r.sourceDn && r.sourceDn !== r.label ? ` (${safeText(r.sourceDn)})` : '';
  const other = r.other
    ? ` ⟷ ${safeText(r.other.label)}${r.other.sourceDn ? ` (${safeText(r.other.sourceDn)})` : r.other.id ? ` (${safeText(r.other.id)})` : ''}`
    : '';
  return `  ${s.yellow('!')} ${r.kind} ${safeText(r.label)}${where}${other}\n      ${s.dim(`# ${safeText(r.code)}: ${safeText(r.reason)}`)}`;
}

/** Only a plan with licence changes says so (plans without licence rules read as before). */
function licenseSummary(x: Plan['summary']): string {
  const added = x.licensesAdded ?? 0;
  const removed = x.licensesRemoved ?? 0;
  return added + removed === 0 ? '' : `${added} licence${added === 1 ? '' : 's'} to assign, ${removed} to remove; `;
}

export function summaryLine(plan: Plan): string {
  const x = plan.summary;
  return `Plan: ${x.create} to create, ${x.adopt > 0 ? `${x.adopt} to adopt, ` : ''}${x.takeover ? `${x.takeover} to take over, ` : ''}${x.release ? `${x.release} to release, ` : ''}${x.update} to update, ${x.restore} to restore, ${x.delete} to delete; ${x.membersAdded} member${x.membersAdded === 1 ? '' : 's'} to add, ${x.membersRemoved} to remove; ${licenseSummary(x)}${x.reports} report item${x.reports === 1 ? '' : 's'}.`;
}

/** `Read: incremental (source corp: the LDIF export is unchanged; target: Graph delta, 3 changes).` */
export function readLine(read: NonNullable<Plan['read']>): string {
  const parts = read.parts.map(
    (p) =>
      `${safeText(p.part)}: ${p.mode === 'full' ? 'full read, ' : ''}${safeText(p.reason)}${p.mode === 'incremental' && p.changes !== undefined && p.changes > 0 ? `, ${p.changes} change${p.changes === 1 ? '' : 's'}` : ''}`,
  );
  return `Read: ${read.mode} (${parts.join('; ')}).`;
}

/** The plan as text, line by line (plans of a whole forest are written as a stream, not one string). */
export function* textLines(
  plan: Plan,
  s: Style,
  /** The guard rails the plan crosses (planFor's safety stage): a plan apply would refuse says so. */
  violations: readonly SafetyViolation[] = [],
): Generator<string> {
  const target = plan.target.tenantId
    ? `${plan.target.system} tenant ${safeText(plan.target.tenantId)}`
    : plan.target.system;
  if (plan.changes.length === 0) {
    yield s.green(`No changes. ${target} matches ${safeText(plan.spec.path)}.`);
  } else {
    yield `adsync will make these changes in ${target}:`;
    yield '';
    // what apply does first (the saved plan says everything apply writes)
    for (const p of plan.prerequisites ?? []) {
      yield `  ${s.green('+')} register directory extension ${safeText(p.name)} on adsync's application`;
      yield s.dim(`      # ${safeText(p.reason)}`);
      yield '';
    }
    for (const c of plan.changes) {
      yield* renderChange(c, s);
      yield '';
    }
  }
  if (plan.reports.length > 0) {
    yield '';
    yield `Not changed (${plan.reports.length} report item${plan.reports.length === 1 ? '' : 's'}):`;
    yield '';
    for (const r of plan.reports) yield renderReport(r, s);
  }
  yield '';
  yield s.bold(summaryLine(plan));
  if (plan.read !== undefined) yield readLine(plan.read);
  if (violations.length > 0) {
    yield '';
    yield s.red('Guard rails: apply will stop before any write unless run with --force:');
    for (const v of violations) yield s.red(`  - ${v.message}`);
  }
}

export function renderText(plan: Plan, s: Style, violations: readonly SafetyViolation[] = []): string {
  return `${[...textLines(plan, s, violations)].join('\n')}\n`;
}
