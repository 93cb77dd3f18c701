import { Args } from '@oclif/core';
import { AdsyncCommand } from '../cli/base.js';
import { configFlag } from '../cli/flags.js';
import { readAndPlan, withSession } from '../cli/session.js';
import { explainObject, type ExplainResult, type ExplainWriteback } from '../engine/explain.js';
import { formatValue, renderChange, renderReport } from '../render/text.js';
import { styleFor, type Style } from '../render/style.js';

export default class Explain extends AdsyncCommand {
  static override summary =
    'Explain one object: the scope rules that admit or exclude it, every flowed value, the match, and its changes.';

  static override description = `Reads the sources and the target like plan (read-only), finds OBJECT by its DN, userPrincipalName (as in AD
or as computed), mail, or source anchor, and prints:
  - scope: Entra Connect's default filters, then the spec's scope (domains, OUs, groups, LDAP filter), each admitted or excluded with the reason;
  - attributes: each Graph property's computed value and the flow (CEL expression) that produced it, plus default flows app filtering turned off;
  - match: how it joined the tenant (anchor, deleted item, adoption by onPremisesImmutableId or soft match, or a collision);
  - for a written-back cloud group: its cloud id, the AD DN it is written at and the writeback rule;
  - the changes and report items it leads to in the plan.
Exit code 0 when the object was found, 1 when it was not.`;

  static override examples = [
    {
      description: 'Why is this user (not) synchronized?',
      command: '<%= config.bin %> <%= command.id %> -c adsync.yaml "CN=Ann Lee,OU=Staff,DC=contoso,DC=example"',
    },
    {
      description: 'By userPrincipalName',
      command: '<%= config.bin %> <%= command.id %> -c adsync.yaml alee@contoso.example',
    },
    {
      description: 'By source anchor, as JSON',
      command: '<%= config.bin %> <%= command.id %> -c adsync.yaml 3q2+7wAAAAAAAAAAAAAAAA== --json',
    },
  ];

  static override args = {
    object: Args.string({
      description:
        "A DN, userPrincipalName, mail address or source anchor (base64), or a written-back cloud group's id.",
      required: true,
    }),
  };

  static override flags = { config: configFlag };

  async run(): Promise<ExplainResult> {
    const { flags, args } = await this.parse(Explain);
    const result = await withSession(
      flags.config,
      async (session) => {
        // The same read and the same planFor() as `adsync plan`, filtered to one object.
        const planned = await readAndPlan(session, new Date(), { recordMatches: true });
        const { spec, flows } = session;
        return explainObject({ spec, flows, sources: planned.sources ?? [], planned, query: args.object });
      },
      { keepSources: true },
    );
    if (!result.found) process.exitCode = 1;
    if (!this.jsonEnabled()) this.log(renderExplain(result));
    return result;
  }
}

export function renderExplain(r: ExplainResult): string {
  const s = styleFor(process.stdout);
  if (r.found && !r.object && r.writeback) return [...renderWriteback(r.writeback, s), ...renderPlan(r, s)].join('\n');
  if (!r.found || !r.object)
    return `No source object matches ${JSON.stringify(r.query)} (looked up as DN, userPrincipalName, mail and anchor, and as a cloud object written back to AD).`;
  const o = r.object;
  const lines = [
    `${s.bold(o.kind)} ${o.dn}`,
    `  source ${o.source}${o.anchor ? `, anchor ${o.anchor}` : ''}`,
    '',
    s.bold('Scope'),
  ];
  for (const step of r.scope) {
    const mark = step.result === 'admitted' ? s.green('✓') : step.result === 'excluded' ? s.red('✗') : s.dim('·');
    lines.push(`  ${mark} ${step.rule}: ${step.result}${step.code ? ` (${step.code})` : ''} — ${step.detail}`);
  }
  lines.push('', `${s.bold('Synchronized')}: ${r.synchronized ? 'yes' : 'no'}`);
  if (r.attributes.length > 0) {
    lines.push('', s.bold('Attributes'));
    const width = Math.max(...r.attributes.map((a) => a.name.length));
    for (const a of r.attributes)
      lines.push(`  ${a.name.padEnd(width)} = ${formatValue(a.value)}  ${s.dim(`# ${a.flow}: ${a.expression}`)}`);
  }
  if (r.notFlowed.length > 0) {
    lines.push('', s.bold('Not flowed'));
    for (const n of r.notFlowed) lines.push(`  ${n.name} ${s.dim(`# ${n.reason}`)}`);
  }
  if (r.match)
    lines.push('', `${s.bold('Match')}: ${r.match.rule}${r.match.id ? ` → ${r.match.id}` : ''} — ${r.match.detail}`);
  if (r.licenses !== undefined) {
    lines.push('', s.bold('Licences'));
    for (const l of r.licenses) lines.push(`  ${l}`);
  }
  if (r.writeback) lines.push('', ...renderWriteback(r.writeback, s));
  return [...lines, ...renderPlan(r, s)].join('\n');
}

/** A cloud object group writeback writes into AD: its cloud id, where it is (to be) written, by which rules. */
function renderWriteback(w: ExplainWriteback, s: Style): string[] {
  return [
    `${s.bold('Written back')} from the cloud group ${w.label} (${w.id})`,
    `  ${w.dn !== undefined ? `to ${w.dn}` : 'not written to AD (see the report items)'}${w.rules.length > 0 ? ` by ${w.rules.join(', ')}` : ''}`,
  ];
}

function renderPlan(r: ExplainResult, s: Style): string[] {
  const lines = ['', s.bold('Plan')];
  if (r.changes.length === 0 && r.reports.length === 0) lines.push('  no changes');
  for (const c of r.changes) lines.push(...renderChange(c, s));
  for (const rep of r.reports) lines.push(renderReport(rep, s));
  return lines;
}
