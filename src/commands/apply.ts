import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Args, Flags } from '@oclif/core';
import type { TenantMarker } from '../apply/journal.js';
import type { ApplyResult, ChangeOutcome } from '../apply/types.js';
import { AdsyncCommand } from '../cli/base.js';
import { signalExitCode, trapInterrupts, type Interrupts } from '../cli/interrupt.js';
import { configFlag, fullReadFlag } from '../cli/flags.js';
import { withLockedSession } from '../cli/locked.js';
import { openJournal } from '../state/journal.js';
import { parseDuration } from '../state/wait.js';
import { createLog, logFormatFlag, type Log, type LogFormat } from '../cli/log.js';
import { createProgress, type Progress } from '../cli/progress.js';
import { readSavedPlan } from '../cli/saved-plan.js';
import { changeKey, checkSavedPlan, furtherChanges, planDigest } from '../engine/saved-plan.js';
import { adWriters, readAndPlan, type Session } from '../cli/session.js';
import { applyPlan } from '../apply/loop.js';
import { adWritebackTarget } from '../connectors/ad/executor.js';
import { assertSafe, safetyStage } from '../engine/stages/safety.js';
import { AdsyncError } from '../errors.js';
import { summarize, type Plan } from '../model/plan.js';
import { safeText } from '../render/escape.js';
import { styleFor } from '../render/style.js';
import { summaryLine, textLines } from '../render/text.js';
import { writeLines } from '../render/write.js';

export interface ApplyOutput {
  plan: Plan;
  result?: ApplyResult;
  /** Set when this run resumed an interrupted apply of the same saved plan. */
  resumed?: { changesDoneBefore: number };
  /** Saved plans: changes a plan made now has on objects the saved plan doesn't touch (left for the next run). */
  furtherChanges?: number;
}

/** The embedded tenant's durability marker (see ApplyJournal); null for a real tenant. */
async function tenantMarker(session: Session): Promise<TenantMarker> {
  const e = session.spec.target.emulator;
  if (!e) return null;
  try {
    const s = await stat(resolve(session.spec.dir, e.state));
    return { size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return { size: -1, mtimeMs: -1 };
  }
}

export default class ApplyCommand extends AdsyncCommand {
  static override summary = 'Make the target match the spec: apply a fresh plan, or exactly a saved one.';
  static override description = `Without PLAN, makes a fresh plan, shows it and asks for confirmation (or takes --auto-approve).
With PLAN (from \`adsync plan --out\`), applies exactly those changes after checking the plan is not stale:
the spec and every object it touches must be as they were when the plan was made.

Guard rails stop apply before any write when the plan deletes, updates or removes memberships beyond the
spec's safety settings (defaults: 500 deletes as Entra Connect, 50% of the managed objects, 500 membership
removals, 50% of the managed memberships); --force acknowledges it. Ctrl-C during the writes finishes the
requests in flight, journals them and releases the lock (exit 130): run the same command again to resume.
One apply per tenant at a time: a lock file in the state directory, or with \`state: { azureBlob }\` a blob
lease that holds across pipeline runners. A second apply fails naming the holder, or waits --lock-timeout;
\`adsync unlock RUN_ID\` frees the lock of a run that is gone. Every finished change is journaled (in the
same state): an apply of a saved plan that was killed or failed part-way is simply run again, on any runner
sharing the state, and it resumes.`;

  static override examples = [
    { description: 'Review and confirm interactively', command: '<%= config.bin %> apply -c adsync.yaml' },
    { description: 'Unattended, in a pipeline', command: '<%= config.bin %> apply -c adsync.yaml --auto-approve' },
    {
      description: 'Apply exactly the reviewed plan (run it again to resume after an interruption)',
      command: '<%= config.bin %> apply -c adsync.yaml plan.json',
    },
    {
      description: 'Wait up to 10 minutes for another apply to finish instead of failing',
      command: '<%= config.bin %> apply -c adsync.yaml plan.json --lock-timeout 10m',
    },
    {
      description: 'JSON logs on stderr for a pipeline',
      command: '<%= config.bin %> apply -c adsync.yaml plan.json --log-format json',
    },
  ];

  static override args = {
    plan: Args.string({ description: 'A saved plan (JSON) from `adsync plan --out`.', required: false }),
  };

  static override flags = {
    config: configFlag,
    full: fullReadFlag,
    'auto-approve': Flags.boolean({ description: 'Apply without asking for confirmation.', default: false }),
    force: Flags.boolean({
      description: 'Apply even when the plan trips a guard rail (safety.maxDeletes and friends).',
      default: false,
    }),
    'lock-timeout': Flags.string({
      description:
        'When another apply holds the lock, wait this long for it (e.g. 90s, 10m) instead of failing at once.',
      default: '0',
      helpValue: 'DURATION',
    }),
    'log-format': logFormatFlag,
  };

  async run(): Promise<ApplyOutput> {
    const { args, flags } = await this.parse(ApplyCommand);
    const quiet = this.jsonEnabled();
    const log = createLog(flags['log-format'] as LogFormat, 'apply');
    const progress = createProgress({ enabled: !quiet && log.format === 'text', log, what: 'apply' });
    const lockTimeoutMs = parseDuration(flags['lock-timeout']);
    if (lockTimeoutMs === undefined)
      throw new AdsyncError('usage', `--lock-timeout ${flags['lock-timeout']}: not a duration`, {
        hint: 'a number of seconds, or with a unit: 90s, 10m, 1h',
      });
    const saved = args.plan ? await readSavedPlan(args.plan) : undefined;
    const out = (text: string): void => {
      if (!quiet) process.stdout.write(text);
    };
    const interrupts = trapInterrupts('apply');
    try {
      return await this.applyLocked(
        args.plan,
        saved,
        { ...flags, lockTimeoutMs },
        { quiet, log, progress, out, interrupts },
      );
    } finally {
      interrupts.dispose();
    }
  }

  private applyLocked(
    planPath: string | undefined,
    saved: Plan | undefined,
    flags: { config: string; full: boolean; 'auto-approve': boolean; force: boolean; lockTimeoutMs: number },
    {
      quiet,
      log,
      progress,
      out,
      interrupts,
    }: { quiet: boolean; log: Log; progress: Progress; out: (text: string) => void; interrupts: Interrupts },
  ): Promise<ApplyOutput> {
    const args = { plan: planPath };
    return withLockedSession(
      flags.config,
      {
        command: `adsync apply -c ${flags.config}${args.plan ? ` ${args.plan}` : ''}`,
        log,
        lockRealTenant: true,
        full: flags.full,
        lockTimeoutMs: flags.lockTimeoutMs,
      },
      async (session, { stateDir, remote, lease }) => {
        progress.phase('Reading the sources and the tenant');
        const {
          plan: fresh,
          targetSnapshot,
          adSnapshot,
          desired,
          managedMembers,
          violations: freshViolations,
        } = await readAndPlan(session);
        progress.stop();
        for (const w of desired.warnings ?? []) log.warn(w, { event: 'scope.unmatched' });
        const marker = await tenantMarker(session);
        const journal = await openJournal({ stateDir, remote, lock: lease }, planDigest(saved ?? fresh), marker);
        const resumed = saved !== undefined && journal.state.resumed;
        const plan = saved
          ? checkSavedPlan({
              saved,
              fresh,
              snapshot: targetSnapshot,
              ...(adSnapshot ? { adSnapshot } : {}),
              specDigest: session.spec.digest,
              path: args.plan!,
              ...(resumed ? { resume: { done: journal.state.done, createdIds: journal.state.createdIds } } : {}),
            })
          : fresh;
        if (saved && journal.state.complete && plan.changes.length > 0) {
          throw new AdsyncError(
            'plan_stale',
            `the saved plan ${args.plan} was applied already, and ${plan.changes.length} of its objects changed since`,
            {
              hint: 'run `adsync plan --out` again and review the new plan',
            },
          );
        }
        const reviewed = saved ?? fresh;
        const further = saved ? furtherChanges(saved, fresh).length : 0;
        if (further > 0) {
          log.info(
            `${further} further change${further === 1 ? '' : 's'} since the plan; run plan again (not in the saved plan, so left for the next run)`,
            { event: 'plan.further', further },
          );
        }
        log.detail('plan ready', {
          event: 'plan.ready',
          saved: saved !== undefined,
          summary: reviewed.summary,
          changes: reviewed.changes.length,
        });
        if (resumed && !journal.state.complete) {
          log.info(
            `Resuming an interrupted apply of ${args.plan}: ${journal.state.done.size} of ${saved.changes.length} change(s) finished before; ${plan.changes.length} left to apply.`,
            {
              event: 'apply.resume',
              journal: journal.path,
              doneBefore: journal.state.done.size,
              planned: saved.changes.length,
              left: plan.changes.length,
            },
          );
        }
        const style = styleFor(process.stdout);
        if (!quiet && !saved) await writeLines(process.stdout, textLines(plan, style));
        const result: ApplyOutput = {
          plan,
          ...(resumed ? { resumed: { changesDoneBefore: journal.state.done.size } } : {}),
          ...(saved ? { furtherChanges: further } : {}),
        };
        if (plan.changes.length === 0) {
          if (saved)
            out(
              journal.state.complete
                ? `Nothing left to apply: ${args.plan} was applied already.\n`
                : resumed
                  ? 'Nothing left to apply: the interrupted apply had finished every change.\n'
                  : 'No changes. Nothing to apply.\n',
            );
          await journal.complete();
          log.info('nothing to apply', { event: 'apply.done', applied: 0, failed: 0 });
          return result;
        }
        // Guard rails look at the whole reviewed plan, so resuming a forced apply needs --force again. A fresh
        // plan carries planFor's verdict; a saved one is judged by the same stage from its changes and the
        // tenant as read now (its own counts are not trusted).
        const violations = saved
          ? safetyStage(
              { changes: saved.changes, summary: summarize(saved.changes, saved.reports), managed: fresh.managed },
              session.spec.safety,
              managedMembers,
            )
          : freshViolations;
        if (violations.length > 0) {
          const message = violations.map((v) => v.message).join('; ');
          if (!flags.force)
            log.error(`apply stopped before any write: ${message}`, { event: 'safety.stop', violations });
          else log.warn(`--force: applying although ${message}`, { event: 'safety.forced', violations });
        }
        assertSafe(violations, flags.force);
        if (!saved && !flags['auto-approve']) await confirm();
        if (saved) out(`${summaryLine(plan)}\n`);
        // From the first write on, Ctrl-C finishes what is in flight, journals it and says how to resume.
        interrupts.graceful();
        await journal.begin(plan.changes.length, marker);
        log.detail('apply started', { event: 'apply.start', changes: plan.changes.length, journal: journal.path });
        progress.phase('Applying');
        let applied: ApplyResult;
        const total = plan.changes.length;
        const onChange = (event: ChangeOutcome): void => journal.record(event, changeKey(event.change));
        const signal = interrupts.signal;
        const writers = adWriters(session.spec);
        try {
          applied = await applyPlan({ entra: session.target, ad: adWritebackTarget(writers) }, plan, {
            onProgress: (done) => progress.update(done, total),
            onChange,
            signal,
          });
        } catch (err) {
          progress.stop('failed');
          await journal.close().catch(() => undefined); // the first error is the one to report
          throw err;
        } finally {
          await writers.close();
        }
        progress.stop(signal.aborted ? 'interrupted' : undefined);
        // The embedded tenant is durable only once saved: a full disk must fail this apply, not pass silently.
        if (session.emulator) await session.emulator.save();
        result.result = applied;
        if (signal.aborted) {
          await journal.close();
          const left = total - applied.applied - applied.failed.length - applied.skipped.length;
          log.detail(
            `apply interrupted: ${applied.applied} of ${total} change(s) applied, ${applied.failed.length} failed, ${left} not started`,
            {
              event: 'apply.interrupted',
              signal: interrupts.received,
              applied: applied.applied,
              failed: applied.failed.length,
              notStarted: left,
              journal: journal.path,
            },
          );
          throw new AdsyncError(
            'apply_interrupted',
            `interrupted (${interrupts.received ?? 'signal'}): ${applied.applied} of ${total} change(s) applied, ${applied.failed.length} failed, ${left} not started; the lock is released`,
            {
              exitCode: signalExitCode(interrupts.received),
              hint: args.plan
                ? `run the same command again (adsync apply -c ${flags.config} ${args.plan}): it resumes where this run stopped`
                : `run adsync apply -c ${flags.config} again: the next plan starts from where this run stopped`,
            },
          );
        }
        out(
          `\nApply ${applied.failed.length === 0 ? 'complete' : 'finished with errors'}: ${applied.applied} change(s) applied, ${applied.failed.length} failed (${applied.writes} writes in ${applied.requests} requests, ${(applied.durationMs / 1000).toFixed(1)} s).\n`,
        );
        for (const f of applied.failed) {
          if (!quiet && log.format === 'text')
            process.stderr.write(
              `  failed: ${f.change.kind} ${safeText(f.change.label)}: ${f.operation}: ${safeText(f.message)}\n`,
            );
          log.detail('change failed', {
            event: 'apply.failed',
            kind: f.change.kind,
            label: f.change.label,
            anchor: f.change.anchor,
            operation: f.operation,
            message: f.message,
          });
        }
        log.detail('apply finished', {
          event: 'apply.done',
          applied: applied.applied,
          failed: applied.failed.length,
          skipped: applied.skipped.length,
          writes: applied.writes,
          requests: applied.requests,
          durationMs: applied.durationMs,
        });
        if (applied.failed.length > 0) {
          await journal.close();
          throw new AdsyncError('apply_partial', `${applied.failed.length} change(s) failed; the others were applied`, {
            hint: `fix the cause shown above and run the same command again: it picks up where this run stopped`,
          });
        }
        await journal.complete();
        return result;
      },
    );
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
