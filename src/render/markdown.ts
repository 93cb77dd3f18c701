/**
 * A plan as a pull-request comment: a summary table, changes grouped by kind, long lists folded in
 * <details>, report items last. Values are escaped so a display name can't break the table.
 */
import type { Change } from '../model/change.js';
import type { Plan } from '../model/plan.js';
import type { ObjectKind } from '../model/target.js';
import { safeText } from './escape.js';
import { formatValue } from './text.js';

const FOLD_OVER = 10;

/** Text from a directory or the spec: control and bidi characters escaped first, then markdown's own. */
function esc(s: string): string {
  return safeText(s).replace(/[\\`*_{}[\]<>|#~&!]/g, (c) => `\\${c}`);
}

function code(v: unknown): string {
  return `\`${formatValue(v).replace(/`/g, "'")}\``;
}

function changeLines(c: Change): string[] {
  const inAd = c.target === 'ad' ? ' _(in AD)_' : '';
  switch (c.action) {
    case 'create':
      return [`- ➕ **create** ${c.kind} **${esc(c.label)}**${inAd}`, ...c.attributes.map((a) => `  - \`${a.name}\` = ${code(a.after)}`)];
    case 'update':
      return [`- ✏️ **update** ${c.kind} **${esc(c.label)}**${inAd}`, ...c.attributes.map((a) => `  - \`${a.name}\`: ${code(a.before)} → ${code(a.after)}${a.drift ? ' _(drift: edited in the cloud, AD value restored)_' : ''}`)];
    case 'restore':
      return [`- ♻️ **restore** ${c.kind} **${esc(c.label)}**${inAd} from deleted items`, ...c.attributes.map((a) => `  - \`${a.name}\`: ${code(a.before)} → ${code(a.after)}`)];
    case 'adopt':
      return [
        `- 🤝 **adopt** ${c.kind} **${esc(c.label)}** = existing cloud ${c.kind} \`${safeText(c.id).replace(/`/g, "'")}\` (${c.match === 'immutable-id' ? 'hard' : 'soft'} match on ${esc(c.matchedOn)})`,
        ...c.attributes.map((a) => `  - \`${a.name}\`: ${code(a.before)} → ${code(a.after)}${a.drift ? ' _(drift)_' : ''}`),
      ];
    case 'delete':
      return [`- 🗑️ **delete** ${c.kind} **${esc(c.label)}**${inAd}${c.permanent ? ' (permanent)' : ''} — ${esc(c.reason)}`];
    case 'add-members':
    case 'remove-members': {
      const verb = c.action === 'add-members' ? 'add' : 'remove';
      const lines = [`- 👥 **${verb} ${c.members.length} member${c.members.length === 1 ? '' : 's'}** ${c.action === 'add-members' ? 'to' : 'from'} group **${esc(c.label)}**${inAd}`];
      const items = c.members.map((m) => `  - ${m.kind} ${esc(m.label)}`);
      if (items.length > FOLD_OVER) lines.push('', '  <details><summary>members</summary>', '', ...items, '', '  </details>', '');
      else lines.push(...items);
      return lines;
    }
    default: {
      const never: never = c;
      throw new Error(`unknown change ${JSON.stringify(never)}`);
    }
  }
}

export function renderMarkdown(plan: Plan): string {
  return `${markdownLines(plan).join('\n')}\n`;
}

export function markdownLines(plan: Plan): string[] {
  const s = plan.summary;
  const out: string[] = [];
  out.push(`### adsync plan for \`${safeText(plan.spec.path).replace(/`/g, "'")}\``, '');
  if (plan.changes.length === 0) out.push('**No changes.** The target matches the spec.', '');
  // The adopt column appears only when something is adopted (most plans never adopt).
  const adopt = s.adopt > 0;
  out.push(`| create | update | restore | delete |${adopt ? ' adopt |' : ''} members added | members removed | report items |`, `|---:|---:|---:|---:|${adopt ? '---:|' : ''}---:|---:|---:|`);
  out.push(`| ${s.create} | ${s.update} | ${s.restore} | ${s.delete} |${adopt ? ` ${s.adopt} |` : ''} ${s.membersAdded} | ${s.membersRemoved} | ${s.reports} |`, '');
  const kinds: ObjectKind[] = ['user', 'group', 'contact'];
  for (const kind of kinds) {
    const changes = plan.changes.filter((c) => c.kind === kind);
    if (changes.length === 0) continue;
    const body = changes.flatMap(changeLines);
    const title = `${kind === 'user' ? 'Users' : kind === 'group' ? 'Groups' : 'Contacts'} (${changes.length} change${changes.length === 1 ? '' : 's'})`;
    if (changes.length > FOLD_OVER) out.push(`<details><summary><b>${title}</b></summary>`, '', ...body, '', '</details>', '');
    else out.push(`#### ${title}`, '', ...body, '');
  }
  if (plan.reports.length > 0) {
    const body = plan.reports.map((r) => `- ⚠️ ${r.kind} **${esc(r.label)}** — \`${safeText(r.code).replace(/`/g, "'")}\`: ${esc(r.reason)}`);
    const title = `Not changed (${plan.reports.length} report item${plan.reports.length === 1 ? '' : 's'})`;
    if (plan.reports.length > FOLD_OVER) out.push(`<details><summary><b>${title}</b></summary>`, '', ...body, '', '</details>', '');
    else out.push(`#### ${title}`, '', ...body, '');
  }
  out.push(`<sub>spec digest \`${plan.spec.digest.slice(0, 12)}\` · adsync ${plan.tool.version}</sub>`);
  return out;
}
