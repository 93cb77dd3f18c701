import { createInterface } from 'node:readline/promises';
import { Args, Flags } from '@oclif/core';
import type { ApplyResult } from '../apply/types.js';
import { AdsyncCommand } from '../cli/base.js';
import { configFlag } from '../cli/flags.js';
import { assertNotStale, readSavedPlan } from '../cli/saved-plan.js';
import { readAndPlan, withSession } from '../cli/session.js';
import { checkSafety } from '../engine/safety.js';
import { AdsyncError } from '../errors.js';
import type { Plan } from '../model/plan.js';
import { styleFor } from '../render/style.js';
import { summaryLine, textLines } from '../render/text.js';
import { writeLines } from '../render/write.js';

export interface ApplyOutput {
  plan: Plan;
  result?: ApplyResult;
}

export default class ApplyCommand extends AdsyncCommand {
  static override summary = 'Make the target match the spec: apply a fresh plan, or exactly a saved one.';
  static override description = `Without PLAN, makes a fresh plan, shows it and asks for confirmation (or takes --auto-approve).
With PLAN (from \`adsync plan --out\`), applies exactly those changes after checking the plan is not stale:
the spec and every object it touches must be as they were when the plan was made.

Guard rails stop apply before any write when the plan deletes or updates more than the spec's safety
settings allow (default: 500 deletes, as Entra Connect); --force acknowledges it.
Apply is idempotent: run it again after a failure and it finishes the job.`;

  static override examples = [
    { description: 'Review and confirm interactively', command: '<%= config.bin %> apply -c adsync.yaml' },
    { description: 'Unattended, in a pipeline', command: '<%= config.bin %> apply -c adsync.yaml --auto-approve' },
    { description: 'Apply exactly the reviewed plan', command: '<%= config.bin %> apply -c adsync.yaml plan.json' },
  ];

  static override args = {
    plan: Args.string({ description: 'A saved plan (JSON) from `adsync plan --out`.', required: false }),
  };

  static override flags = {
    config: configFlag,
    'auto-approve': Flags.boolean({ description: 'Apply without asking for confirmation.', default: false }),
    force: Flags.boolean({ description: 'Apply even when the plan trips a guard rail (safety.maxDeletes and friends).', default: false }),
  };

  async run(): Promise<ApplyOutput> {
    const { args, flags } = await this.parse(ApplyCommand);
    const saved = args.plan ? await readSavedPlan(args.plan) : undefined;
    return withSession(flags.config, async (session) => {
      const { plan: fresh } = await readAndPlan(session);
      if (saved) assertNotStale(saved, fresh, session.spec.digest, args.plan!);
      const plan = saved ?? fresh;
      const style = styleFor(process.stdout);
      const quiet = this.jsonEnabled();
      if (!quiet && !saved) await writeLines(process.stdout, textLines(plan, style));
      if (plan.changes.length === 0) {
        if (!quiet && saved) process.stdout.write('No changes. Nothing to apply.\n');
        return { plan };
      }
      const violations = checkSafety(plan, session.spec.safety);
      if (violations.length > 0 && !flags.force) {
        throw new AdsyncError('safety_threshold', `apply stopped before any write: ${violations.map((v) => v.message).join('; ')}`, {
          hint: 'check the plan (an OU rename or a scope typo looks like this); if it is intended, run again with --force',
        });
      }
      if (!saved && !flags['auto-approve']) await confirm();
      if (!quiet && saved) process.stdout.write(`${summaryLine(plan)}\n`);
      const progress = process.stderr.isTTY && !quiet;
      const result = await session.target.apply(plan, {
        ...(progress ? { onProgress: (done: number, total: number) => process.stderr.write(`\rApplying: ${done}/${total}`) } : {}),
      });
      if (progress) process.stderr.write('\n');
      if (!quiet) {
        process.stdout.write(`\nApply ${result.failed.length === 0 ? 'complete' : 'finished with errors'}: ${result.applied} change(s) applied, ${result.failed.length} failed (${result.writes} writes in ${result.requests} requests, ${(result.durationMs / 1000).toFixed(1)} s).\n`);
        for (const f of result.failed) process.stderr.write(`  failed: ${f.change.kind} ${f.change.label}: ${f.operation}: ${f.message}\n`);
      }
      if (result.failed.length > 0) {
        throw new AdsyncError('apply_partial', `${result.failed.length} change(s) failed; the others were applied`, {
          hint: 'fix the cause shown above and run apply again: it picks up where this run stopped',
        });
      }
      return { plan, result };
    });
  }
}

async function confirm(): Promise<void> {
  if (!process.stdin.isTTY) {
    throw new AdsyncError('approval_needed', 'apply needs confirmation, and there is no terminal to ask', {
      hint: 'review the plan above, then run with --auto-approve, or apply a saved plan: adsync apply -c SPEC PLAN.json',
    });
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question("\nDo you want to apply these changes? Only 'yes' will be accepted: ");
  rl.close();
  if (answer.trim() !== 'yes') throw new AdsyncError('apply_cancelled', 'apply cancelled; nothing was changed');
}
