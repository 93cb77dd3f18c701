import { Flags } from '@oclif/core';
import { AdsyncCommand } from '../cli/base.js';
import { trapInterrupts } from '../cli/interrupt.js';
import { configFlag } from '../cli/flags.js';
import { withLockedSession } from '../cli/locked.js';
import { createLog, logFormatFlag, type LogFormat } from '../cli/log.js';
import { createProgress } from '../cli/progress.js';
import { readAndPlan } from '../cli/session.js';
import { checkSafety } from '../engine/safety.js';
import { ignoredSettingsOf } from '../spec/ignored-settings.js';
import { AdsyncError } from '../errors.js';
import type { SafetySpec } from '../spec/types.js';
import type { Plan } from '../model/plan.js';
import { jsonLines } from '../render/json.js';
import { markdownLines } from '../render/markdown.js';
import { styleFor } from '../render/style.js';
import { textLines } from '../render/text.js';
import { writeLines } from '../render/write.js';
import { notAPlan, writePlanFile } from '../cli/plan-file.js';

export default class PlanCommand extends AdsyncCommand {
  static override summary = 'Show what apply would change, reading both directories live. Never writes.';
  static override description = `Reads every source (AD over LDAP, or an LDIF export) and the target tenant, computes the desired
state from the spec's scope and attribute flows, and prints the changes apply would make, sorted and
deterministic, with report items for what adsync can't or won't change (and why).
With \`writeback:\` rules the same plan also holds the Entra → AD changes (target \`ad\`: anchor, group and
attribute writeback), which apply writes over LDAP after the Entra changes.

Exit codes: 0 no changes (or changes without --detailed-exitcode), 1 error, 2 changes with --detailed-exitcode.
Report items never count as changes.`;

  static override examples = [
    { description: 'Plan the spec in the current directory', command: '<%= config.bin %> plan' },
    { description: 'Save the plan for a later `adsync apply plan.json` (it records the spec digest and a digest of every object it touches)', command: '<%= config.bin %> plan -c adsync.yaml --out plan.json' },
    { description: 'A pull-request comment', command: '<%= config.bin %> plan -c adsync.yaml --format markdown > plan.md' },
    { description: 'Drift check in a pipeline (exit 2 when anything would change)', command: '<%= config.bin %> plan -c adsync.yaml --detailed-exitcode' },
  ];

  static override flags = {
    config: configFlag,
    out: Flags.string({ char: 'o', description: 'Also save the plan as JSON (schemas/plan.schema.json) for `adsync apply PLAN`.', helpValue: 'PLAN.json' }),
    format: Flags.string({ char: 'f', description: 'Output format.', options: ['text', 'json', 'markdown'], default: 'text' }),
    'detailed-exitcode': Flags.boolean({ description: 'Exit 2 when the plan has changes (0 when none).', default: false }),
    'log-format': logFormatFlag,
  };

  async run(): Promise<Plan> {
    const { flags } = await this.parse(PlanCommand);
    const log = createLog(flags['log-format'] as LogFormat, 'plan');
    // A wrong --out (the spec, the tenant's state file) is refused before anything is read.
    if (flags.out) {
      const reason = await notAPlan(flags.out);
      if (reason !== undefined) {
        throw new AdsyncError('plan_out_exists', `refusing to write the plan to ${flags.out}: ${reason}`, { hint: 'choose another --out path (adsync only replaces an earlier saved plan)' });
      }
    }
    const progress = createProgress({ enabled: !this.jsonEnabled() && log.format === 'text', log, what: 'plan' });
    for (const w of await ignoredSettingsOf(flags.config)) log.warn(`${w.file}:${w.line}:${w.col} ${w.message}`, { event: 'spec.ignored', file: w.file, line: w.line, col: w.col });
    // Plan never writes; only the embedded tenant is locked (it is saved back when adsync exits).
    let managedMembers = 0;
    let safety: SafetySpec | undefined;
    // Ctrl-C: stop at once, saying so, with the embedded tenant's lock released (plan never writes).
    const interrupts = trapInterrupts('plan');
    let plan: Plan;
    try {
      plan = await withLockedSession(flags.config, { command: `adsync plan -c ${flags.config}`, log, lockRealTenant: false }, async (session) => {
        progress.phase('Reading the sources and the tenant');
        try {
          const out = await readAndPlan(session);
          managedMembers = out.managedMembers;
          safety = session.spec.safety;
          return out.plan;
        } finally {
          progress.stop();
        }
      });
    } finally {
      interrupts.dispose();
    }
    log.detail('plan ready', { event: 'plan.ready', summary: plan.summary, changes: plan.changes.length, out: flags.out ?? null });
    if (flags.out) await writePlanFile(flags.out, jsonLines(plan));
    // The guard rails' verdict, so a reviewer sees before apply that it needs --force (apply checks again).
    const violations = safety === undefined ? [] : checkSafety(plan, safety, { managedMembers });
    if (!this.jsonEnabled()) {
      const lines = flags.format === 'json' ? jsonLines(plan) : flags.format === 'markdown' ? markdownLines(plan) : textLines(plan, styleFor(process.stdout));
      await writeLines(process.stdout, lines);
      if (violations.length > 0 && flags.format !== 'json') {
        const head = 'Guard rails: apply will stop before any write unless run with --force:';
        const verdict = flags.format === 'markdown'
          ? ['', `> **${head}**`, ...violations.map((v) => `> - ${v.message}`)]
          : ['', head, ...violations.map((v) => `  - ${v.message}`)];
        await writeLines(process.stdout, verdict);
      }
      if (flags.out && flags.format === 'text') process.stdout.write(`\nSaved the plan to ${flags.out}. Apply exactly these changes with: adsync apply -c ${flags.config} ${flags.out}\n`);
    }
    // JSON on stdout stays the plan: the verdict goes to the log (stderr).
    if (violations.length > 0 && (flags.format === 'json' || this.jsonEnabled())) {
      log.warn(`guard rails: apply will stop before any write unless run with --force: ${violations.map((v) => v.message).join('; ')}`, { event: 'safety.verdict', violations });
    }
    if (flags['detailed-exitcode'] && plan.changes.length > 0) process.exitCode = 2;
    return plan;
  }
}
