/**
 * A plan as a pull-request comment, within GitHub's 65,536-character limit at any size (facts: pipeline §5):
 *  - a header naming the tenant, the spec (relative to the repository), the counts and the guard-rail verdict;
 *  - a danger banner when apply would refuse the plan (which threshold, by how much, that --force is needed)
 *    or when the plan deletes, disables, takes over existing cloud objects or touches admins;
 *  - the changes grouped by kind and action, the dangerous ones first, with attribute diffs for the first
 *    `detailLimit` of each group and the rest counted; report items counted by code;
 *  - a pointer to the full plan (the saved JSON, or the text plan the pipeline uploads).
 * `markdownParts` instead cuts the whole plan, every change, into comments of at most `maxLength` each.
 * Every value is escaped (escape.ts, then markdown's own specials) so a display name can't forge the comment.
 */
import { basename } from 'node:path';
import { isDisable, type AttributeChange, type Change, type ReportItem } from '../model/change.js';
import type { Plan } from '../model/plan.js';
import type { ObjectKind } from '../model/target.js';
import { countDeletes, type SafetyViolation } from '../engine/safety.js';
import type { SafetySpec } from '../spec/types.js';
import { safeText } from './escape.js';
import { attributeLabel, formatValue, wantsWordDiff, wordDiff } from './text.js';
import { AdsyncError } from '../errors.js';

/** GitHub refuses a comment body over 65,536 characters (HTTP 422 "Body is too long"). */
export const GITHUB_COMMENT_LIMIT = 65_536;

export interface MarkdownOptions {
  /** The spec's guard rails (the limits the verdict quotes). */
  safety?: SafetySpec;
  /** The rails the plan crosses, from planFor's safety stage: the verdict apply acts on. */
  violations?: readonly SafetyViolation[];
  /** The spec as the reviewer should read it (relative to the repository); default plan.spec.path. */
  specPath?: string;
  /** Where the full plan is: a URL, or a file the pipeline uploads (e.g. `plan.json`). */
  fullPlan?: string;
  /** Target ids of directory-role holders (their roles), to say when the plan touches an admin. */
  admins?: ReadonlyMap<string, readonly string[]>;
  /** Upper bound on the comment's length in characters (default 65,536). */
  maxLength?: number;
  /** Changes per group shown with their attribute diffs (default 20). */
  detailLimit?: number;
}

const FOLD_OVER = 10;
const MEMBERS_SHOWN = 10;
const VALUE_CHARS = 300;
const LABEL_CHARS = 200;

const plural = (n: number, one: string, many = `${one}s`): string =>
  `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
const num = (n: number): string => n.toLocaleString('en-US');

/** Text from a directory or the spec: control and bidi characters escaped first, then markdown's own. */
function esc(s: string, max = LABEL_CHARS): string {
  const safe = safeText(s);
  const cut = safe.length > max ? `${safe.slice(0, max)}…` : safe;
  return cut.replace(/[\\`*_{}[\]<>|#~&!]/g, (c) => `\\${c}`);
}

/** Inline code: no backtick can end it early. */
function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

function value(v: unknown): string {
  const f = formatValue(v);
  return code(f.length > VALUE_CHARS ? `${f.slice(0, VALUE_CHARS)}… (+${num(f.length - VALUE_CHARS)} characters)` : f);
}

const MARKUP = { added: (s: string) => `{+${s}+}`, removed: (s: string) => `[-${s}-]` };

function attributeLine(a: AttributeChange, create: boolean): string {
  const name = code(safeText(attributeLabel(a.name)));
  const drift = a.drift ? ' _(drift: edited in the cloud, AD value restored)_' : '';
  if (create || a.before === undefined) return `  - ${name} = ${value(a.after)}`;
  if (a.after === undefined) return `  - ${name}: ${value(a.before)} → (none)${drift}`;
  if (wantsWordDiff(a.before, a.after)) {
    const d = wordDiff(a.before, a.after as string, MARKUP);
    return `  - ${name}: ${code(d.length > VALUE_CHARS * 2 ? `${d.slice(0, VALUE_CHARS * 2)}…` : d)}${drift}`;
  }
  return `  - ${name}: ${value(a.before)} → ${value(a.after)}${drift}`;
}

function changeLines(c: Change, admins: ReadonlyMap<string, readonly string[]> | undefined): string[] {
  const inAd = c.target === 'ad' ? ' _(in AD)_' : '';
  const roles = 'id' in c && c.id !== undefined ? admins?.get(c.id) : undefined;
  const admin = roles && roles.length > 0 ? ` ⚠️ **admin** (${esc(roles.join(', '))})` : '';
  const who = `${c.kind} **${esc(c.label)}**${inAd}${admin}`;
  switch (c.action) {
    case 'create':
      return [`- ➕ **create** ${who}`, ...c.attributes.map((a) => attributeLine(a, true))];
    case 'update':
      return [
        `- ${isDisable(c) ? '⏸️ **disable**' : '✏️ **update**'} ${who}`,
        ...c.attributes.map((a) => attributeLine(a, false)),
      ];
    case 'restore':
      return [
        `- ♻️ **restore** ${who} from deleted items${c.memberships !== undefined ? ' (memberships outside its AD groups are removed after the restore)' : ''}`,
        ...c.attributes.map((a) => attributeLine(a, false)),
      ];
    case 'adopt':
      return [
        `- 🤝 **take over** ${who} = existing cloud ${c.kind} ${code(safeText(c.id))} (${c.match === 'immutable-id' || c.match === 'sid' ? 'hard' : 'soft'} match on ${esc(c.matchedOn)})`,
        ...c.attributes.map((a) => attributeLine(a, false)),
      ];
    case 'takeover':
      return [
        `- 🔀 **take over from the sync client** ${who} = cloud ${c.kind} ${code(safeText(c.id))} (matched on ${esc(c.matchedOn)}): source of authority switched to the cloud, adsync's anchor stamped`,
        ...c.attributes.map((a) => attributeLine(a, false)),
      ];
    case 'release':
      return [
        `- ↩️ **hand back to the sync client** ${who} = cloud ${c.kind} ${code(safeText(c.id))}: source of authority switched back, adsync's anchor removed`,
        ...c.prerequisites.map((p) => `  - ⚠️ before the next sync cycle: ${esc(p)}`),
      ];
    case 'delete':
      return [`- 🗑️ **delete** ${who}${c.permanent ? ' **(permanent)**' : ''} — ${esc(c.reason)}`];
    case 'add-members':
    case 'remove-members': {
      const verb = c.action === 'add-members' ? 'add' : 'remove';
      const lines = [
        `- 👥 **${verb} ${plural(c.members.length, 'member')}** ${c.action === 'add-members' ? 'to' : 'from'} group **${esc(c.label)}**${inAd}${admin}`,
      ];
      const items = c.members.slice(0, MEMBERS_SHOWN).map((m) => `  - ${m.kind} ${esc(m.label)}`);
      if (c.members.length > MEMBERS_SHOWN) items.push(`  - … and ${num(c.members.length - MEMBERS_SHOWN)} more`);
      return [...lines, ...items];
    }
    case 'licenses': {
      const plans = (names: readonly string[]): string => (names.length === 0 ? 'none' : esc(names.join(', ')));
      return [
        `- 🎫 **licences** ${who}`,
        ...c.add.map((a) =>
          a.before !== undefined
            ? `  - ~ licence ${code(safeText(a.sku))} (disabled: ${plans(a.before)} → ${plans(a.disabledPlans)}) — ${esc(a.rule)}`
            : `  - + licence ${code(safeText(a.sku))}${a.disabledPlans.length > 0 ? ` (disabled: ${plans(a.disabledPlans)})` : ''} — ${esc(a.rule)}`,
        ),
        ...c.remove.map((r) => `  - − licence ${code(safeText(r.sku))} — ${esc(r.rule)}: ${esc(r.reason)}`),
      ];
    }
    default: {
      const never: never = c;
      throw new AdsyncError('internal', `unknown change ${JSON.stringify(never)}`);
    }
  }
}

// ---- grouping: dangerous changes first

type Category =
  | 'delete'
  | 'disable'
  | 'release'
  | 'takeover'
  | 'adopt'
  | 'remove-members'
  | 'restore'
  | 'create'
  | 'update'
  | 'add-members'
  | 'licenses';
const CATEGORIES: readonly Category[] = [
  'delete',
  'disable',
  'release',
  'takeover',
  'adopt',
  'remove-members',
  'restore',
  'create',
  'update',
  'add-members',
  'licenses',
];
const KINDS: readonly ObjectKind[] = ['user', 'group', 'contact'];
const KIND_TITLE: Record<ObjectKind, [string, string]> = {
  user: ['user', 'users'],
  group: ['group', 'groups'],
  contact: ['contact', 'contacts'],
};
const CATEGORY_TITLE: Record<Category, string> = {
  delete: '🗑️ Delete',
  disable: '⏸️ Disable (deleted after the grace period)',
  release: '↩️ Hand back to the sync client',
  takeover: '🔀 Take over from the sync client',
  adopt: '🤝 Take over existing cloud',
  'remove-members': '👥 Remove members from',
  restore: '♻️ Restore',
  create: '➕ Create',
  update: '✏️ Update',
  'add-members': '👥 Add members to',
  licenses: '🎫 Licences of',
};

function categoryOf(c: Change): Category {
  if (isDisable(c)) return 'disable';
  return c.action;
}

interface Group {
  title: string;
  changes: Change[];
}

function groupChanges(changes: readonly Change[]): Group[] {
  const by = new Map<string, Change[]>();
  for (const c of changes) {
    const k = `${categoryOf(c)} ${c.kind}`;
    const list = by.get(k);
    if (list) list.push(c);
    else by.set(k, [c]);
  }
  const out: Group[] = [];
  for (const cat of CATEGORIES) {
    for (const kind of KINDS) {
      const list = by.get(`${cat} ${kind}`);
      if (!list) continue;
      const [one, many] = KIND_TITLE[kind];
      const members =
        cat === 'add-members' || cat === 'remove-members'
          ? `, ${plural(
              list.reduce((n, c) => n + ('members' in c ? c.members.length : 0), 0),
              'membership',
            )}`
          : '';
      out.push({ title: `${CATEGORY_TITLE[cat]} ${plural(list.length, one, many)}${members}`, changes: list });
    }
  }
  return out;
}

// ---- header, verdict and banner

function verdictLines(
  plan: Plan,
  safety: SafetySpec | undefined,
  violations: readonly SafetyViolation[],
): { verdict: string; refusals: string[] } {
  if (safety === undefined) return { verdict: '', refusals: [] };
  const deletes = countDeletes(plan);
  const refusals = violations.map((v) => {
    switch (v.code) {
      case 'too-many-deletes':
        return `**${num(deletes)} deletes** exceed \`safety.maxDeletes\` (${num(safety.maxDeletes)}) by **${num(deletes - safety.maxDeletes)}**`;
      case 'too-many-delete-percent': {
        const pct = (deletes / plan.managed) * 100;
        return `**${pct.toFixed(1)}%** of the ${num(plan.managed)} managed objects deleted exceeds \`safety.maxDeletePercent\` (${safety.maxDeletePercent}%) by **${(pct - safety.maxDeletePercent!).toFixed(1)} points**`;
      }
      case 'too-many-updates': {
        const updates = plan.summary.update - (deletes - plan.summary.delete);
        return `**${num(updates)} updates** exceed \`safety.maxUpdates\` (${num(safety.maxUpdates!)}) by **${num(updates - safety.maxUpdates!)}**`;
      }
      default:
        return safeText(v.message);
    }
  });
  const limits = [
    `maxDeletes ${num(safety.maxDeletes)}`,
    ...(safety.maxDeletePercent !== undefined ? [`maxDeletePercent ${safety.maxDeletePercent}%`] : []),
    ...(safety.maxUpdates !== undefined ? [`maxUpdates ${num(safety.maxUpdates)}`] : []),
    ...(safety.maxMemberRemovals !== undefined ? [`maxMemberRemovals ${num(safety.maxMemberRemovals)}`] : []),
    ...(safety.maxMemberRemovalPercent !== undefined
      ? [`maxMemberRemovalPercent ${safety.maxMemberRemovalPercent}%`]
      : []),
  ].join(', ');
  const verdict =
    refusals.length > 0
      ? `**Guard rails: ⛔ apply will refuse this plan** without \`--force\` (${limits}).`
      : `**Guard rails: ✅ within the limits** (${limits}): apply will not stop on them.`;
  return { verdict, refusals };
}

function bannerLines(
  plan: Plan,
  refusals: string[],
  admins: ReadonlyMap<string, readonly string[]> | undefined,
): string[] {
  const notes: string[] = [];
  const s = plan.summary;
  const deletes = plan.changes.filter((c) => c.action === 'delete');
  const permanent = deletes.filter((c) => c.action === 'delete' && c.permanent).length;
  const softUsers = deletes.filter((c) => c.kind === 'user').length;
  if (deletes.length > 0) {
    const parts = [`deletes **${plural(deletes.length, 'object')}**`];
    if (softUsers > 0)
      parts.push(`${plural(softUsers, 'user')} soft-deleted (restorable from deleted items for 30 days)`);
    if (permanent > 0)
      parts.push(`**${plural(permanent, 'security group')} deleted permanently** (Graph keeps no restorable copy)`);
    notes.push(`This plan ${parts.join('; ')}.`);
  }
  const disables = countDeletes(plan) - s.delete;
  if (disables > 0)
    notes.push(
      `This plan **disables ${plural(disables, 'object')}** (\`safety.deleteMode: disable-first\`); they are deleted by the first apply after the grace period.`,
    );
  if (s.takeover)
    notes.push(
      `This plan **takes over ${plural(s.takeover, 'object')} from the sync client** (Entra Connect / Cloud Sync): their source of authority switches to the cloud and adsync owns them from then on.`,
    );
  if (s.release)
    notes.push(
      `This plan **hands ${plural(s.release, 'object')} back to the sync client**: check the prerequisites listed under each one before its next sync cycle.`,
    );
  if (s.adopt > 0)
    notes.push(
      `This plan **takes over ${plural(s.adopt, 'existing cloud object')}**: adsync stamps its anchor and owns them from then on.`,
    );
  const touched = new Set<string>();
  for (const c of plan.changes)
    if ('id' in c && c.id !== undefined && (admins?.get(c.id)?.length ?? 0) > 0) touched.add(c.id);
  const blocked = plan.reports.filter((r) => r.code === 'soft-match-admin').length;
  if (touched.size > 0)
    notes.push(
      `This plan **touches ${plural(touched.size, 'admin')}** (directory role holders): review those changes first.`,
    );
  if (blocked > 0)
    notes.push(`${plural(blocked, 'object')} would have matched an admin; adsync refused (see the report items).`);
  if (refusals.length === 0 && notes.length === 0) return [];
  const out: string[] = [refusals.length > 0 ? '> [!CAUTION]' : '> [!WARNING]'];
  if (refusals.length > 0) {
    out.push('> **`adsync apply` will refuse this plan**: it trips the guard rails.');
    for (const r of refusals) out.push(`> - ${r}`);
    out.push(
      '> Apply it only if this is intended (an OU rename or a scope typo looks like this), with `adsync apply --force`.',
    );
    if (notes.length > 0) out.push('>');
  }
  for (const n of notes) out.push(`> ${n}`);
  out.push('');
  return out;
}

function headLines(plan: Plan, o: MarkdownOptions): { head: string[]; refusals: string[] } {
  const s = plan.summary;
  const spec = o.specPath ?? plan.spec.path;
  const tenant =
    plan.target.tenantId !== undefined
      ? ` → tenant ${code(safeText(plan.target.tenantId))}`
      : ` → ${plan.target.system}`;
  const { verdict, refusals } = verdictLines(plan, o.safety, o.violations ?? []);
  const head = [`### adsync plan for ${code(safeText(spec))}${tenant}`, ''];
  head.push(...bannerLines(plan, refusals, o.admins));
  if (plan.changes.length === 0) head.push('**No changes.** The target matches the spec.', '');
  const adopt = s.adopt > 0; // the column appears only when something is taken over (most plans never do)
  const lic = (s.licensesAdded ?? 0) + (s.licensesRemoved ?? 0) > 0; // likewise licence changes
  head.push(
    `| create | update | restore | delete |${adopt ? ' take over |' : ''} members added | members removed |${lic ? ' licences assigned | licences removed |' : ''} report items |`,
    `|---:|---:|---:|---:|${adopt ? '---:|' : ''}---:|---:|${lic ? '---:|---:|' : ''}---:|`,
  );
  head.push(
    `| ${num(s.create)} | ${num(s.update)} | ${num(s.restore)} | ${num(s.delete)} |${adopt ? ` ${num(s.adopt)} |` : ''} ${num(s.membersAdded)} | ${num(s.membersRemoved)} |${lic ? ` ${num(s.licensesAdded ?? 0)} | ${num(s.licensesRemoved ?? 0)} |` : ''} ${num(s.reports)} |`,
    '',
  );
  if (verdict) head.push(verdict, '');
  const pre = plan.prerequisites ?? [];
  if (pre.length > 0)
    head.push(
      `**First**, apply registers ${pre.length === 1 ? 'a directory extension' : 'directory extensions'} on adsync's application: ${pre.map((p) => `${code(safeText(p.name))} (${esc(p.reason)})`).join('; ')}.`,
      '',
    );
  return { head, refusals };
}

function footLines(plan: Plan, o: MarkdownOptions, complete: boolean): string[] {
  const out: string[] = [];
  if (!complete) {
    const where =
      o.fullPlan !== undefined
        ? /^https?:\/\//.test(o.fullPlan)
          ? `[the full plan](${o.fullPlan.replace(/[()\s]/g, encodeURIComponent)})`
          : `the full plan, ${code(safeText(basename(o.fullPlan)))} (the pipeline's artifact)`
        : 'the full plan (`adsync plan --out plan.json`, or the text plan uploaded by the pipeline)';
    out.push(`Only part of the plan fits in a comment: every change, with every attribute, is in ${where}.`, '');
  }
  out.push(
    `<sub>spec digest ${code(plan.spec.digest.slice(0, 12))} · adsync ${esc(plan.tool.version)}${plan.read !== undefined ? ` · ${esc(plan.read.mode)} read` : ''}${plan.createdAt ? ` · ${esc(plan.createdAt)}` : ''}</sub>`,
  );
  return out;
}

function reportLines(reports: readonly ReportItem[], limit: number): string[] {
  if (reports.length === 0) return [];
  const byCode = new Map<string, number>();
  for (const r of reports) byCode.set(r.code, (byCode.get(r.code) ?? 0) + 1);
  const out = [`#### ⚠️ Not changed: ${plural(reports.length, 'report item')}`, ''];
  out.push(
    ...[...byCode].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, n]) => `- ${code(safeText(c))}: ${num(n)}`),
    '',
  );
  const shown = reports
    .slice(0, limit)
    .map((r) => `- ${r.kind} **${esc(r.label)}** — ${code(safeText(r.code))}: ${esc(r.reason, 400)}`);
  if (shown.length > 0)
    out.push(
      '<details><summary>report items</summary>',
      '',
      ...shown,
      ...(reports.length > limit ? [`- … and ${num(reports.length - limit)} more`] : []),
      '',
      '</details>',
      '',
    );
  return out;
}

const size = (lines: readonly string[]): number => lines.reduce((n, l) => n + l.length + 1, 0);

/**
 * The plan as one comment of at most `maxLength` characters: head and foot always, then each group's
 * title, its first `detailLimit` changes with their diffs while they fit, and the rest counted.
 */
export function markdownLines(plan: Plan, options: MarkdownOptions = {}): string[] {
  const maxLength = options.maxLength ?? GITHUB_COMMENT_LIMIT;
  const detailLimit = options.detailLimit ?? 20;
  const { head } = headLines(plan, options);
  const groups = groupChanges(plan.changes);
  let reportLimit = detailLimit;
  let reports = reportLines(plan.reports, reportLimit);
  // What every group needs whatever happens: its title and a "… and N more" line (longest form).
  const skeleton = (g: Group): string[] => [
    `<details><summary><b>${g.title}</b></summary>`,
    '',
    `- … and ${num(g.changes.length)} more (in the full plan)`,
    '',
    '</details>',
    '',
  ];
  let fixed = size(head) + size(footLines(plan, options, false)) + groups.reduce((n, g) => n + size(skeleton(g)), 0);
  if (fixed + size(reports) > maxLength) {
    reportLimit = 0;
    reports = reportLines(plan.reports, reportLimit);
  }
  fixed += size(reports);
  if (fixed > maxLength) {
    // Not even the skeleton fits (a tiny --max-length): counts only.
    return [...head, ...groups.map((g) => `- ${g.title}`), '', ...footLines(plan, options, false)];
  }
  let budget = maxLength - fixed;
  let complete = plan.reports.length <= reportLimit;
  const body: string[] = [];
  for (const g of groups) {
    const shown: string[] = [];
    let n = 0;
    for (const c of g.changes) {
      if (n >= detailLimit) break;
      const lines = changeLines(c, options.admins);
      const cost = size(lines);
      if (cost > budget) break;
      budget -= cost;
      shown.push(...lines);
      n++;
    }
    const rest = g.changes.length - n;
    if (rest > 0) {
      complete = false;
      shown.push(`- … and ${num(rest)} more (in the full plan)`);
    }
    if (g.changes.length > FOLD_OVER)
      body.push(`<details><summary><b>${g.title}</b></summary>`, '', ...shown, '', '</details>', '');
    else body.push(`#### ${g.title}`, '', ...shown, '');
  }
  return [...head, ...body, ...reports, ...footLines(plan, options, complete)];
}

export function renderMarkdown(plan: Plan, options: MarkdownOptions = {}): string {
  return `${markdownLines(plan, options).join('\n')}\n`;
}

/**
 * The whole plan, every change with every diff, cut into comments of at most `maxLength` characters each
 * (a line never splits; a group cut in two is closed and reopened, and each part says which it is).
 */
export function markdownParts(plan: Plan, options: MarkdownOptions = {}): string[] {
  const maxLength = options.maxLength ?? GITHUB_COMMENT_LIMIT;
  const { head } = headLines(plan, options);
  const foot = footLines(plan, options, true);
  const marker = (i: number, n: number): string => `<sub>part ${i} of ${n}</sub>`;
  const reserve = 200; // part marker, "continued" lines, a reopened <details>
  const blocks: { title: string; fold: boolean; lines: string[][] }[] = groupChanges(plan.changes).map((g) => ({
    title: g.title,
    fold: g.changes.length > FOLD_OVER,
    lines: g.changes.map((c) => changeLines(c, options.admins)),
  }));
  if (plan.reports.length > 0) {
    const items = plan.reports.map((r) => [
      `- ${r.kind} **${esc(r.label)}** — ${code(safeText(r.code))}: ${esc(r.reason, 400)}`,
    ]);
    blocks.push({
      title: `⚠️ Not changed: ${plural(plan.reports.length, 'report item')}`,
      fold: plan.reports.length > FOLD_OVER,
      lines: items,
    });
  }
  const parts: string[][] = [];
  let current: string[] = [...head];
  const open = (b: { title: string; fold: boolean }, cont: boolean): string[] =>
    b.fold
      ? [`<details><summary><b>${b.title}${cont ? ' (continued)' : ''}</b></summary>`, '']
      : [`#### ${b.title}${cont ? ' (continued)' : ''}`, ''];
  const close = (b: { fold: boolean }): string[] => (b.fold ? ['', '</details>', ''] : ['']);
  const limit = Math.max(maxLength - reserve, 1_000);
  for (const b of blocks) {
    if (size(current) + size(open(b, false)) + size(b.lines[0] ?? []) + size(close(b)) > limit && current.length > 0) {
      parts.push(current);
      current = [];
    }
    current.push(...open(b, false));
    for (const item of b.lines) {
      const lines =
        item.length > 0 && size(item) > limit
          ? [item[0]!.slice(0, limit / 2), '  - … (too long for one comment; in the full plan)']
          : item;
      if (size(current) + size(lines) + size(close(b)) > limit) {
        current.push(...close(b), '_continued in the next comment_');
        parts.push(current);
        current = [...open(b, true)];
      }
      current.push(...lines);
    }
    current.push(...close(b));
  }
  if (size(current) + size(foot) > limit) {
    parts.push(current);
    current = [];
  }
  current.push(...foot);
  parts.push(current);
  return parts.map((p, i) => `${[...(parts.length > 1 ? [marker(i + 1, parts.length), ''] : []), ...p].join('\n')}\n`);
}
