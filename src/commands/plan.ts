import { writeFile } from 'node:fs/promises';
import { Flags } from '@oclif/core';
import { AdsyncCommand } from '../cli/base.js';
import { trapInterrupts } from '../cli/interrupt.js';
import { configFlag, fullReadFlag } from '../cli/flags.js';
import { withLockedSession } from '../cli/locked.js';
import { createLog, logFormatFlag, type LogFormat } from '../cli/log.js';
import { createProgress } from '../cli/progress.js';
import { planToShow } from '../cli/session.js';
import type { SafetyViolation } from '../engine/stages/safety.js';
import { ignoredSettingsOf } from '../spec/ignored-settings.js';
import { AdsyncError } from '../errors.js';
import type { Plan } from '../model/plan.js';
import { jsonLines } from '../render/json.js';
import { GITHUB_COMMENT_LIMIT, markdownLines, markdownParts, type MarkdownOptions } from '../render/markdown.js';
import { repoRelativePath } from '../render/repo-path.js';
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
    {
      description:
        'Save the plan for a later `adsync apply plan.json` (it records the spec digest and a digest of every object it touches)',
      command: '<%= config.bin %> plan -c adsync.yaml --out plan.json',
    },
    {
      description: "A pull-request comment (at most 65,536 characters, whatever the plan's size)",
      command: '<%= config.bin %> plan -c adsync.yaml --format markdown > plan.md',
    },
    {
      description: 'In a pipeline: the text plan, the saved plan and the comment from one read',
      command:
        '<%= config.bin %> plan -c adsync.yaml --out plan.json --markdown comment.md --full-plan "$RUN_URL" > plan.txt',
    },
    {
      description: 'The whole plan as several comments (comment.1.md, comment.2.md, …)',
      command: '<%= config.bin %> plan -c adsync.yaml --markdown comment.md --split --max-length 65536',
    },
    {
      description: 'Drift check in a pipeline (exit 2 when anything would change)',
      command: '<%= config.bin %> plan -c adsync.yaml --detailed-exitcode',
    },
  ];

  static override flags = {
    config: configFlag,
    full: fullReadFlag,
    out: Flags.string({
      char: 'o',
      description: 'Also save the plan as JSON (schemas/plan.schema.json) for `adsync apply PLAN`.',
      helpValue: 'PLAN.json',
    }),
    format: Flags.string({
      char: 'f',
      description: 'Output format.',
      options: ['text', 'json', 'markdown'],
      default: 'text',
    }),
    markdown: Flags.string({
      description: 'Also write the plan as a pull-request comment (markdown) to this file.',
      helpValue: 'FILE',
    }),
    'max-length': Flags.integer({
      description: 'Markdown: the longest comment, in characters (GitHub refuses more than 65,536).',
      default: GITHUB_COMMENT_LIMIT,
      min: 2000,
    }),
    split: Flags.boolean({
      description:
        'Markdown: write every change as several comments (FILE.1.md, FILE.2.md, …) instead of one summarized comment; needs --markdown FILE.',
      default: false,
    }),
    'full-plan': Flags.string({
      description:
        'Markdown: where the full plan is (a URL, or the artifact name the pipeline uploads); default the --out file.',
      helpValue: 'URL|FILE',
    }),
    'detailed-exitcode': Flags.boolean({
      description: 'Exit 2 when the plan has changes (0 when none).',
      default: false,
    }),
    'log-format': logFormatFlag,
  };

  async run(): Promise<Plan> {
    const { flags } = await this.parse(PlanCommand);
    if (flags.split && !flags.markdown)
      throw new AdsyncError('usage', '--split writes the comments to files: it needs --markdown FILE', {
        hint: 'e.g. adsync plan --markdown comment.md --split (writes comment.1.md, comment.2.md, …)',
      });
    const log = createLog(flags['log-format'] as LogFormat, 'plan');
    // A wrong --out (the spec, the tenant's state file) is refused before anything is read.
    if (flags.out) {
      const reason = await notAPlan(flags.out);
      if (reason !== undefined) {
        throw new AdsyncError('plan_out_exists', `refusing to write the plan to ${flags.out}: ${reason}`, {
          hint: 'choose another --out path (adsync only replaces an earlier saved plan)',
        });
      }
    }
    const progress = createProgress({ enabled: !this.jsonEnabled() && log.format === 'text', log, what: 'plan' });
    for (const w of await ignoredSettingsOf(flags.config))
      log.warn(`${w.file}:${w.line}:${w.col} ${w.message}`, {
        event: 'spec.ignored',
        file: w.file,
        line: w.line,
        col: w.col,
      });
    let markdown: MarkdownOptions = {};
    let violations: readonly SafetyViolation[] = [];
    // Ctrl-C: stop at once, saying so, with the embedded tenant's lock released (plan never writes).
    const interrupts = trapInterrupts('plan');
    let plan: Plan;
    try {
      // Plan never writes; only the embedded tenant is locked (it is saved back when adsync exits).
      plan = await withLockedSession(
        flags.config,
        {
          command: `adsync plan -c ${flags.config}`,
          log,
          lockRealTenant: false,
          full: flags.full,
          reusePlan: true,
        },
        async (session) => {
          progress.phase('Reading the sources and the tenant');
          try {
            const { plan, warnings, admins, violations: verdict } = await planToShow(session);
            for (const w of session.spec.warnings ?? [])
              log.warn(`${w.file}:${w.line}:${w.col} ${w.message}`, {
                event: 'spec.warning',
                file: w.file,
                line: w.line,
                col: w.col,
              });
            for (const w of warnings) log.warn(w, { event: 'scope.unmatched' });
            violations = verdict;
            markdown = {
              safety: session.spec.safety,
              violations,
              specPath: repoRelativePath(session.spec.file, session.specPath),
              admins,
              maxLength: flags['max-length'],
              ...((flags['full-plan'] ?? flags.out) ? { fullPlan: (flags['full-plan'] ?? flags.out)! } : {}),
            };
            return plan;
          } finally {
            progress.stop();
          }
        },
      );
    } finally {
      interrupts.dispose();
    }
    log.detail('plan ready', {
      event: 'plan.ready',
      summary: plan.summary,
      changes: plan.changes.length,
      out: flags.out ?? null,
    });
    if (flags.out) await writePlanFile(flags.out, jsonLines(plan));
    if (flags.markdown) await writeMarkdown(flags.markdown, plan, markdown, flags.split);
    // The guard rails' verdict: text and markdown carry it in the plan itself; JSON on stdout stays the plan,
    // so there the verdict goes to the log (stderr). Apply checks again from what it reads.
    if (!this.jsonEnabled()) {
      const lines =
        flags.format === 'json'
          ? jsonLines(plan)
          : flags.format === 'markdown'
            ? markdownLines(plan, markdown)
            : textLines(plan, styleFor(process.stdout), violations);
      await writeLines(process.stdout, lines);
      if (flags.out && flags.format === 'text')
        process.stdout.write(
          `\nSaved the plan to ${flags.out}. Apply exactly these changes with: adsync apply -c ${flags.config} ${flags.out}\n`,
        );
    }
    // JSON on stdout stays the plan: the verdict goes to the log (stderr).
    if (violations.length > 0 && (flags.format === 'json' || this.jsonEnabled())) {
      log.warn(
        `guard rails: apply will stop before any write unless run with --force: ${violations.map((v) => v.message).join('; ')}`,
        { event: 'safety.verdict', violations },
      );
    }
    if (flags['detailed-exitcode'] && plan.changes.length > 0) process.exitCode = 2;
    return plan;
  }
}

/** The comment, or with --split every part of the whole plan (FILE.1.md, FILE.2.md, …). */
async function writeMarkdown(path: string, plan: Plan, options: MarkdownOptions, split: boolean): Promise<void> {
  const base = path.replace(/\.md$/i, '');
  const files: [string, string][] = split
    ? markdownParts(plan, options).map((text, i) => [`${base}.${i + 1}.md`, text])
    : [[path, `${markdownLines(plan, options).join('\n')}\n`]];
  for (const [file, text] of files) {
    try {
      await writeFile(file, text);
    } catch (err) {
      throw new AdsyncError(
        'plan_write',
        `cannot write the markdown plan to ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }
}
