/**
 * The terminal rendering of a plan, in Terraform's idiom: `+` create, `~` update, `-` delete, `↺` restore;
 * attribute-level diffs (word diffs for strings, via the `diff` package); report items after the changes.
 */
import { diffWordsWithSpace } from 'diff';
import { isObjectRef, type AttributeChange, type Change, type MemberRef, type ReportItem } from '../model/change.js';
import type { Plan } from '../model/plan.js';
import type { Style } from './style.js';

/** Members listed per group before the rest is summarized (the JSON plan always has all of them). */
export const MEMBER_LIST_LIMIT = 50;

export function formatValue(v: unknown): string {
  if (v === undefined || v === null) return '(none)';
  if (isObjectRef(v)) return `→ ${v.kind} ${v.label}`;
  if (typeof v === 'string') return JSON.stringify(v);
  return JSON.stringify(v);
}

function inlineDiff(before: unknown, after: unknown, s: Style): string {
  if (typeof before === 'string' && typeof after === 'string') {
    const parts = diffWordsWithSpace(before, after);
    const body = parts.map((p) => (p.added ? s.added(p.value) : p.removed ? s.removed(p.value) : p.value)).join('');
    return `"${body}"`;
  }
  return `${formatValue(before)} → ${formatValue(after)}`;
}

function attributeLines(attrs: AttributeChange[], action: 'create' | 'update' | 'restore' | 'adopt', s: Style): string[] {
  const width = Math.max(0, ...attrs.map((a) => a.name.length));
  return attrs.map((a) => {
    const name = a.name.padEnd(width);
    const flow = s.dim(`  # ${a.flow}`);
    if (action === 'create') return `      ${s.green('+')} ${name} = ${formatValue(a.after)}${flow}`;
    if (a.after === undefined) return `      ${s.red('-')} ${name} = ${formatValue(a.before)} → (none)${flow}`;
    if (a.before === undefined) return `      ${s.green('+')} ${name} = ${formatValue(a.after)}${flow}`;
    return `      ${s.yellow('~')} ${name} = ${inlineDiff(a.before, a.after, s)}${flow}`;
  });
}

function memberLines(members: MemberRef[], glyph: string): string[] {
  const shown = members.slice(0, MEMBER_LIST_LIMIT).map((m) => `      ${glyph} ${m.kind} ${m.label}`);
  if (members.length > MEMBER_LIST_LIMIT) shown.push(`      … and ${members.length - MEMBER_LIST_LIMIT} more (the JSON plan lists all)`);
  return shown;
}

/** Writeback changes (target AD) say so; Entra is the default target and goes unsaid. */
function where(c: Change): string {
  return c.target === 'ad' ? ' in AD' : '';
}

function header(c: Change): string {
  return c.sourceDn ? `${c.kind} ${c.label}${where(c)} (${c.sourceDn})` : `${c.kind} ${c.label}${where(c)}`;
}

export function renderChange(c: Change, s: Style): string[] {
  switch (c.action) {
    case 'create':
      return [`  ${s.green('+')} ${s.bold('create')} ${header(c)}`, ...attributeLines(c.attributes, 'create', s)];
    case 'update':
      return [`  ${s.yellow('~')} ${s.bold('update')} ${header(c)}`, ...attributeLines(c.attributes, 'update', s)];
    case 'restore':
      return [`  ${s.cyan('↺')} ${s.bold('restore')} ${header(c)} from deleted items`, ...attributeLines(c.attributes, 'restore', s)];
    case 'adopt':
      return [
        `  ${s.cyan('⇐')} ${s.bold('adopt')} ${header(c)} = existing cloud ${c.kind} ${c.id}`,
        `      ${s.dim(`# ${c.match === 'immutable-id' ? 'hard match' : 'soft match'} on ${c.matchedOn}: adsync stamps its anchor and owns the object from now on`)}`,
        ...attributeLines(c.attributes, 'adopt', s),
      ];
    case 'delete':
      return [`  ${s.red('-')} ${s.bold('delete')} ${c.kind} ${c.label}${where(c)}${c.permanent ? ` ${s.red('(permanent)')}` : ''}`, `      ${s.dim(`# ${c.reason}; ${c.permanent ? 'security groups are deleted permanently (Graph keeps no restorable copy)' : c.kind === 'user' ? 'soft delete: restorable from deleted items for 30 days' : 'deleted'}`)}`];
    case 'add-members':
      return [`  ${s.yellow('~')} ${s.bold('add')} ${c.members.length} member${c.members.length === 1 ? '' : 's'} to group ${c.label}${where(c)}`, ...memberLines(c.members, s.green('+'))];
    case 'remove-members':
      return [`  ${s.yellow('~')} ${s.bold('remove')} ${c.members.length} member${c.members.length === 1 ? '' : 's'} from group ${c.label}${where(c)}`, ...memberLines(c.members, s.red('-'))];
    default: {
      const never: never = c;
      throw new Error(`unknown change ${JSON.stringify(never)}`);
    }
  }
}

export function renderReport(r: ReportItem, s: Style): string {
  return `  ${s.yellow('!')} ${r.kind} ${r.label}${r.sourceDn && r.sourceDn !== r.label ? ` (${r.sourceDn})` : ''}${r.other ? ` ⟷ ${r.other.label}${r.other.sourceDn ? ` (${r.other.sourceDn})` : r.other.id ? ` (${r.other.id})` : ''}` : ''}\n      ${s.dim(`# ${r.code}: ${r.reason}`)}`;
}

export function summaryLine(plan: Plan): string {
  const x = plan.summary;
  return `Plan: ${x.create} to create, ${x.adopt > 0 ? `${x.adopt} to adopt, ` : ''}${x.update} to update, ${x.restore} to restore, ${x.delete} to delete; ${x.membersAdded} member${x.membersAdded === 1 ? '' : 's'} to add, ${x.membersRemoved} to remove; ${x.reports} report item${x.reports === 1 ? '' : 's'}.`;
}

/** The plan as text, line by line (plans of a whole forest are written as a stream, not one string). */
export function* textLines(plan: Plan, s: Style): Generator<string> {
  const target = plan.target.tenantId ? `${plan.target.system} tenant ${plan.target.tenantId}` : plan.target.system;
  if (plan.changes.length === 0) {
    yield s.green(`No changes. ${target} matches ${plan.spec.path}.`);
  } else {
    yield `adsync will make these changes in ${target}:`;
    yield '';
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
}

export function renderText(plan: Plan, s: Style): string {
  return `${[...textLines(plan, s)].join('\n')}\n`;
}
