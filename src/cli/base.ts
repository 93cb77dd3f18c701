/**
 * The one base command: maps every error to one clear line plus a hint and an exit code; stack traces only
 * with --debug. `--json` prints the typed result that `run()` returns (oclif's enableJsonFlag).
 */
import { Command, Flags, Errors } from '@oclif/core';
import { AdsyncError, describeFsError, SpecError } from '../errors.js';
import { escapeUnsafe } from '../render/escape.js';
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
    debug: Flags.boolean({
      description: 'Print stack traces and debug details on errors.',
      default: false,
      helpGroup: 'GLOBAL',
    }),
  };

  override async init(): Promise<void> {
    await super.init();
    guardOutput();
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    // oclif's own exits (help, version, parse errors) keep their behaviour.
    if (err instanceof Errors.ExitError) throw err;
    const debug = this.argv.includes('--debug');
    // As terraform: every error exits 1, usage errors too (oclif's 2 is --detailed-exitcode's "changes").
    const exitCode = err instanceof AdsyncError ? err.exitCode : 1;
    process.exitCode = exitCode;
    const code =
      err instanceof AdsyncError
        ? err.code
        : isUsageError(err)
          ? 'usage'
          : ((err as { code?: string }).code ?? 'unexpected');
    if (this.jsonEnabled()) {
      this.logJson({
        status: exitCode,
        error: {
          code,
          message: redact(err.message),
          ...(err instanceof AdsyncError && err.hint ? { hint: err.hint } : {}),
          ...(err instanceof SpecError ? { problems: err.problems } : {}),
        },
      });
      return;
    }
    if (jsonLogRequested(this.argv)) {
      // --log-format json: the error is one more JSON line on stderr (a usage error comes before flags are parsed).
      const line = {
        level: 'error',
        time: new Date().toISOString(),
        command: this.id ?? null,
        event: 'error',
        code,
        msg: redact(err.message),
        ...(err instanceof AdsyncError && err.hint ? { hint: redact(err.hint) } : {}),
        ...(err instanceof SpecError
          ? { problems: err.problems.map((p) => ({ ...p, message: redact(p.message) })) }
          : {}),
        ...(debug && err.stack ? { stack: redact(err.stack) } : {}),
      };
      process.stderr.write(`${JSON.stringify(line)}\n`);
      return;
    }
    if (err instanceof SpecError) {
      for (const p of err.problems) process.stderr.write(`${p.file}:${p.line}:${p.col} ${redact(p.message)}\n`);
    } else {
      const prefix = err instanceof AdsyncError || err instanceof Errors.CLIError ? 'Error' : 'Error (unexpected)';
      // Messages can quote directory values: escape codes in them are shown, not run (render/escape.ts).
      const lines = err.message.split('\n').map((l) => escapeUnsafe(l));
      process.stderr.write(`${prefix}: ${redact(lines[0] ?? '')}\n`);
      for (const extra of lines.slice(1)) process.stderr.write(`  ${redact(extra)}\n`);
    }
    const hint = err instanceof AdsyncError ? err.hint : undefined;
    if (hint) process.stderr.write(`Hint: ${redact(hint)}\n`);
    else if (!(err instanceof AdsyncError) && !(err instanceof Errors.CLIError) && !debug)
      process.stderr.write('Hint: run again with --debug for details\n');
    if (debug && err.stack) process.stderr.write(`${redact(err.stack)}\n`);
  }
}

/** oclif's parse errors (unknown flag, bad option value, missing argument): the user's command line. */
function isUsageError(err: Error): boolean {
  return err instanceof Errors.CLIError && (err as { oclif?: { exit?: number } }).oclif?.exit === 2;
}

function jsonLogRequested(argv: readonly string[]): boolean {
  const i = argv.lastIndexOf('--log-format');
  return argv.includes('--log-format=json') || (i >= 0 && argv[i + 1] === 'json');
}
