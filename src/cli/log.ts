/**
 * Logs go to stderr, so stdout stays the plan (text, JSON or markdown) a pipeline pipes or posts.
 *   --log-format text (default)  a few human lines: warnings, and what apply decided (lock, resume).
 *   --log-format json            one JSON object per line (pino), for a pipeline's log search:
 *                                {"level":"info","time":"…","command":"apply","event":"apply.progress",…}
 * Every line passes through `redact` (src/cli/redact.ts) on its way out, whatever the format, so a secret
 * that reaches a message or a field is replaced before it is written.
 */
import { Flags } from '@oclif/core';
import { pino, type Logger } from 'pino';
import { redact } from './redact.js';

export type LogFormat = 'text' | 'json';

export const logFormatFlag = Flags.string({
  description: 'Log format on stderr: text, or json (one JSON object per line) for pipelines.',
  options: ['text', 'json'],
  default: 'text',
  helpGroup: 'GLOBAL',
});

export type LogFields = Record<string, unknown> & { event: string };

export interface Log {
  readonly format: LogFormat;
  info(msg: string, fields: LogFields): void;
  warn(msg: string, fields: LogFields): void;
  error(msg: string, fields: LogFields): void;
  /** Only in JSON logs (machine detail a person doesn't need on a terminal). */
  detail(msg: string, fields: LogFields): void;
}

export function createLog(format: LogFormat, command: string): Log {
  if (format === 'json') {
    const logger: Logger = pino(
      {
        base: { command },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        hooks: { streamWrite: (s: string) => redact(s) },
      },
      // Synchronous, so a killed or failing run has logged everything up to that point.
      pino.destination({ dest: 2, sync: true }),
    );
    return {
      format,
      info: (msg, fields) => logger.info(fields, msg),
      warn: (msg, fields) => logger.warn(fields, msg),
      error: (msg, fields) => logger.error(fields, msg),
      detail: (msg, fields) => logger.info(fields, msg),
    };
  }
  const line = (prefix: string, msg: string): void => {
    process.stderr.write(`${prefix}${redact(msg)}\n`);
  };
  return {
    format,
    info: (msg) => line('', msg),
    warn: (msg) => line('Warning: ', msg),
    error: (msg) => line('Error: ', msg),
    detail: () => undefined,
  };
}

/** A log that writes nothing (library callers, --json). */
export const silentLog: Log = {
  format: 'text',
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  detail: () => undefined,
};
