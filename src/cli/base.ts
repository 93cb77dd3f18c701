/**
 * The one base command: maps every error to one clear line plus a hint and an exit code; stack traces only
 * with --debug. `--json` prints the typed result that `run()` returns (oclif's enableJsonFlag).
 */
import { Command, Flags, Errors } from '@oclif/core';
import { AdsyncError, describeFsError, SpecError } from '../errors.js';
import { redact } from './redact.js';

let outputGuarded = false;

/**
 * stdout that can't be written: a reader that went away (`adsync plan | head -1`) ends adsync quietly, as
 * terraform does; anything else (a full disk behind `> plan.txt`) is one line on stderr and exit 1, never a
 * stack trace or Node's "unsettled top-level await" exit 13.
 */
function guardOutput(): void {
  if (outputGuarded) return;
  outputGuarded = true;
  // oclif's own listener swallows EPIPE (leaving writes waiting forever) and rethrows the rest as a crash.
  process.stdout.removeAllListeners('error');
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    try {
      process.stderr.write(`Error: cannot write the output: ${describeFsError(err)}\n`);
    } finally {
      process.exit(1);
    }
  });
}

export abstract class AdsyncCommand extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    debug: Flags.boolean({ description: 'Print stack traces and debug details on errors.', default: false, helpGroup: 'GLOBAL' }),
  };

  override async init(): Promise<void> {
    await super.init();
    guardOutput();
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    // oclif's own exits (help, version, parse errors) keep their behaviour.
    if (err instanceof Errors.ExitError) throw err;
    const debug = this.argv.includes('--debug');
    const exitCode = err instanceof AdsyncError ? err.exitCode : (err.oclif?.exit ?? 1);
    process.exitCode = exitCode;
    if (this.jsonEnabled()) {
      this.logJson({
        status: exitCode,
        error: {
          code: err instanceof AdsyncError ? err.code : (err as { code?: string }).code ?? 'error',
          message: redact(err.message),
          ...(err instanceof AdsyncError && err.hint ? { hint: err.hint } : {}),
          ...(err instanceof SpecError ? { problems: err.problems } : {}),
        },
      });
      return;
    }
    if (err instanceof SpecError) {
      for (const p of err.problems) process.stderr.write(`${p.file}:${p.line}:${p.col} ${redact(p.message)}\n`);
    } else {
      const prefix = err instanceof AdsyncError || err instanceof Errors.CLIError ? 'Error' : 'Error (unexpected)';
      process.stderr.write(`${prefix}: ${redact(err.message.split('\n')[0] ?? '')}\n`);
      for (const extra of err.message.split('\n').slice(1)) process.stderr.write(`  ${redact(extra)}\n`);
    }
    const hint = err instanceof AdsyncError ? err.hint : undefined;
    if (hint) process.stderr.write(`Hint: ${redact(hint)}\n`);
    else if (!(err instanceof AdsyncError) && !(err instanceof Errors.CLIError) && !debug) process.stderr.write('Hint: run again with --debug for details\n');
    if (debug && err.stack) process.stderr.write(`${redact(err.stack)}\n`);
  }
}
