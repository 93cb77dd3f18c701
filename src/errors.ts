/**
 * One error type per failure mode. Every error carries a stable code (one entry each in the error catalogue,
 * src/errors/catalogue.ts), the exit code the CLI returns, and a hint for the person reading it. Commands never print stack traces for these (unless --debug).
 */
import { errorEntry } from './errors/catalogue.js';

export { ERROR_CATALOGUE, errorEntry, type ErrorCode, type ErrorEntry } from './errors/catalogue.js';

export class AdsyncError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly hint: string | undefined;
  constructor(code: string, message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AdsyncError';
    this.code = code;
    // The catalogue (src/errors/catalogue.ts) gives the exit code and a default hint per code.
    const entry = errorEntry(code);
    this.exitCode = options.exitCode ?? entry?.exitCode ?? 1;
    this.hint = options.hint ?? entry?.hint;
  }
}

/** A position in a spec file, 1-based as editors show it. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

export interface SpecProblem extends SourcePosition {
  message: string;
}

/** The spec is invalid: every problem at once, each with its position. */
export class SpecError extends AdsyncError {
  readonly problems: SpecProblem[];
  constructor(problems: SpecProblem[]) {
    const first = problems[0];
    super(
      'spec_invalid',
      problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.message}`).join('\n') || 'invalid spec',
      first
        ? {
            hint: `fix the problems above; \`adsync validate -c ${first.file}\` checks the spec without reading any directory`,
          }
        : {},
    );
    this.problems = problems;
  }
}

/** A source directory (LDAP or LDIF) could not be read. */
export class SourceError extends AdsyncError {
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/** The target (Graph) refused or failed. */
export class TargetError extends AdsyncError {
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

const FS_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for the file system (or the process file size limit)',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such directory',
  ENOTDIR: 'a parent of the path is not a directory',
  EISDIR: 'it is a directory',
  EIO: 'I/O error',
};

/** `ENOSPC (no space left on the device)`: the code for searching, the words for reading. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return err instanceof Error ? err.message : String(err);
  const words = FS_ERRORS[code];
  return words ? `${code} (${words})` : code;
}

/**
 * A licence rule can't be planned against this tenant: an SKU or service plan it names isn't subscribed, or
 * the assignments it wants need more seats than are free (stopped at plan time, before any write).
 */
export class LicenseError extends AdsyncError {
  constructor(code: string, message: string, options: { hint?: string } = {}) {
    super(code, message, options);
  }
}
