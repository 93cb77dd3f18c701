/**
 * Settings and secrets are resolved when a connector needs them, not when the spec is loaded, so that
 * `adsync validate` works without credentials. Every resolved secret is registered for redaction.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { AdsyncError } from '../errors.js';
import { registerSecret } from '../cli/redact.js';
import type { SecretRef, ValueRef } from './types.js';
import { looksLikePath } from './secret-rules.js';

/** A setting's value: the literal, or the environment variable it names. `where` is the spec path, for errors. */
export function resolveValue(ref: ValueRef, where: string, env: NodeJS.ProcessEnv = process.env): string {
  if (typeof ref === 'string') return ref;
  const value = env[ref.env];
  if (value === undefined || value === '') {
    throw new AdsyncError('env_missing', `${where}: environment variable ${ref.env} is not set`, {
      hint: `export ${ref.env}=... before running adsync, or write the value in the spec`,
    });
  }
  return value;
}

export function resolveOptional(
  ref: ValueRef | undefined,
  where: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return ref === undefined ? undefined : resolveValue(ref, where, env);
}

/** A path setting, resolved against the spec's directory when relative. */
export function resolvePathValue(
  ref: ValueRef,
  where: string,
  specDir: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const p = resolveValue(ref, where, env);
  return isAbsolute(p) ? p : resolvePath(specDir, p);
}

/** A secret's value, from an environment variable or a file (trailing newline trimmed). Registered for redaction. */
export async function readSecret(
  ref: SecretRef,
  where: string,
  specDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  let value: string;
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined || v === '') {
      throw new AdsyncError('secret_missing', `${where}: environment variable ${ref.env} is not set`, {
        hint: `export ${ref.env} (from your pipeline's secret store) before running adsync`,
      });
    }
    value = v;
  } else {
    const path = isAbsolute(ref.file) ? ref.file : resolvePath(specDir, ref.file);
    try {
      value = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      // A `file:` value without a / or \ may be a pasted password: name the place, not the value.
      const what = looksLikePath(ref.file)
        ? `secret file ${path}`
        : 'the secret file it names (not shown: it does not look like a path; was the secret itself pasted there?)';
      throw new AdsyncError(
        'secret_unreadable',
        `${where}: cannot read ${what}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        {
          hint: 'check the path (relative paths are relative to the spec file, e.g. ./secrets/ldap-password) and its permissions',
        },
      );
    }
  }
  registerSecret(value);
  return value;
}
